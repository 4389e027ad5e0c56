import Dispatch
import Foundation
import Torch

/// One worker: owns a network (and a scratch network) that client states are loaded into.
public final class Worker: @unchecked Sendable {
    public let index: Int
    public let model: Network
    public let scratch: Network

    init(index: Int, model: Network, scratch: Network) {
        self.index = index
        self.model = model
        self.scratch = scratch
    }
}

/// Runs per-client jobs on `workers` threads, each with its own networks and torch thread count.
/// Results come back in input order; each job's randomness is seeded by its own stream, so the
/// output does not depend on the number of workers or on scheduling.
public final class WorkerPool: @unchecked Sendable {
    public let workers: [Worker]
    public let threadsPerWorker: Int

    public init(count: Int, threadsPerWorker: Int, makeNetwork: () throws -> Network) throws {
        workers = try (0..<max(1, count)).map {
            Worker(index: $0, model: try makeNetwork(), scratch: try makeNetwork())
        }
        self.threadsPerWorker = threadsPerWorker
    }

    /// Applies `job` to every item; results come back in input order. Items start in input order,
    /// or by decreasing `cost` when given (largest first: the longest jobs do not end up alone at
    /// the end of a round while the other workers idle). An error stops the items not yet started,
    /// and the error of the first failing item in start order is rethrown (the same one whatever
    /// the number of workers). The calling thread's torch thread count is restored afterwards (it
    /// may run jobs itself).
    public func map<Item, Result>(
        _ items: [Item], cost: ((Item) -> Int)? = nil,
        _ job: (Worker, Item) throws -> Result
    ) throws -> [Result] {
        guard !items.isEmpty else { return [] }
        var order = Array(items.indices)
        if let cost {
            let costs = items.map(cost)
            order.sort { costs[$0] != costs[$1] ? costs[$0] > costs[$1] : $0 < $1 }
        }
        return try withoutActuallyEscaping(job) { job in try map(items, order: order, escaping: job) }
    }

    private func map<Item, Result>(
        _ items: [Item], order: [Int], escaping job: @escaping (Worker, Item) throws -> Result
    ) throws -> [Result] {
        let state = PoolState<Result>(count: items.count)
        let callerThreads = TorchThreads.current
        defer { TorchThreads.set(callerThreads) }
        let run: (Int) -> Void = { w in
            TorchThreads.set(self.threadsPerWorker)
            let worker = self.workers[w]
            while let position = state.next() {
                let i = order[position]
                do {
                    state.store(i, try job(worker, items[i]))
                } catch {
                    state.fail(position, error)
                }
            }
        }
        let active = min(workers.count, items.count)
        if active == 1 {
            run(0)
        } else {
            withoutActuallyEscaping(run) { body in
                let box = UncheckedSendable(body)
                DispatchQueue.concurrentPerform(iterations: active) { box.value($0) }
            }
        }
        return try state.results()
    }
}

struct UncheckedSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

/// Shared bookkeeping of one `map` call.
final class PoolState<Result>: @unchecked Sendable {
    private let lock = NSLock()
    private var nextIndex = 0
    private var values: [Result?]
    private var error: (index: Int, error: any Error)?

    init(count: Int) { values = Array(repeating: nil, count: count) }

    func next() -> Int? {
        lock.withLock {
            guard error == nil, nextIndex < values.count else { return nil }
            defer { nextIndex += 1 }
            return nextIndex
        }
    }

    func store(_ i: Int, _ value: Result) { lock.withLock { values[i] = value } }
    /// Positions are handed out in order, so every position below a failing one has started and runs
    /// to its end: keeping the lowest position makes the reported error independent of scheduling.
    func fail(_ i: Int, _ e: any Error) { lock.withLock { if error == nil || i < error!.index { error = (i, e) } } }

    func results() throws -> [Result] {
        try lock.withLock {
            if let error { throw error.error }
            return values.map { $0! }
        }
    }
}
