import FedKit
import Torch

/// L2GD's local steps (Hanzely & Richtárik, "Federated Learning of a Mixture of Global and Local
/// Models", 2020): K plain stochastic gradient steps x_i <- x_i - lr / (1 - p) grad f_i(x_i; D)
/// on successive mini-batches (reshuffled when the data run out), K and 1 / (1 - p) being the
/// round's payload from the `l2gd` aggregator, which then averages and pulls the models toward
/// the mean. Starts from the client's personal model (the global model the first time).
public struct L2GDTrainer: TrainerPlugin {
    public static let descriptor = PluginDescriptor(
        kind: .trainer, name: "l2gd",
        summary: "the server-drawn number K of local gradient steps at lr / (1 - p) (L2GD; needs the l2gd aggregator)")

    public init(parameters: Parameters) throws {}

    public func train(_ context: ClientTrainingContext) throws -> LocalTrainingReport {
        let values = Dictionary(uniqueKeysWithValues: context.payload.entries.map { ($0.name, $0.tensor) })
        guard let stepsTensor = values["local_steps"], let scaleTensor = values["step_scale"] else {
            throw PluginError(
                "the l2gd trainer needs the l2gd aggregator's round payload (local_steps, step_scale); got entries \(context.payload.names)"
            )
        }
        let steps = Int(try stepsTensor.item()), scale = try scaleTensor.item()
        let batchesPerEpoch = context.data.batchCount(
            size: context.settings.batchSize, dropLast: context.settings.dropLast)
        guard batchesPerEpoch > 0, steps > 0 else { return LocalTrainingReport(trainLoss: 0, steps: 0) }
        let model = context.model
        let optimizer = try SGD(model.parameters, learningRate: context.settings.learningRate * scale)
        var batches: [(inputs: Tensor, labels: Tensor)] = []
        var total = 0.0
        for step in 1...steps {
            if batches.isEmpty {
                batches = try context.data.shuffledBatches(
                    size: context.settings.batchSize, dropLast: context.settings.dropLast,
                    generator: context.generator
                ).reversed()
            }
            let batch = batches.removeLast()
            let inputs = try context.augmentation?.apply(batch.inputs, generator: context.generator) ?? batch.inputs
            try optimizer.zeroGrad()
            let loss = try Loss.crossEntropy(model.forward(inputs), targets: batch.labels)
            let value = try loss.item()
            guard value.isFinite else {
                throw PluginError("loss became \(value.isNaN ? "nan" : "inf") at local step \(step)")
            }
            try loss.backward()
            try optimizer.step()
            total += value
        }
        try optimizer.zeroGrad()
        return LocalTrainingReport(trainLoss: total / Double(steps), steps: steps)
    }
}
