// The fail-the-Nth-I/O loop over a whole order workload (SQLite's I/O-error loops, leveldb's
// fault_injection_test): creates with and without idempotency keys, status changes, roll-overs
// (4 KiB segments), snapshots taken during the run and at close. For N = 1, 2, ... until the
// workload runs out of operations:
//   - Fail: the Nth write / fdatasync / rename fails (a full disk for every other N, with part of
//     the write landing); the workload goes on, the service closes; then power is lost (whatever
//     was not synced is dropped or torn).
//   - Crash: the process dies at the Nth operation (it and everything after it never reach the
//     disk); then power is lost.
// After each run, on a healthy disk: the service opens, every acknowledged event is there with its
// content, positions are gap-free, stream versions consecutive, no partial event is visible, the
// read model (snapshot + tail) equals a fold of the log, acknowledged idempotency keys still
// answer with their order, and the service takes new commands.
#include <map>
#include <string>
#include <vector>

#include "tests/domain/domain_test_util.h"
#include "tests/support/fault_env.h"
#include "tests/support/test_util.h"

namespace orderlog::testing {
namespace {

using domain::OrderStatus;

struct Acked {
  std::vector<std::string> ids;                                  // in creation order
  std::map<std::string, std::vector<OrderStatus>> status_after;  // [v-1]: status after version v
  std::map<std::string, std::pair<std::string, domain::CreateCommand>> keys;  // key -> id, body
};

bool IsWriteRefusal(StatusCode c) {
  return c == StatusCode::kReadOnly || c == StatusCode::kNoSpace || c == StatusCode::kIOError ||
         c == StatusCode::kClosed;
}

domain::ServiceOptions Options(const std::string& dir, Env* env) {
  auto o = QuietOptions(dir);
  o.log.env = env;
  o.log.segment_size = 4096;
  o.snapshot_every = 0;  // snapshots are taken by the workload, so the Nth operation is the same
  o.snapshot_on_close = true;
  return o;
}

// Runs the workload; records what was acknowledged. Every refusal must be one a failing disk
// explains.
void RunWorkload(domain::OrderService* svc, Acked* acked) {
  for (int i = 0; i < 90; ++i) {
    if (i % 30 == 29) {
      Status s = svc->TakeSnapshot();
      EXPECT_TRUE(s.ok() || IsWriteRefusal(s.code())) << s.ToString();
      continue;
    }
    const bool create = acked->ids.empty() || i % 3 == 0;
    if (create) {
      auto cmd = Order("customer-" + std::to_string(i % 7), "product-" + std::to_string(i), 1 + i);
      if (i % 2 == 0) cmd.idempotency_key = "key-" + std::to_string(i);
      auto r = svc->CreateAndWait(cmd);
      if (!r.ok()) {
        EXPECT_TRUE(IsWriteRefusal(r.status().code())) << r.status().ToString();
        continue;
      }
      const std::string id = r->id.ToString();
      acked->ids.push_back(id);
      acked->status_after[id] = {OrderStatus::kProcessing};
      if (!cmd.idempotency_key.empty()) acked->keys[cmd.idempotency_key] = {id, cmd};
      continue;
    }
    // A legal next status for one of the acknowledged orders still open.
    const std::string& id = acked->ids[static_cast<size_t>(i) % acked->ids.size()];
    auto& history = acked->status_after[id];
    const OrderStatus now = svc->Get(id)->status;
    OrderStatus next;
    if (now == OrderStatus::kProcessing) {
      next = i % 5 == 0 ? OrderStatus::kCancelled : OrderStatus::kShipped;
    } else if (now == OrderStatus::kShipped) {
      next = i % 4 == 0 ? OrderStatus::kCancelled : OrderStatus::kDelivered;
    } else {
      continue;  // final
    }
    auto r = svc->ChangeStatusAndWait({id, next, std::nullopt});
    if (!r.ok()) {
      EXPECT_TRUE(IsWriteRefusal(r.status().code())) << r.status().ToString();
      continue;
    }
    ASSERT_EQ(r->version, history.size() + 1);
    history.push_back(next);
  }
}

void CheckAfterRecovery(const std::string& dir, const Acked& acked) {
  auto svc = OpenService(QuietOptions(dir));
  ASSERT_TRUE(svc);
  // Every acknowledged event, with its content.
  for (const auto& [id, statuses] : acked.status_after) {
    for (size_t v = 1; v <= statuses.size(); ++v) {
      auto at = svc->GetAtVersion(id, v);
      ASSERT_TRUE(at.ok()) << "acknowledged event " << id << " v" << v
                           << " lost: " << at.status().ToString();
      EXPECT_EQ(at->status, statuses[v - 1]) << id << " v" << v;
    }
  }
  // Gap-free positions, consecutive stream versions, every record a decodable event.
  uint64_t expect = 1;
  std::map<std::string, uint64_t> versions;
  ASSERT_TRUE(svc->log()
                  .Scan(Position(0),
                        [&](const RecordView& rec) {
                          EXPECT_EQ(rec.position.value, expect++);
                          EXPECT_EQ(rec.version.value, ++versions[std::string(rec.stream)]);
                          EXPECT_TRUE(domain::ToOrderEventRecord(rec).ok());
                          return true;
                        })
                  .ok());
  EXPECT_EQ(expect - 1, svc->position().value);
  // The read model, however it was rebuilt, is the fold of the log.
  ExpectModelMatchesLog(*svc);
  // Acknowledged idempotency keys still answer with their order, and append nothing.
  for (const auto& [key, entry] : acked.keys) {
    const Position before = svc->position();
    auto again = svc->CreateAndWait(entry.second);
    ASSERT_TRUE(again.ok()) << key << ": " << again.status().ToString();
    EXPECT_TRUE(again->repeated) << key;
    EXPECT_EQ(again->id.ToString(), entry.first) << key;
    EXPECT_EQ(svc->position().value, before.value);
  }
  // And it takes new commands.
  auto fresh = svc->CreateAndWait(Order("after", "recovery", 1));
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  EXPECT_TRUE(
      svc->ChangeStatusAndWait({fresh->id.ToString(), OrderStatus::kShipped, std::nullopt}).ok());
  EXPECT_TRUE(svc->Close().ok());
}

enum class Mode { kFail, kCrash };

// Returns the number of runs in which a fault was injected.
int FaultLoop(Mode mode) {
  int runs_with_fault = 0;
  for (int n = 1;; ++n) {
    SCOPED_TRACE((mode == Mode::kFail ? "failing operation " : "crash at operation ") +
                 std::to_string(n));
    TempDir dir;
    FaultEnv env;
    if (mode == Mode::kFail) {
      env.FailNth(FaultOp::kAny, n, n % 2 ? StatusCode::kIOError : StatusCode::kNoSpace, n % 50);
    } else {
      env.CrashAtNth(FaultOp::kAny, n);
    }
    Acked acked;
    {
      auto svc = domain::OrderService::Open(Options(dir.path(), &env));
      if (svc.ok()) {
        RunWorkload(svc->get(), &acked);
        (void)(*svc)->Close();  // fails when the log or the closing snapshot failed
      } else {
        EXPECT_TRUE(IsWriteRefusal(svc.status().code())) << svc.status().ToString();
      }
    }
    if (::testing::Test::HasFatalFailure()) return runs_with_fault;
    const bool injected = env.failures() > 0;
    env.Reset();
    env.DropUnsyncedData(n % 3 == 0 ? 0 : 40);  // power loss: unsynced bytes dropped or torn
    CheckAfterRecovery(dir.path(), acked);
    if (::testing::Test::HasFatalFailure()) return runs_with_fault;
    if (!injected) break;  // the workload ran out of operations to fail
    ++runs_with_fault;
  }
  return runs_with_fault;
}

TEST(FaultLoopTest, FailEveryIoOperationOfAnOrderWorkloadInTurn) {
  EXPECT_GT(FaultLoop(Mode::kFail), 150);
}

TEST(FaultLoopTest, CrashAtEveryIoOperationOfAnOrderWorkloadInTurn) {
  EXPECT_GT(FaultLoop(Mode::kCrash), 150);
}

}  // namespace
}  // namespace orderlog::testing
