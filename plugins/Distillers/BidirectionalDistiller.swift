import FedKit
import Foundation
import Torch

/// FedBKD's bidirectional knowledge distillation (DESIGN §6 step 4) on synthetic samples.
///
/// Each round draws `samples` synthetic inputs in total, class-balanced over the classes the
/// sampled clients have seen; each class's share is split over the clients in proportion to
/// w_{k,c} = n_{k,c} / sum_j n_{j,c} (largest remainder), so client k's set holds only its
/// own classes, weighted by its share of each. Then:
/// - global -> local (`g2l`): student theta_k (the client's personal model, loaded into a
///   workspace network), teacher the global model as aggregated (before any local -> global
///   update); only theta_k's body is updated, its head is frozen. The result replaces
///   `context.teachers[k].state`.
/// - local -> global (`l2g`): student the live global model, teacher theta_k as it was before
///   its g2l update. `order: sequential` distils client after client on each client's own set
///   (as published); `order: ensemble` runs one pass over all sets against the class-weighted
///   teacher ensemble, logits sum_k w_{k,y} theta_k(x).
/// Loss: T^2 KL(softmax(teacher/T) || softmax(student/T)) on logits, plus `feature_weight`
/// times the same KL on the body's output (penultimate features, flattened, softmax over the
/// feature dimension), plus `label_weight` times the cross-entropy against the samples'
/// conditioning labels (off by default). `g2l_classes: seen` restricts global -> local to the
/// client's classes: the global model's relative beliefs among them, which the personal head can
/// express, instead of its full distribution (see docs/fedbkd.md). Students run in eval mode (no dropout; batch-norm statistics are not
/// moved toward synthetic data); SGD with momentum, a fresh optimiser per student and direction.
public struct BidirectionalDistiller: DistillerPlugin {
    public static let descriptor = PluginDescriptor(
        kind: .distiller, name: "bidirectional",
        summary: "global->local and local->global knowledge distillation on synthetic samples (FedBKD)",
        parameters: [
            .int("samples", default: 1000, min: 1,
                 doc: "synthetic samples per round in total, class-balanced over the sampled clients' classes and split over clients by their share of each class"),
            .int("batch_size", default: 64, min: 1, doc: "distillation mini-batch size"),
            .int("g2l_epochs", default: 3, min: 0, doc: "epochs of global -> local distillation (personal model's body) per client"),
            .int("l2g_epochs", default: 4, min: 0, doc: "epochs of local -> global distillation (global model)"),
            .double("temperature", default: 1, min: 0, minExclusive: true, doc: "softmax temperature T; the KL is scaled by T^2"),
            .double("feature_weight", default: 0, min: 0,
                    doc: "weight of the extra KL between softmaxed penultimate features (body outputs)"),
            .string("order", default: "sequential", choices: ["sequential", "ensemble"],
                    doc: "local -> global: client after client (published), or one pass against the class-weighted teacher ensemble"),
            .string("directions", default: "both", choices: ["both", "g2l", "l2g"],
                    doc: "which distillation directions run (ablations: fedbkd-g2l, fedbkd-l2g)"),
            .double("label_weight", default: 0, min: 0,
                    doc: "weight of an extra cross-entropy between each student and the synthetic samples' conditioning labels (0: pure distillation, as published; meaningful only with a generator)"),
            .string("g2l_classes", default: "all", choices: ["all", "seen"],
                    doc: "global -> local: match the global model's logits over all classes (published), or only over the classes the client has data for (both softmaxes restricted to them: the personal head knows only those)"),
            .double("lr", default: 0.01, min: 0, minExclusive: true, doc: "SGD learning rate of the students"),
            .double("momentum", default: 0.5, min: 0, max: 0.999, doc: "SGD momentum"),
            .double("weight_decay", default: 0, min: 0, doc: "SGD weight decay on weights (rank >= 2 tensors) only"),
        ])

    public enum Order: String, Sendable { case sequential, ensemble }

    public let samples: Int
    public let batchSize: Int
    public let g2lEpochs: Int
    public let l2gEpochs: Int
    public let temperature: Double
    public let featureWeight: Double
    public let labelWeight: Double
    public let order: Order
    /// Global -> local distils only over the client's seen classes (`g2l_classes: seen`).
    public let globalToLocalSeenClassesOnly: Bool
    public let globalToLocal: Bool
    public let localToGlobal: Bool
    public let learningRate: Double
    public let momentum: Double
    public let weightDecay: Double

    public init(parameters: Parameters) throws {
        let p = Self.withDefaults(parameters)
        samples = p.int("samples")
        batchSize = p.int("batch_size")
        g2lEpochs = p.int("g2l_epochs")
        l2gEpochs = p.int("l2g_epochs")
        temperature = p.double("temperature")
        featureWeight = p.double("feature_weight")
        labelWeight = p.double("label_weight")
        guard let order = Order(rawValue: p.string("order")) else {
            throw PluginError("bidirectional: order must be sequential or ensemble, got '\(p.string("order"))'")
        }
        self.order = order
        guard ["all", "seen"].contains(p.string("g2l_classes")) else {
            throw PluginError("bidirectional: g2l_classes must be all or seen, got '\(p.string("g2l_classes"))'")
        }
        globalToLocalSeenClassesOnly = p.string("g2l_classes") == "seen"
        let directions = p.string("directions")
        guard ["both", "g2l", "l2g"].contains(directions) else {
            throw PluginError("bidirectional: directions must be both, g2l or l2g, got '\(directions)'")
        }
        globalToLocal = directions != "l2g"
        localToGlobal = directions != "g2l"
        learningRate = p.double("lr")
        momentum = p.double("momentum")
        weightDecay = p.double("weight_decay")
        guard samples >= 1, batchSize >= 1, temperature > 0, learningRate > 0 else {
            throw PluginError("bidirectional: samples, batch_size, temperature and lr must be positive")
        }
    }

    /// A model's outputs on a synthetic set: logits and, when the feature term is on, flattened body outputs.
    struct Outputs {
        var logits: Tensor
        var features: Tensor?
    }

    public func distill(_ context: ServerRoundContext, source: any SyntheticDataSource) throws {
        let start = Date()
        let teachers = context.teachers
        guard !teachers.isEmpty, globalToLocal || localToGlobal else { return }
        guard let student = context.workspace.first else {
            throw PluginError("bidirectional: the server round has no workspace network for the client models")
        }
        let kind = context.inputKind
        let shape = try SampleSpace.shape(context)
        let weights = TeacherWeights.make(teachers, classes: context.classes)
        let labels = try Self.allocate(total: samples, weights: weights, classes: context.classes, generator: context.generator)

        let sets: [Tensor?] = try labels.map { l in
            guard !l.isEmpty else { return nil }
            let x = try withoutGrad { try source.sample(labels: Tensor(l), generator: context.generator) }
            guard x.shape == [l.count] + shape else {
                throw PluginError("bidirectional: the synthetic source gave samples of shape \(x.shape), expected \([l.count] + shape)")
            }
            return x
        }
        let active = teachers.indices.filter { sets[$0] != nil }

        let global = context.global
        global.setTraining(false)
        student.setTraining(false)
        defer {
            global.setTraining(true)
            student.setTraining(true)
        }
        // Teachers' outputs, all taken before any model changes.
        var globalBefore: [Int: Outputs] = [:]
        var teacherBefore: [Int: Outputs] = [:]
        for k in active {
            globalBefore[k] = try outputs(global, sets[k]!, kind: kind, grad: false)
        }
        let union: (inputs: Tensor, labels: [Int], targets: Outputs)?
        do {
            let needsEnsemble = localToGlobal && order == .ensemble && l2gEpochs > 0
            let unionInputs = needsEnsemble ? try Tensor.cat(active.map { sets[$0]! }) : nil
            let unionLabels = active.flatMap { labels[$0] }
            var ensemble: Outputs?
            for k in active {
                try student.load(teachers[k].state)
                teacherBefore[k] = try outputs(student, sets[k]!, kind: kind, grad: false)
                guard let unionInputs else { continue }
                let w = try Tensor(unionLabels.map { Float(weights[k][$0]) }, shape: [unionLabels.count, 1])
                let o = try outputs(student, unionInputs, kind: kind, grad: false)
                let logits = try o.logits * w
                let features = try o.features.map { try $0 * w }
                if let e = ensemble {
                    ensemble = Outputs(logits: try e.logits + logits, features: try e.features.map { try $0 + features! })
                } else {
                    ensemble = Outputs(logits: logits, features: features)
                }
            }
            union = unionInputs.map { ($0, unionLabels, ensemble!) }
        }

        // Global -> local: each personal model's body learns from the aggregated global model.
        if globalToLocal {
            var before: [Double] = [], after: [Double] = []
            for k in active {
                let x = sets[k]!
                try student.load(teachers[k].state)
                // With `g2l_classes: seen`, both softmaxes are restricted to the client's classes.
                let mask = globalToLocalSeenClassesOnly ? try Self.seenClassMask(weights[k]) : nil
                let masked = { (logits: Tensor) throws -> Tensor in try mask.map { try logits + $0 } ?? logits }
                var targets = globalBefore[k]!
                targets.logits = try masked(targets.logits)
                before.append(try Self.kl(teacher: targets.logits, student: masked(teacherBefore[k]!.logits)))
                if g2lEpochs > 0 {
                    let freeze = try GradientFreeze(student.head.parameters)
                    defer { try? freeze.restore() }
                    try fit(student, parameters: student.body.parameters, inputs: x, labels: labels[k], targets: targets,
                            epochs: g2lEpochs, kind: kind, generator: context.generator, logitMask: mask)
                }
                after.append(try Self.kl(teacher: targets.logits, student: masked(outputs(student, x, kind: kind, grad: false).logits)))
                context.teachers[k].state = try student.stateDict().copy()
            }
            context.metrics["distill.g2l.kl_before"] = Self.mean(before)
            context.metrics["distill.g2l.kl_after"] = Self.mean(after)
        }

        // Local -> global: the global model learns each client's specialty.
        if localToGlobal {
            let before = try active.map { try Self.kl(teacher: teacherBefore[$0]!.logits, student: globalBefore[$0]!.logits) }
            if l2gEpochs > 0 {
                if let union {
                    try fit(global, parameters: global.parameters, inputs: union.inputs, labels: union.labels, targets: union.targets,
                            epochs: l2gEpochs, kind: kind, generator: context.generator)
                } else {
                    for k in active {
                        try fit(global, parameters: global.parameters, inputs: sets[k]!, labels: labels[k], targets: teacherBefore[k]!,
                                epochs: l2gEpochs, kind: kind, generator: context.generator)
                    }
                }
            }
            let after = try active.map {
                try Self.kl(teacher: teacherBefore[$0]!.logits, student: outputs(global, sets[$0]!, kind: kind, grad: false).logits)
            }
            context.metrics["distill.l2g.kl_before"] = Self.mean(before)
            context.metrics["distill.l2g.kl_after"] = Self.mean(after)
        }
        context.metrics["distill.samples"] = Double(labels.reduce(0) { $0 + $1.count })
        context.metrics["distill.seconds"] = Date().timeIntervalSince(start)
    }

    /// Logits (and features when `feature_weight` > 0) of `network` on synthetic samples.
    func outputs(_ network: Network, _ x: Tensor, kind: InputKind, grad: Bool) throws -> Outputs {
        let run = {
            let f = try network.body.forward(x, startingAt: SampleSpace.firstLayer(network, kind: kind))
            return Outputs(logits: try network.head.forward(f), features: self.featureWeight > 0 ? try f.flattened(from: 1) : nil)
        }
        return grad ? try run() : try withoutGrad(run)
    }

    /// Trains `parameters` of `network` to match `targets` on `inputs`: shuffled mini-batches,
    /// T^2 KL on logits (+ feature term, + label cross-entropy), SGD with momentum.
    /// `logitMask` (0 for kept classes, a large negative number for the others) is added to the
    /// student's logits; the targets come already masked.
    func fit(_ network: Network, parameters: [Tensor], inputs: Tensor, labels: [Int], targets: Outputs, epochs: Int,
             kind: InputKind, generator: RandomGenerator, logitMask: Tensor? = nil) throws {
        let n = inputs.shape[0]
        let y = try Tensor(labels)
        guard n > 0, !parameters.isEmpty else { return }
        let optimizer = try SGD(ParameterGroup.decayingWeightsOnly(parameters, weightDecay: weightDecay),
                                learningRate: learningRate, momentum: momentum)
        defer { for p in parameters { try? p.zeroGrad() } }
        for epoch in 1...epochs {
            let permutation = try Tensor.randperm(n, generator: generator)
            for start in stride(from: 0, to: n, by: batchSize) {
                let index = try permutation.slice(dim: 0, start..<min(n, start + batchSize))
                var out = try outputs(network, inputs.indexSelect(dim: 0, index), kind: kind, grad: true)
                if let logitMask { out.logits = try out.logits + logitMask }
                var loss = try Loss.distillationKL(student: out.logits, teacher: targets.logits.indexSelect(dim: 0, index),
                                                   temperature: temperature)
                if featureWeight > 0, let f = out.features, let t = targets.features {
                    loss = try loss + Loss.distillationKL(student: f, teacher: t.indexSelect(dim: 0, index), temperature: temperature) * featureWeight
                }
                if labelWeight > 0 {
                    loss = try loss + Loss.crossEntropy(out.logits, targets: y.indexSelect(dim: 0, index)) * labelWeight
                }
                let value = try loss.item()
                guard value.isFinite else {
                    throw PluginError("bidirectional: the distillation loss became \(value) at epoch \(epoch) (try a smaller lr)")
                }
                try optimizer.zeroGrad()
                try loss.backward()
                try optimizer.step()
            }
        }
    }

    /// Per-client synthetic labels: `total` samples class-balanced over the seen classes (the
    /// remainder goes to a seeded random choice of classes), each class's count split over the
    /// clients in proportion to w_{k,c} by largest remainder (ties to the earlier client).
    static func allocate(total: Int, weights: [[Double]], classes: Int, generator: RandomGenerator) throws -> [[Int]] {
        var result = weights.map { _ in [Int]() }
        let seen = TeacherWeights.seenClasses(weights, classes: classes)
        guard !seen.isEmpty else { return result }
        var perClass = [Int](repeating: total / seen.count, count: seen.count)
        let extra = total % seen.count
        if extra > 0 {
            for i in try Tensor.randperm(seen.count, generator: generator).ints().prefix(extra) { perClass[i] += 1 }
        }
        for (i, c) in seen.enumerated() {
            let shares = largestRemainder(perClass[i], weights.map { $0[c] })
            for k in shares.indices where shares[k] > 0 { result[k] += Array(repeating: c, count: shares[k]) }
        }
        return result
    }

    /// Splits `n` into integers proportional to `weights` (which sum to 1), summing exactly to `n`.
    static func largestRemainder(_ n: Int, _ weights: [Double]) -> [Int] {
        let exact = weights.map { $0 * Double(n) }
        var shares = exact.map { Int($0.rounded(.down)) }
        let order = exact.indices.sorted { a, b in
            let ra = exact[a] - Double(shares[a]), rb = exact[b] - Double(shares[b])
            return ra != rb ? ra > rb : a < b
        }
        var left = n - shares.reduce(0, +)
        for i in order where left > 0 && weights[i] > 0 {
            shares[i] += 1
            left -= 1
        }
        return shares
    }

    /// KL(softmax(teacher) || softmax(student)) at temperature 1, averaged over samples.
    static func kl(teacher: Tensor, student: Tensor) throws -> Double {
        try withoutGrad { try Loss.klDivergence(logP: F.logSoftmax(teacher, dim: 1), logQ: F.logSoftmax(student, dim: 1)).item() }
    }

    /// A [1, classes] row: 0 for the classes a client has data for (weight > 0), -1e4 for the
    /// others, so that softmax gives them probability 0 (exactly, in float32) and KL stays finite.
    static func seenClassMask(_ weights: [Double]) throws -> Tensor {
        try Tensor(weights.map { $0 > 0 ? Float(0) : Float(-1e4) }, shape: [1, weights.count])
    }

    static func mean(_ values: [Double]) -> Double { values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count) }
}
