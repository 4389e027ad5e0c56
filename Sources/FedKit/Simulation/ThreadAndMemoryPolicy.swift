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

    private static let setter: SetFunction? = dlsym(nil, "openblas_set_num_threads").map {
        unsafeBitCast($0, to: SetFunction.self)
    }
    private static let getter: GetFunction? = dlsym(nil, "openblas_get_num_threads").map {
        unsafeBitCast($0, to: GetFunction.self)
    }

    /// Whether an OpenBLAS is loaded in this process.
    public static var isAvailable: Bool { setter != nil }

    /// OpenBLAS's current thread count (nil without OpenBLAS).
    public static var current: Int? { getter.map { Int($0()) } }

    /// Sets OpenBLAS's thread count (no-op without OpenBLAS).
    public static func set(_ count: Int) { setter?(Int32(max(1, count))) }

    /// The OpenBLAS thread count for `workers` parallel workers of `threadsPerWorker` threads each.
    public static func count(workers: Int, threadsPerWorker: Int) -> Int { workers > 1 ? 1 : max(1, threadsPerWorker) }
}

/// glibc's allocator policy for a simulation process.
///
/// By default glibc raises its mmap threshold each time a large block is freed (up to 32 MiB), so
/// after the first evaluation the 4-32 MiB activations of a batch of 1,000 test images are carved
/// from per-thread arenas, which keep the memory after the pass: every worker thread then holds its
/// own copy of the evaluation's peak for the rest of the run. A fixed 4 MiB threshold sends those
/// blocks to mmap (returned on free) while the small tensors of local training (a batch of 10 CIFAR
/// images through a conv layer is under 2 MiB) stay in the arenas. Measured on a FedAvg round with
/// 2 workers: peak RSS 816 -> 684 MiB, no change in round time. Set once, at the first run.
///
/// Evaluation passes are the exception (`duringEvaluation`): with the 4 MiB threshold every batch
/// of 250 test images maps, faults in and unmaps its 12 MiB of activations again, which made the
/// pass 1.7-2x slower per image than with glibc's defaults (docs/benchmarks.md, "Evaluation pass").
/// While an evaluation runs the thresholds are raised so that those blocks are reused from the
/// arenas; afterwards the 4 MiB threshold is restored and `malloc_trim(0)` hands the arenas' free
/// pages back, so no worker keeps the evaluation's peak.
public enum AllocatorPolicy {
    public static let mmapThreshold = 4 << 20
    /// mmap and trim thresholds while an evaluation runs (glibc's largest dynamic mmap threshold).
    public static let evaluationThreshold = 32 << 20
    /// glibc's default trim threshold, restored after an evaluation.
    static let defaultTrimThreshold = 128 << 10

    private typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
    private typealias MallocTrim = @convention(c) (Int) -> Int32
    // From <malloc.h>, which Swift's Glibc module does not export.
    private static let mallopt: Mallopt? = dlsym(nil, "mallopt").map { unsafeBitCast($0, to: Mallopt.self) }
    private static let mallocTrim: MallocTrim? = dlsym(nil, "malloc_trim").map {
        unsafeBitCast($0, to: MallocTrim.self)
    }
    private static let mmapThresholdParameter: Int32 = -3  // M_MMAP_THRESHOLD
    private static let trimThresholdParameter: Int32 = -1  // M_TRIM_THRESHOLD

    private static let configured: Bool = {
        guard let mallopt else { return false }
        return mallopt(mmapThresholdParameter, Int32(mmapThreshold)) == 1
    }()

    /// Applies the policy (idempotent); false where it does not apply.
    @discardableResult
    public static func configure() -> Bool { configured }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var evaluations = 0

    /// Runs `body` (an evaluation pass) with the evaluation thresholds, then restores the policy
    /// and trims the arenas. Nested and concurrent calls share one raised period: the policy comes
    /// back when the last of them ends. Without `configure()` (or without glibc) it only runs `body`.
    public static func duringEvaluation<R>(_ body: () throws -> R) rethrows -> R {
        guard configured, let mallopt else { return try body() }
        lock.withLock {
            evaluations += 1
            if evaluations == 1 {
                _ = mallopt(trimThresholdParameter, Int32(evaluationThreshold))
                _ = mallopt(mmapThresholdParameter, Int32(evaluationThreshold))
            }
        }
        defer {
            lock.withLock {
                evaluations -= 1
                if evaluations == 0 {
                    _ = mallopt(mmapThresholdParameter, Int32(mmapThreshold))
                    _ = mallopt(trimThresholdParameter, Int32(defaultTrimThreshold))
                    _ = mallocTrim?(0)
                }
            }
        }
        return try body()
    }
}
