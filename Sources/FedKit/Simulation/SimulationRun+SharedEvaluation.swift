import Torch

/// Evaluation by shared passes (docs/architecture.md, "Evaluation"): one forward pass of the global
/// model over a pool of samples serves every client whose split is rows of that pool and who is
/// tested with the global model (read off per-row correctness) or with its own head on the global
/// body (its head applied to the pass's features); only whole personal models run passes of their own
/// (several at once in evaluation stacks where their splits are small: SimulationRun+StackedEvaluation.swift).
extension SimulationRun {
    /// How one client's accuracy on one split is computed.
    enum ClientTest: Equatable {
        /// Tested with the global model on these rows of the pool: read off the shared pass.
        case globalRows([Int])
        /// Its own head on the global body, on these rows of the pool: the head applied to the
        /// shared pass's body features of those rows.
        case head([Int])
        /// Its own model (or a split outside the pool): a forward pass over its split.
        case full
        /// Not scored (never trained).
        case skipped
    }

    /// Per client, how it is tested on a split whose rows in `samples` are `samples.clientRows`.
    func clientTests(_ samples: EvaluationPool) -> [ClientTest] {
        clients.indices.map { c in
            guard isScored(c) else { return .skipped }
            if roundOutput[c] != nil, method.evaluateWith == .roundOutput { return .full }
            guard let rows = samples.clientRows[c], evaluationComposition == nil else { return .full }
            guard method.evaluateWith != .global, let names = store.names(c) else { return .globalRows(rows) }
            return names.allSatisfy({ $0.hasPrefix("head.") }) ? .head(rows) : .full
        }
    }

    /// The global model over the whole pool in evaluation batches spread over the workers (no
    /// autograd, eval mode): per-row correctness, and the body's features when `features` is set.
    func sharedPass(over samples: EvaluationPool, features keepFeatures: Bool) throws -> SharedPass {
        guard samples.count > 0 else { return SharedPass(correct: [], features: nil) }
        let state = global.stateDict()
        let parts = try pool.map(samples.batches(size: settings.evalBatchSize)) {
            worker, range -> (predictions: [Int], features: Tensor?) in
            let model = worker.model
            try model.load(state)
            model.setTraining(false)
            return try withoutGrad {
                let x = try samples.inputs(range)
                guard keepFeatures else { return (try model.forward(x).argmax(dim: 1).ints(), nil) }
                let f = try model.features(x)
                return (try model.head.forward(f).argmax(dim: 1).ints(), f)
            }
        }
        let correct = zip(parts.flatMap(\.predictions), samples.labels).map { $0 == $1 }
        return SharedPass(correct: correct, features: keepFeatures ? try Tensor.cat(parts.compactMap(\.features)) : nil)
    }

    /// Every client's accuracy on its split (`split(c)`, whose rows in the pool `tests` name),
    /// given the shared pass (needed when any test reads it). A client with an empty split gets
    /// `emptySplit` (0 for test splits as before; nil, not scored, for validation splits).
    /// `measured`: accuracies of `.full` clients measured already (`composedAccuracies`).
    func clientAccuracies(
        _ tests: [ClientTest], pass: SharedPass?, split: (Int) -> LabeledSamples,
        emptySplit: Double?, measured: [Int: Double] = [:]
    ) throws -> [Double?] {
        let batchSize = settings.evalBatchSize
        // Whole personal models with small splits: in evaluation stacks (SimulationRun+StackedEvaluation.swift).
        let ownModel = clients.indices.filter { tests[$0] == .full }
        let stacked = try stackedAccuracies(ownModel, split: split)
        return try pool.map(Array(clients.indices)) { worker, client -> Double? in
            let data = split(client)
            if case .skipped = tests[client] { return nil }
            guard data.count > 0 else { return emptySplit }
            switch tests[client] {
            case .skipped:
                return nil
            case .globalRows(let rows):
                return pass!.accuracy(rows: rows)
            case .head(let rows):
                let model = worker.model
                try self.store.load(client, into: model)
                model.setTraining(false)
                let features = pass!.features!
                var correct = 0
                try withoutGrad {
                    for start in stride(from: 0, to: rows.count, by: batchSize) {
                        let end = Swift.min(start + batchSize, rows.count)
                        let logits = try model.head.forward(features.rows(Array(rows[start..<end])))
                        for (i, p) in try logits.argmax(dim: 1).ints().enumerated()
                        where p == data.labelArray[start + i] { correct += 1 }
                    }
                }
                return Double(correct) / Double(rows.count)
            case .full:
                if let accuracy = stacked[client] ?? measured[client] { return accuracy }
                try self.evaluationState(client: client, worker: worker)
                worker.model.setTraining(false)
                return Accuracy.fraction(try Accuracy.correctness(of: worker.model, on: data, batchSize: batchSize))
            }
        }
    }

    /// Whether any test reads the shared pass, and whether it needs the body's features.
    static func passNeeds(_ tests: [ClientTest]) -> (pass: Bool, features: Bool) {
        var pass = false, features = false
        for test in tests {
            switch test {
            case .globalRows: pass = true
            case .head: pass = true; features = true
            case .full, .skipped: break
            }
        }
        return (pass, features)
    }
}
