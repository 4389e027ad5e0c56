import Torch

extension LabeledSamples {
    /// Shuffled mini-batches for one epoch, drawn with `generator` (the last batch may be smaller,
    /// or is left out with `dropLast`; the permutation drawn is the same either way).
    /// Rows are gathered with one index_select per batch; no per-sample copies.
    public func shuffledBatches(
        size: Int, dropLast: Bool = false, generator: RandomGenerator
    ) throws -> [(inputs: Tensor, labels: Tensor)] {
        let order = try Tensor.randperm(count, generator: generator)
        var batches: [(inputs: Tensor, labels: Tensor)] = []
        var start = 0
        let end = Swift.min(count, batchCount(size: size, dropLast: dropLast) * size)
        while start < end {
            let stop = Swift.min(start + size, count)
            let index = try order.slice(start..<stop)
            batches.append((try inputs.indexSelect(dim: 0, index), try labels.indexSelect(dim: 0, index)))
            start = stop
        }
        return batches
    }

    /// How many batches `shuffledBatches(size:dropLast:generator:)` gives for one epoch.
    public func batchCount(size: Int, dropLast: Bool = false) -> Int {
        dropLast ? count / size : (count + size - 1) / size
    }

    /// Consecutive batches in order (evaluation); slices share storage.
    public func orderedBatches(size: Int) throws -> [(inputs: Tensor, labels: Tensor)] {
        var batches: [(inputs: Tensor, labels: Tensor)] = []
        var start = 0
        while start < count {
            let end = Swift.min(start + size, count)
            batches.append((try inputs.slice(start..<end), try labels.slice(start..<end)))
            start = end
        }
        return batches
    }
}
