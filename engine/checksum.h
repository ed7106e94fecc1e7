// The bulk XXH3-64 of a whole segment (the footer's checksum), fed a chunk at a time. On x86-64
// it goes through xxHash's runtime dispatch, which picks the AVX2 or AVX-512 kernel the CPU has:
// the plain entry points of Debian's libxxhash are built for baseline SSE2 and run about half as
// fast on long inputs. Record checksums (short inputs, scalar code either way) stay one-shot.
#pragma once

#include <xxhash.h>

#include <cstddef>

#if defined(__x86_64__)
#define XXH_DISPATCH_DISABLE_REPLACE
#include <xxh_x86dispatch.h>
#endif

namespace orderlog {

inline void SegmentHashUpdate(XXH3_state_t* state, const void* data, size_t size) {
#if defined(__x86_64__)
  XXH3_64bits_update_dispatch(state, data, size);
#else
  XXH3_64bits_update(state, data, size);
#endif
}

}  // namespace orderlog
