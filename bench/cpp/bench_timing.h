// Timing helpers of the bench/cpp programs (each is built alone; the header is included by path).
#pragma once
#include <chrono>
#include <ctime>

namespace bench {

/// Seconds of CPU time of the calling thread (what a process stopped by others does not accrue).
inline double thread_cpu_seconds() {
    timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

/// Microseconds of thread CPU time per call of `f`, over `calls` calls.
template <class F> double cpu_microseconds(F f, int calls) {
    double start = thread_cpu_seconds();
    for (int i = 0; i < calls; i++) f();
    return (thread_cpu_seconds() - start) / calls * 1e6;
}

/// Wall-clock microseconds per call of `f`, over `calls` calls.
template <class F> double wall_microseconds(F f, int calls) {
    auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < calls; i++) f();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / calls * 1e6;
}

} // namespace bench
