import Torch

/// `ProximalTerm` for a stack: adds mu/2 * ||w_k - anchor_k||^2 to each slot's objective.
public struct StackedProximalTerm {
    /// The strength mu (0 adds nothing).
    public let mu: Double
    /// The stacked parameters pulled, and one stacked anchor [K, ...] per parameter.
    let parameters: [Tensor]
    let anchors: [Tensor]

    /// Anchors for the parameters `indices` of `network`, slot k's taken by name from `states[k]`
    /// (FedProx and Ditto: the round's global model). Throws a `PluginError` when a state lacks
    /// an entry or has it in another shape.
    public init(mu: Double, network: StackedNetwork, parameters indices: [Int], states: [StateDict]) throws {
        self.mu = mu
        parameters = indices.map { network.parameters[$0].tensor }
        anchors = try withoutGrad {
            try indices.map { i in
                let (name, tensor) = network.parameters[i]
                let shape = Array(tensor.shape.dropFirst())
                return try Tensor.stack(
                    states.map { state in
                        guard let anchor = state[name], anchor.shape == shape else {
                            throw PluginError("proximal term: the global state has no entry \(name) of shape \(shape)")
                        }
                        return try anchor.detached()
                    })
            }
        }
    }

    /// grad += mu * (w - anchor) on slots `rows` of every parameter that has a gradient; with
    /// `rowParameters` (the rows' tensors, `StackedNetwork.parameters(rows:)`, one per pulled
    /// parameter) their gradients, otherwise the stacked tensors'.
    public func addGradient(rows: Range<Int>, parameters rowParameters: [Tensor]? = nil) throws {
        guard mu != 0 else { return }
        for (i, (p, anchor)) in zip(parameters, anchors).enumerated() {
            let whole = rows.count == p.shape[0]
            let source: Tensor, gradient: Tensor?
            if let rowParameters {
                source = rowParameters[i]
                gradient = source.grad
            } else {
                source = whole ? p : try p.slice(rows)
                gradient = try p.grad.map { whole ? $0 : try $0.slice(rows) }
            }
            guard let g = gradient else { continue }
            try g.add_(source, alpha: mu)
            try g.add_(whole ? anchor : try anchor.slice(rows), alpha: -mu)
        }
    }
}

/// `LocalLoop` for a stack of clients: every slot runs the epochs and mini-batches it would run
/// alone (its own data, shuffles and augmentation drawn from its own generator in the same
/// order), and at each step the slots that still have a batch take it together.
///
/// A step runs one forward pass per range of consecutive slots whose batches have one size
/// (normally one: all full batches; the slots at their last, smaller batch form the others), with
/// the parameters of those slots only (`StackedNetwork.parameters(rows:)`), sums the slots' mean
/// losses (so each slot's gradient is its own loss's), back-propagates once and updates each range
/// with one `StackedSGD` step. Slots whose data has ended take no step:
/// their weights and momentum stay as they are. No sample is padded or repeated.
public enum StackedLocalLoop {
    /// Trains the parameters `parameters` (indices into `network.parameters`) of every slot for
    /// `epochs` epochs over `data` (default: each client's training data). Returns one result per slot.
    /// - Parameters:
    ///   - network: the stack to train (default: `stack.network`).
    ///   - augment: applies the clients' augmentation to each batch (false for precomputed features).
    ///   - proximal: a pull toward anchors added to the gradients (FedProx, Ditto).
    ///   - phase: named in the error when a loss diverges.
    ///   - loss: per-slot mean losses [k] of slots `rows` from inputs [k, n, ...] and labels [k, n].
    public static func run(
        _ stack: ClientStack, network: StackedNetwork? = nil, epochs: Int, parameters indices: [Int],
        data: [LabeledSamples]? = nil, augment: Bool = true, proximal: StackedProximalTerm? = nil, phase: String? = nil,
        loss: (_ rows: Range<Int>, _ inputs: Tensor, _ labels: Tensor) throws -> Tensor
    ) throws -> [PhaseResult] {
        let contexts = stack.contexts
        let network = network ?? stack.network
        let samples = data ?? contexts.map(\.data)
        var results = Array(repeating: PhaseResult(), count: contexts.count)
        guard epochs > 0, !indices.isEmpty, let settings = contexts.first?.settings else { return results }
        guard samples.count == contexts.count, network.count == contexts.count else {
            throw PluginError(
                "stacked training: \(samples.count) data sets and \(network.count) slots for \(contexts.count) clients")
        }
        let parameters = indices.map { network.parameters[$0].tensor }
        let optimizer = try StackedSGD(
            decayingWeightsOnly: parameters, weightDecay: settings.weightDecay,
            learningRate: settings.learningRate, momentum: settings.momentum)
        network.dropRowViews()  // leaves made before may carry other requires-grad flags
        defer { network.dropRowViews() }
        for epoch in 1...epochs {
            // Each slot's shuffle for this epoch, from its own generator (as `LocalLoop` draws it).
            let batches = try contexts.indices.map { s in
                samples[s].count > 0
                    ? try samples[s].shuffledBatches(
                        size: settings.batchSize, dropLast: settings.dropLast, generator: contexts[s].generator) : []
            }
            var totals = Array(repeating: 0.0, count: contexts.count)
            for step in 0..<(batches.map(\.count).max() ?? 0) {
                let groups = Self.groups(batches.map { step < $0.count ? $0[step].labels.count : nil })
                var objective: Tensor?
                var losses: [(rows: Range<Int>, values: Tensor)] = []
                for rows in groups {
                    let inputs = try Tensor.stack(
                        rows.map { s in
                            let x = batches[s][step].inputs
                            guard augment, let augmentation = contexts[s].augmentation else { return x }
                            return try augmentation.apply(x, generator: contexts[s].generator)
                        })
                    let labels = try Tensor.stack(rows.map { batches[$0][step].labels })
                    let values = try loss(rows, inputs, labels)
                    losses.append((rows, values))
                    let sum = try values.sum()
                    objective = try objective.map { try $0 + sum } ?? sum
                }
                for (rows, values) in losses {
                    for (s, value) in zip(rows, try values.floats()) {
                        guard value.isFinite else {
                            throw StackedClientFailure(
                                slot: s,
                                error: PluginError(
                                    "loss became \(value.isNaN ? "nan" : "inf") at epoch \(epoch), step \(step + 1)"
                                        + (phase.map { " (\($0) phase)" } ?? "")))
                        }
                        totals[s] += Double(value)
                    }
                }
                try objective?.backward()
                // Each range's gradients are in the tensors its forward pass used.
                for rows in groups {
                    let all = try network.parameters(rows: rows)
                    let trained = indices.map { all[$0] }
                    try proximal?.addGradient(rows: rows, parameters: trained)
                    try optimizer.step(rows: rows, parameters: trained)
                    for p in all { try p.zeroGrad() }
                }
            }
            for s in contexts.indices {
                results[s].steps += batches[s].count
                results[s].lastEpochLoss = totals[s] / Double(max(1, batches[s].count))
            }
        }
        for p in parameters { try p.zeroGrad() }
        return results
    }

    /// Per-slot mean cross-entropy [k] of logits [k, n, classes] against labels [k, n].
    public static func crossEntropy(logits: Tensor, labels: Tensor) throws -> Tensor {
        let s = logits.shape
        guard s.count == 3, labels.shape == [s[0], s[1]] else {
            throw PluginError(
                "stacked cross-entropy: expected logits [k, n, classes] and labels [k, n], got \(logits.shape) and \(labels.shape)"
            )
        }
        return try Loss.crossEntropy(
            logits.reshaped([s[0] * s[1], s[2]]), targets: labels.reshaped([s[0] * s[1]]),
            reduction: .none
        ).view([s[0], s[1]]).mean(dims: [1])
    }

    /// Cross-entropy of the stack's logits: the loss of every built-in trainer.
    public static func crossEntropy(_ network: StackedNetwork) -> (Range<Int>, Tensor, Tensor) throws -> Tensor {
        { rows, inputs, labels in try crossEntropy(logits: network.forward(inputs, rows: rows), labels: labels) }
    }

    /// Maximal ranges of consecutive slots that have a batch (`sizes[s]` non-nil) of one size.
    static func groups(_ sizes: [Int?]) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var s = 0
        while s < sizes.count {
            guard let size = sizes[s] else { s += 1; continue }
            var end = s + 1
            while end < sizes.count, sizes[end] == size { end += 1 }
            ranges.append(s..<end)
            s = end
        }
        return ranges
    }

}
