#include "engine/latency_histogram.h"

#include <gtest/gtest.h>

namespace orderlog {
namespace {

using std::chrono::microseconds;

TEST(LatencyHistogramTest, EachObservationLandsInTheFirstBucketThatCoversIt) {
  LatencyHistogram h;
  h.Observe(microseconds(0));
  h.Observe(microseconds(25));          // a bound belongs to its own bucket
  h.Observe(microseconds(26));          // just above: the next one
  h.Observe(microseconds(999999));      // (750 ms, 1 s]
  h.Observe(std::chrono::seconds(10));  // above every bound
  const auto s = h.Read();
  EXPECT_EQ(s.counts[0], 2u);
  EXPECT_EQ(s.counts[1], 1u);
  EXPECT_EQ(s.counts[LatencyHistogram::BucketOf(1000000)], 1u);
  EXPECT_EQ(s.counts.back(), 1u);
  EXPECT_EQ(s.count(), 5u);
  EXPECT_EQ(s.sum_micros, 25u + 26u + 999999u + 10000000u);
}

TEST(LatencyHistogramTest, PercentilesInterpolateInsideTheirBucket) {
  LatencyHistogram h;
  for (int i = 0; i < 100; ++i) h.Observe(microseconds(110));  // all in (100, 125]
  const auto s = h.Read();
  EXPECT_DOUBLE_EQ(s.PercentileMicros(0.5), 112.5);
  EXPECT_DOUBLE_EQ(s.PercentileMicros(1.0), 125);
  EXPECT_DOUBLE_EQ(LatencyHistogram::Snapshot{}.PercentileMicros(0.99), 0);

  LatencyHistogram split;
  for (int i = 0; i < 99; ++i) split.Observe(microseconds(40));  // (25, 50]
  split.Observe(microseconds(3000000));                          // beyond the last bound
  const auto t = split.Read();
  EXPECT_GT(t.PercentileMicros(0.5), 25);
  EXPECT_LE(t.PercentileMicros(0.99), 50);
  EXPECT_EQ(t.PercentileMicros(1.0), LatencyHistogram::kBoundMicros.back());
}

TEST(LatencyHistogramTest, SinceIsWhatWasObservedInBetween) {
  LatencyHistogram h;
  h.Observe(microseconds(10));
  const auto before = h.Read();
  h.Observe(microseconds(400));
  h.Observe(microseconds(400));
  const auto d = h.Read().Since(before);
  EXPECT_EQ(d.count(), 2u);
  EXPECT_EQ(d.counts[0], 0u);
  EXPECT_EQ(d.counts[LatencyHistogram::BucketOf(400)], 2u);
  EXPECT_EQ(d.sum_micros, 800u);
}

}  // namespace
}  // namespace orderlog
