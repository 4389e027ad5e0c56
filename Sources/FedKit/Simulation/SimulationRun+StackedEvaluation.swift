import Torch

/// Whole personal models evaluated as stacks (`StackedNetwork`): clients whose split is smaller than
/// an evaluation batch would each run one small forward pass; instead up to
/// `federation.batched_clients` of them run as one stacked pass (grouped convolutions, batched
/// matrix products), their splits side by side, padded with zero rows to the largest split of the
/// stack (the padding's predictions are dropped). Clients with a split of a batch or more keep
/// their own pass, already in full batches.
extension SimulationRun {
    /// The largest evaluation stack, when personal models can be stacked: batching is not off, no
    /// `EvaluationComposition` (it changes each client's model in its own way), and the model is
    /// made of layers a stack can run.
    var evaluationStackSize: Int? {
        guard let size = settings.batchedClients.maximumStack, evaluationComposition == nil,
            let worker = pool.workers.first, StackedNetwork.unsupportedLayer(in: worker.model) == nil,
            worker.model.namedBuffers.isEmpty
        else { return nil }
        return size
    }

    /// The stacks for `candidates` (clients tested with their own model) on splits of the given
    /// sizes: those with a non-empty split smaller than an evaluation batch, by decreasing size,
    /// cut so that a stack's padded rows (slots x its largest split) fit one evaluation batch.
    /// Depends on the clients and sizes only, not on the number of workers.
    static func evaluationStacks(
        of candidates: [Int], splitSize: (Int) -> Int, batchSize: Int, maximumStack: Int
    ) -> [[Int]] {
        let small = candidates.filter { splitSize($0) > 0 && splitSize($0) < batchSize }
            .sorted { splitSize($0) != splitSize($1) ? splitSize($0) > splitSize($1) : $0 < $1 }
        var stacks: [[Int]] = []
        for client in small {
            if let first = stacks.last?.first, stacks[stacks.count - 1].count < maximumStack,
                (stacks[stacks.count - 1].count + 1) * splitSize(first) <= batchSize
            {
                stacks[stacks.count - 1].append(client)
            } else {
                stacks.append([client])
            }
        }
        return stacks.filter { $0.count > 1 }  // a stack of one is a plain pass
    }

    /// Per client in `clients` (tested with its own model, see `evaluationState`), its accuracy on
    /// `split(c)`, computed in evaluation stacks; clients left out of every stack are absent.
    func stackedAccuracies(_ candidates: [Int], split: (Int) -> LabeledSamples) throws -> [Int: Double] {
        guard let size = evaluationStackSize, candidates.count > 1 else { return [:] }
        let sizes = Dictionary(uniqueKeysWithValues: candidates.map { ($0, split($0).count) })
        let stacks = Self.evaluationStacks(
            of: candidates, splitSize: { sizes[$0]! }, batchSize: settings.evalBatchSize,
            maximumStack: size)
        let globalState = global.stateDict()
        let results = try pool.map(stacks, cost: { $0.count * sizes[$0[0]]! }) { worker, stack -> [(Int, Double)] in
            let network = try StackedNetwork(template: worker.model, count: stack.count)
            for (slot, client) in stack.enumerated() {
                try network.load(globalState, into: slot)
                if self.method.evaluateWith == .roundOutput, let output = self.roundOutput[client] {
                    try network.load(output, into: slot, strict: false)
                } else if self.method.evaluateWith != .global, let personal = try self.store.get(client) {
                    try network.load(personal, into: slot, strict: false)
                }
            }
            let rows = split(stack[0]).count
            let predictions: [Int] = try withoutGrad {
                let inputs = try stack.map { client -> Tensor in
                    let x = split(client).inputs
                    let missing = rows - x.shape[0]
                    guard missing > 0 else { return x }
                    return try Tensor.cat([x, Tensor.zeros([missing] + Array(x.shape.dropFirst()))])
                }
                return try network.forward(Tensor.stack(inputs), rows: 0..<stack.count).argmax(dim: 2).ints()
            }
            return stack.enumerated().map { slot, client in
                let labels = split(client).labelArray
                let correct = labels.indices.filter { predictions[slot * rows + $0] == labels[$0] }.count
                return (client, Double(correct) / Double(labels.count))
            }
        }
        return Dictionary(uniqueKeysWithValues: results.joined().map { $0 })
    }
}
