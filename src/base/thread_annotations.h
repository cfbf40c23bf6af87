// Clang thread-safety annotations (-Wthread-safety): GUARDED_BY on fields, REQUIRES on functions.
// They compile to nothing under g++.
#pragma once

#if defined(__clang__)
#define SPINDLE_TSA(x) __attribute__((x))
#else
#define SPINDLE_TSA(x)
#endif

#define CAPABILITY(x) SPINDLE_TSA(capability(x))
#define GUARDED_BY(x) SPINDLE_TSA(guarded_by(x))
#define PT_GUARDED_BY(x) SPINDLE_TSA(pt_guarded_by(x))
#define REQUIRES(...) SPINDLE_TSA(requires_capability(__VA_ARGS__))
#define ACQUIRE(...) SPINDLE_TSA(acquire_capability(__VA_ARGS__))
#define RELEASE(...) SPINDLE_TSA(release_capability(__VA_ARGS__))
#define TRY_ACQUIRE(...) SPINDLE_TSA(try_acquire_capability(__VA_ARGS__))
#define ACQUIRE_SHARED(...) SPINDLE_TSA(acquire_shared_capability(__VA_ARGS__))
#define RELEASE_SHARED(...) SPINDLE_TSA(release_shared_capability(__VA_ARGS__))
#define TRY_ACQUIRE_SHARED(...) SPINDLE_TSA(try_acquire_shared_capability(__VA_ARGS__))
#define REQUIRES_SHARED(...) SPINDLE_TSA(requires_shared_capability(__VA_ARGS__))
#define EXCLUDES(...) SPINDLE_TSA(locks_excluded(__VA_ARGS__))
#define SCOPED_CAPABILITY SPINDLE_TSA(scoped_lockable)
#define NO_THREAD_SAFETY_ANALYSIS SPINDLE_TSA(no_thread_safety_analysis)
