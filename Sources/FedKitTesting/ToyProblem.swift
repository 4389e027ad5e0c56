import FedKit
import Models
import Torch

/// A classification problem small enough to reason about, for testing trainers and aggregators:
/// two Gaussian blobs in the plane (class 0 around (-2, -2), class 1 around (2, 2), std 0.5),
/// a small MLP (2 -> 8 -> 8 | head 8 -> 2) with fixed initial weights, and one client's
/// `ClientTrainingContext` over them. Everything is seeded: the same calls give the same tensors.
public struct ToyProblem {
    /// The samples, classes alternating (0, 1, 0, ...).
    public let data: LabeledSamples
    /// What a model plugin is given for this data.
    public let input = ModelInput(inputShape: [2], classes: 2)

    /// `count` samples; `poison` makes the first feature NaN (for divergence tests).
    public init(count: Int = 40, seed: UInt64 = 3, poison: Bool = false) throws {
        let labels = (0..<count).map { $0 % 2 }
        let noise = try Tensor.randn([count, 2], generator: RandomGenerator(seed: seed)).floats()
        var values: [Float] = []
        for (i, y) in labels.enumerated() {
            let centre: Float = y == 0 ? -2 : 2
            values += [centre + 0.5 * noise[2 * i], centre + 0.5 * noise[2 * i + 1]]
        }
        if poison { values[0] = .nan }
        data = try LabeledSamples(inputs: Tensor(values, shape: [count, 2]), labels: labels)
    }

    /// The MLP with the weights `seed` gives.
    public func network(seed: UInt64 = 11) throws -> Network {
        try MLP.make(Parameters().setting(MLP.hidden, [8, 8])).build(input, generator: RandomGenerator(seed: seed))
    }

    /// Client 0's context in round 1: its model and the round's global model both hold
    /// `network(seed:)`'s weights; the scratch network holds other weights.
    public func context(
        epochs: Int = 3, lr: Double = 0.1, momentum: Double = 0, personal: StateDict? = nil,
        seed: UInt64 = 11, batchSize: Int = 8, dropLast: Bool = false
    ) throws -> ClientTrainingContext {
        let model = try network(seed: seed)
        return ClientTrainingContext(
            client: 0, round: 1, model: model, scratch: try network(seed: 99), data: data,
            global: try model.stateDict().copy(), personal: personal,
            settings: LocalHyperparameters(
                epochs: epochs, batchSize: batchSize, learningRate: lr, momentum: momentum,
                weightDecay: 1e-4, dropLast: dropLast),
            generator: RandomGenerator(seed: 5))
    }

    /// Mean cross-entropy of `network` over all samples (no gradients).
    public func loss(_ network: Network) throws -> Double {
        try withoutGrad { try Loss.crossEntropy(network.forward(data.inputs), targets: data.labels).item() }
    }
}
