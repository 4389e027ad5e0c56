import Torch

/// Samples that one shared forward pass of a model goes over, and which of them each client's
/// split is: the dataset's test set (clients' matched splits are rows of it), or several clients'
/// own splits one after another (holdout test splits, validation splits), read in evaluation
/// batches that cross client boundaries, so that 1,000 clients with 6 samples each cost a few
/// large batches instead of 1,000 small ones. Nothing is copied until a batch is read.
struct EvaluationPool {
    /// The sample sets, in pool order.
    let parts: [LabeledSamples]
    /// Where each part starts in the pool.
    let starts: [Int]
    /// Per client, its rows in the pool (nil: its split is not in the pool).
    let clientRows: [[Int]?]
    /// The label of every row.
    let labels: [Int]

    var count: Int { labels.count }

    /// One set of samples; `clientRows` names each client's rows in it.
    init(samples: LabeledSamples, clientRows: [[Int]?]) {
        parts = [samples]
        starts = [0]
        self.clientRows = clientRows
        labels = samples.labelArray
    }

    /// Every client's split, one after another (empty splits take no rows).
    init(clientSplits: [LabeledSamples]) {
        var starts: [Int] = []
        var rows: [[Int]?] = []
        var labels: [Int] = []
        for split in clientSplits {
            starts.append(labels.count)
            rows.append(Array(labels.count..<(labels.count + split.count)))
            labels += split.labelArray
        }
        parts = clientSplits
        self.starts = starts
        self.clientRows = rows
        self.labels = labels
    }

    /// The inputs of rows `range`: a view when they lie in one part, else the parts' slices joined.
    func inputs(_ range: Range<Int>) throws -> Tensor {
        var pieces: [Tensor] = []
        // The last part that starts at or before the range (empty parts share their start).
        var part = (starts.lastIndex { $0 <= range.lowerBound }) ?? 0
        var row = range.lowerBound
        while row < range.upperBound, part < parts.count {
            let local = row - starts[part]
            let take = Swift.min(parts[part].count - local, range.upperBound - row)
            if take > 0 {
                pieces.append(try parts[part].inputs.slice(local..<(local + take)))
                row += take
            }
            part += 1
        }
        precondition(row == range.upperBound, "EvaluationPool: rows \(range) outside the pool's \(count)")
        return pieces.count == 1 ? pieces[0] : try Tensor.cat(pieces)
    }

    /// The pool's rows cut into evaluation batches.
    func batches(size: Int) -> [Range<Int>] {
        stride(from: 0, to: count, by: size).map { $0..<Swift.min($0 + size, count) }
    }
}

/// A model's pass over an `EvaluationPool`: per row whether the prediction is right, and the
/// body's features when asked for (a personal head is then applied to them).
struct SharedPass {
    var correct: [Bool]
    var features: Tensor?

    /// Fraction correct over some rows of the pool.
    func accuracy(rows: [Int]) -> Double { Accuracy.fraction(rows.lazy.map { self.correct[$0] }) }
}
