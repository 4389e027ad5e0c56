import Foundation

/// OpenBLAS's own thread pool (libtorch sends Linear layers' matrix products to it).
///
/// Unlike ATen's OpenMP setting, OpenBLAS's thread count is process-wide and, in the pthreads
/// build Debian ships, defaults to the number of cores. When several workers call into it at once
/// they queue for that one pool and its threads spin in `sched_yield`: profiled on 2 cores, a
/// FedAvg round with 2 workers spent over half its CPU time in `exec_blas_async` and the kernel's
/// yield path. The engine therefore gives OpenBLAS one thread whenever clients run in parallel
/// (`SimulationRun.run`), and the worker's thread count when a single worker runs.
///
/// Looked up at run time (dlsym), so builds against another BLAS simply skip it.
public enum BLASThreads {
    private typealias SetFunction = @convention(c) (Int32) -> Void
    private typealias GetFunction = @convention(c) () -> Int32

    private static let setter: SetFunction? = dlsym(nil, "openblas_set_num_threads").map { unsafeBitCast($0, to: SetFunction.self) }
    private static let getter: GetFunction? = dlsym(nil, "openblas_get_num_threads").map { unsafeBitCast($0, to: GetFunction.self) }

    /// Whether an OpenBLAS is loaded in this process.
    public static var isAvailable: Bool { setter != nil }

    /// OpenBLAS's current thread count (nil without OpenBLAS).
    public static var current: Int? { getter.map { Int($0()) } }

    /// Sets OpenBLAS's thread count (no-op without OpenBLAS).
    public static func set(_ count: Int) { setter?(Int32(max(1, count))) }

    /// The OpenBLAS thread count for `workers` parallel workers of `threadsPerWorker` threads each.
    public static func count(workers: Int, threadsPerWorker: Int) -> Int { workers > 1 ? 1 : max(1, threadsPerWorker) }
}
