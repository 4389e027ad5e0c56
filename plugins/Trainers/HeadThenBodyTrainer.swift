import FedKit
import Torch

/// FedRep's client update (Collins et al., ICML 2021), also FedBKD's local step: first the head
/// alone for `head_epochs` with the body frozen, then the body alone for `body_epochs` with the
/// head frozen. Each phase has its own SGD optimiser with the federation's settings.
///
/// Head phase: the body runs without recording gradients. When the body is deterministic in
/// training mode (no active dropout, no batch norm) and there is no augmentation, its features
/// are computed once and reused by every head epoch (`cache_features`): the same updates with
/// `head_epochs` times fewer body passes.
/// Body phase: the head's parameters stop requiring gradients, so none are computed for them.
/// The reported loss is the mean of the last epoch that ran (the body phase's, when it runs).
public struct HeadThenBodyTrainer: TrainerPlugin {
    public static let descriptor = PluginDescriptor(
        kind: .trainer, name: "head-then-body",
        summary: "train the head with the body frozen, then the body with the head frozen (FedRep, FedBKD)",
        keys: [headEpochs, bodyEpochs, cacheFeatures])

    public static let headEpochs = ParameterKey.int(
        "head_epochs", default: 10, min: 0, doc: "epochs training only the head (classifier), body frozen")
    public static let bodyEpochs = ParameterKey.optionalInt(
        "body_epochs", min: 0, doc: "epochs training only the body, head frozen (default: federation.local_epochs)")
    public static let cacheFeatures = ParameterKey.bool(
        "cache_features", default: true,
        doc:
            "reuse the frozen body's features across head epochs when the body is deterministic (no dropout, batch norm or augmentation)"
    )

    public let headEpochs: Int
    public let bodyEpochs: Int?
    public let cacheFeatures: Bool

    public init(parameters p: Parameters) throws {
        headEpochs = p[Self.headEpochs]
        bodyEpochs = p[Self.bodyEpochs]
        cacheFeatures = p[Self.cacheFeatures]
    }

    public func train(_ context: ClientTrainingContext) throws -> LocalTrainingReport {
        let head = try trainHead(context)
        let body = try trainBody(context, epochs: bodyEpochs ?? context.settings.epochs)
        let lastLoss = body.steps > 0 ? body.lastEpochLoss : head.lastEpochLoss
        return LocalTrainingReport(trainLoss: lastLoss, steps: head.steps + body.steps)
    }

    func trainHead(_ context: ClientTrainingContext) throws -> PhaseResult {
        let model = context.model
        let parameters = model.head.parameters
        if cacheFeatures, headEpochs > 1, context.data.count > 0, context.augmentation == nil,
            !Self.isStochastic(model.body)
        {
            let features = try withoutGrad {
                try Tensor.cat(context.data.orderedBatches(size: 256).map { try model.features($0.inputs) })
            }
            let cached = try LabeledSamples(inputs: features, labels: context.data.labelArray)
            return try LocalLoop.run(
                context, epochs: headEpochs, parameters: parameters, data: cached, augment: false,
                phase: "head"
            ) { x, y in
                try Loss.crossEntropy(model.head.forward(x), targets: y)
            }
        }
        return try LocalLoop.run(context, epochs: headEpochs, parameters: parameters, phase: "head") { x, y in
            let features = try withoutGrad { try model.features(x) }
            return try Loss.crossEntropy(model.head.forward(features), targets: y)
        }
    }

    func trainBody(_ context: ClientTrainingContext, epochs: Int) throws -> PhaseResult {
        let model = context.model
        let frozen = model.head.parameters
        for p in frozen { try p.requiringGrad(false) }
        defer { for p in frozen { _ = try? p.requiringGrad(true) } }
        return try LocalLoop.run(
            context, epochs: epochs, parameters: model.body.parameters, phase: "body",
            loss: LocalLoop.crossEntropy(model))
    }

    /// Whether a layer behaves randomly or batch-dependently in training mode.
    static func isStochastic(_ layer: any Layer) -> Bool {
        if let dropout = layer as? Dropout { return dropout.probability > 0 }
        if layer is BatchNorm { return true }
        return layer.children.contains { isStochastic($0.layer) }
    }
}

extension HeadThenBodyTrainer: StackedTrainer {
    /// The same two phases for a stack: the head phase (with the cached features when `train(_:)`
    /// would cache them: a stackable body is deterministic), then the body phase.
    public func train(_ stack: ClientStack) throws -> [LocalTrainingReport] {
        let network = stack.network
        let headIndices = network.parameterIndices(under: "head")
        let head: [PhaseResult]
        if cacheFeatures, headEpochs > 1, stack.contexts.allSatisfy({ $0.augmentation == nil }) {
            // Each client's features in order, 256 samples at a time, as `trainHead` computes them.
            let cached = try withoutGrad {
                try stack.contexts.indices.map { s -> LabeledSamples in
                    let context = stack.contexts[s]
                    guard context.data.count > 0 else { return context.data }
                    let features = try Tensor.cat(context.data.orderedBatches(size: 256).map {
                        try network.features($0.inputs.unsqueezed(0), rows: s..<(s + 1)).squeezed(0)
                    })
                    return try LabeledSamples(inputs: features, labels: context.data.labelArray)
                }
            }
            head = try StackedLocalLoop.run(stack, epochs: headEpochs, parameters: headIndices, data: cached, augment: false,
                                            phase: "head") { rows, x, y in
                try StackedLocalLoop.crossEntropy(logits: network.head(x, rows: rows), labels: y)
            }
        } else {
            head = try StackedLocalLoop.run(stack, epochs: headEpochs, parameters: headIndices, phase: "head") { rows, x, y in
                let features = try withoutGrad { try network.features(x, rows: rows) }
                return try StackedLocalLoop.crossEntropy(logits: network.head(features, rows: rows), labels: y)
            }
        }
        let frozen = headIndices.map { network.parameters[$0].tensor }
        for p in frozen { try p.requiringGrad(false) }
        defer { for p in frozen { _ = try? p.requiringGrad(true) } }
        let body = try StackedLocalLoop.run(stack, epochs: bodyEpochs ?? stack.settings.epochs,
                                            parameters: network.parameterIndices(under: "body"), phase: "body",
                                            loss: StackedLocalLoop.crossEntropy(network))
        return zip(head, body).map { head, body in
            LocalTrainingReport(trainLoss: body.steps > 0 ? body.lastEpochLoss : head.lastEpochLoss, steps: head.steps + body.steps)
        }
    }
}
