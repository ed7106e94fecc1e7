// Clang's thread-safety attributes, so that which mutex guards a field and which thread owns it
// are checked by the compiler (-Wthread-safety, the `thread-safety` preset in scripts/test) rather
// than stated in comments. Expand to nothing for other compilers. Prefixed: Pistache defines a
// REQUIRES macro of its own.
// https://clang.llvm.org/docs/ThreadSafetyAnalysis.html
#pragma once

#if defined(__clang__)
#define ORDERLOG_TSA(x) __attribute__((x))
#else
#define ORDERLOG_TSA(x)
#endif

#define ORDERLOG_CAPABILITY(x) ORDERLOG_TSA(capability(x))
#define ORDERLOG_SCOPED_CAPABILITY ORDERLOG_TSA(scoped_lockable)
#define ORDERLOG_GUARDED_BY(x) ORDERLOG_TSA(guarded_by(x))
#define ORDERLOG_PT_GUARDED_BY(x) ORDERLOG_TSA(pt_guarded_by(x))
#define ORDERLOG_REQUIRES(...) ORDERLOG_TSA(requires_capability(__VA_ARGS__))
#define ORDERLOG_REQUIRES_SHARED(...) ORDERLOG_TSA(requires_shared_capability(__VA_ARGS__))
#define ORDERLOG_ACQUIRE(...) ORDERLOG_TSA(acquire_capability(__VA_ARGS__))
#define ORDERLOG_ACQUIRE_SHARED(...) ORDERLOG_TSA(acquire_shared_capability(__VA_ARGS__))
#define ORDERLOG_RELEASE(...) ORDERLOG_TSA(release_capability(__VA_ARGS__))
#define ORDERLOG_RELEASE_SHARED(...) ORDERLOG_TSA(release_shared_capability(__VA_ARGS__))
#define ORDERLOG_RELEASE_GENERIC(...) ORDERLOG_TSA(release_generic_capability(__VA_ARGS__))
#define ORDERLOG_TRY_ACQUIRE(...) ORDERLOG_TSA(try_acquire_capability(__VA_ARGS__))
#define ORDERLOG_EXCLUDES(...) ORDERLOG_TSA(locks_excluded(__VA_ARGS__))
#define ORDERLOG_ASSERT_CAPABILITY(x) ORDERLOG_TSA(assert_capability(x))
#define ORDERLOG_RETURN_CAPABILITY(x) ORDERLOG_TSA(lock_returned(x))
#define ORDERLOG_NO_THREAD_SAFETY_ANALYSIS ORDERLOG_TSA(no_thread_safety_analysis)
