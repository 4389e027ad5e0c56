import FedKit
import Torch

/// `clipped-sgd`: local SGD whose gradient is scaled down to an L2 norm of at most `max_norm`
/// before every step (the norm taken over all parameters together, as torch's
/// `clip_grad_norm_`). Clipping bounds how far one client moves per step: it tames exploding
/// gradients and is the client update of DP-FedAvg before noise is added.
public struct ClippedSGDTrainer: TrainerPlugin {
    /// The parameter, declared once: type, range, default and doc.
    public static let maxNorm = ParameterKey.double(
        "max_norm", default: 1, min: 0, minExclusive: true, doc: "largest L2 norm of the gradient at each step")

    public static let descriptor = PluginDescriptor(
        kind: .trainer, name: "clipped-sgd",
        summary: "local SGD with the gradient clipped to an L2 norm of max_norm before every step",
        keys: [maxNorm])

    public let maxNorm: Double

    public init(parameters: Parameters) throws {
        maxNorm = parameters[Self.maxNorm]
    }

    public func train(_ context: ClientTrainingContext) throws -> LocalTrainingReport {
        let model = context.model
        let result = try LocalLoop.run(
            context, epochs: context.settings.epochs, parameters: model.parameters, adjustGradients: clip,
            loss: LocalLoop.crossEntropy(model))
        // The update is the trained model itself; the engine reads it after `train` returns.
        return LocalTrainingReport(trainLoss: result.lastEpochLoss, steps: result.steps)
    }

    /// Scales every gradient in place by max_norm / ||g|| when ||g|| > max_norm.
    public func clip(_ parameters: [Tensor]) throws {
        let gradients = parameters.compactMap(\.grad)
        let norm = try gradients.reduce(0.0) { try $0 + $1.square().sum().item() }.squareRoot()
        guard norm > maxNorm else { return }
        for gradient in gradients { try gradient.mul_(maxNorm / norm) }
    }
}
