import FedKit
import Torch

/// SCAFFOLD's client update (Karimireddy et al., "SCAFFOLD: Stochastic Controlled Averaging for
/// Federated Learning", ICML 2020, Algorithm 1 with option II).
///
/// With the server control variate c (the round's payload, `scaffold` aggregator; zero before the
/// first aggregation) and the client's own c_i (carried across rounds; zero the first time), the
/// client runs K local steps from the global model x:
///     y <- y - lr * (g(y) + c - c_i)
/// (`federation.local_epochs` epochs of mini-batches; plain SGD, momentum `momentum`, default 0 as
/// in the paper: option II's rule below assumes plain steps; weight decay as the federation's),
/// then updates its control variate and sends the change:
///     c_i+ = c_i - c + (x - y) / (K lr),   upload delta c_i = c_i+ - c_i.
/// Control variates cover the model's parameters (not buffers), named as in the model.
public struct ScaffoldTrainer: TrainerPlugin {
    public static let descriptor = PluginDescriptor(
        kind: .trainer, name: "scaffold",
        summary: "local SGD corrected by control variates c - c_i; updates c_i by option II (SCAFFOLD)",
        keys: [momentum])

    public static let momentum = ParameterKey.double(
        "momentum", default: 0, min: 0, max: 0.999,
        doc: "local SGD momentum (SCAFFOLD: 0; the control-variate rule (x - y)/(K lr) assumes plain SGD steps)")

    public let momentum: Double

    public init(parameters: Parameters) throws {
        momentum = parameters[Self.momentum]
    }

    public func train(_ context: ClientTrainingContext) throws -> LocalTrainingReport {
        let model = context.model
        let named = model.namedParameters
        let serverControl = try ControlVariates.values(
            named, from: context.payload, what: "the server control variate c")
        let clientControl = try ControlVariates.values(
            named, from: context.carried, what: "the client control variate c_i")
        // The correction c - c_i, constant during the round.
        let correction = try zip(serverControl, clientControl).map { try $0 - $1 }
        var settings = context.settings
        settings.momentum = momentum
        let result = try LocalLoop.run(
            context, epochs: context.settings.epochs, parameters: named.map(\.tensor), settings: settings,
            adjustGradients: { parameters in
                for (p, d) in zip(parameters, correction) { try p.grad?.add_(d) }
            },
            loss: LocalLoop.crossEntropy(model))
        guard result.steps > 0 else { return LocalTrainingReport(trainLoss: 0, steps: 0) }
        let scale = 1 / (Double(result.steps) * settings.learningRate)
        var updated: [(name: String, tensor: Tensor)] = []
        var delta: [(name: String, tensor: Tensor)] = []
        let start = Dictionary(uniqueKeysWithValues: context.global.entries.map { ($0.name, $0.tensor) })
        try withoutGrad {
            for ((name, y), (c, ci)) in zip(named, zip(serverControl, clientControl)) {
                guard let x = start[name] else { throw PluginError("scaffold: the global model has no entry \(name)") }
                // c_i+ = c_i - c + (x - y) / (K lr)
                let next = try ci - c + (x - y) * scale
                updated.append((name, next))
                delta.append((name, try next - ci))
            }
        }
        return LocalTrainingReport(
            trainLoss: result.lastEpochLoss, steps: result.steps,
            carried: StateDict(updated), upload: StateDict(delta))
    }
}

/// Control variates by parameter name.
enum ControlVariates {
    /// The entries of `state` for `parameters`, in order; zeros when `state` is nil or empty (before
    /// the first round). A state that has some entries but not these is an error.
    static func values(
        _ parameters: [(name: String, tensor: Tensor)], from state: StateDict?, what: String
    ) throws -> [Tensor] {
        guard let state, !state.isEmpty else { return try parameters.map { try $0.tensor.zerosLike() } }
        let byName = Dictionary(uniqueKeysWithValues: state.entries.map { ($0.name, $0.tensor) })
        return try parameters.map { p in
            guard let value = byName[p.name], value.shape == p.tensor.shape else {
                throw PluginError("scaffold: \(what) has no entry \(p.name) of shape \(p.tensor.shape)")
            }
            return value
        }
    }
}
