import FedKit
import Foundation
import Torch

/// FedBKD's bidirectional knowledge distillation (DESIGN §6 step 4) on synthetic samples. The
/// defaults reproduce the authors' code (FedBKD/FedBKD a4ec319: main_fedbkd.py's distillation
/// loop, models/Update.py `LocalUpdateDFGAN.train`); see docs/fedbkd.md.
///
/// Synthetic set: `synthetic_set: per-class` asks the source for `samples / classes` samples of
/// every class in one call (a generator with fixed inputs returns G on exactly its fixed
/// inputs) and client k distils on all samples of its classes (published); `client-share`
/// draws `samples` in total, class-balanced over the sampled clients' classes, each class's
/// share split over the clients in proportion to w_{k,c} = n_{k,c} / sum_j n_{j,c}.
///
/// - global -> local (`g2l`): student theta_k (the client's model after local training),
///   teacher the global model as aggregated (fixed for the round); only theta_k's body is
///   updated, its head is frozen. The result replaces `context.teachers[k].state` (the model
///   the round's client is evaluated with under FedBKD's published rule).
/// - local -> global (`l2g`): student the running global model (`l2g_trains`: its body, as
///   published, or all of it), teacher theta_k as it was before its g2l update.
///   `order: sequential` distils client after client in sampled order (published);
///   `order: ensemble` runs one pass over all sets against the class-weighted teacher
///   ensemble, logits (features) sum_k w_{k,y} theta_k(x).
///
/// Loss, `space: features` (published): KL between softmaxes of the body's outputs
/// (penultimate features, flattened), no temperature, `kl: student-teacher` =
/// KL(softmax(student) || softmax(teacher)) as `LocalUpdateDFGAN.loss_func`. `space: logits`:
/// T^2 KL on logits at temperature T, plus `feature_weight` times the feature KL, plus
/// `label_weight` times the cross-entropy against the conditioning labels. `g2l_classes:
/// seen` restricts global -> local logits to the client's classes.
///
/// Steps: `per-batch` = one SGD step per mini-batch; `per-epoch-sum` = the loss summed over
/// all mini-batches, one step per epoch (published local -> global). SGD with momentum and
/// weight decay on weights (rank >= 2) only, a fresh optimiser per student and direction.
/// Students and teachers run in eval mode (no dropout; batch-norm statistics are not moved
/// toward synthetic data).
public struct BidirectionalDistiller: DistillerPlugin {
    public static let descriptor = PluginDescriptor(
        kind: .distiller, name: "bidirectional",
        summary: "global->local and local->global knowledge distillation on synthetic samples (FedBKD)",
        parameters: [
            .int("samples", default: 1000, min: 1,
                 doc: "synthetic samples per round in total (published --gan_train_nums 1000: `DF_gan.generate_data` makes all of them)"),
            .string("synthetic_set", default: "per-class", choices: ["per-class", "client-share"],
                    doc: "per-class: samples / classes of every class, each client distils on all samples of its classes (published: main_fedbkd.py `user_train_index`); client-share: split by each client's share w_{k,c} of each class"),
            .int("batch_size", min: 1, optional: true, doc: "distillation mini-batch size (default: batch_local_multiple x federation.batch_size)"),
            .int("batch_local_multiple", default: 2, min: 1,
                 doc: "mini-batch = this x the federation's local batch size, when batch_size is not set (published `LocalUpdateDFGAN.__init__`: local_bs * 2)"),
            .string("space", default: "features", choices: ["features", "logits"],
                    doc: "what is matched: the body's output, penultimate features (published: `middle_output` of `CNNCifarMulti.forward`), or the logits"),
            .string("kl", default: "student-teacher", choices: ["student-teacher", "teacher-student"],
                    doc: "KL(softmax(student) || softmax(teacher)) (published `LocalUpdateDFGAN.loss_func(middle_output, middle_labels)`) or KL(teacher || student) (Hinton)"),
            .int("g2l_epochs", default: 4, min: 0,
                 doc: "epochs of global -> local distillation per client (published --server_glo_eps 4, `LocalUpdateDFGAN.train`)"),
            .int("l2g_epochs", default: 3, min: 0,
                 doc: "epochs of local -> global distillation per client (published: global_iter = 3 when global_kd_local)"),
            .string("g2l_steps", default: "per-batch", choices: ["per-batch", "per-epoch-sum"],
                    doc: "global -> local: one SGD step per mini-batch (published) or one per epoch on the summed loss"),
            .string("l2g_steps", default: "per-epoch-sum", choices: ["per-batch", "per-epoch-sum"],
                    doc: "local -> global: one SGD step per epoch on the loss summed over the client's mini-batches (published: `loss += ...; loss.backward()` after the batch loop) or per mini-batch"),
            .string("l2g_trains", default: "body", choices: ["body", "all"],
                    doc: "local -> global: train only the global body (published: parameters outside w_glob_keys are frozen) or the whole global model"),
            .double("temperature", default: 1, min: 0, minExclusive: true,
                    doc: "softmax temperature T for space: logits (the KL is scaled by T^2); published --tem 10 divides only the head's logits, which the feature loss never reads"),
            .double("feature_weight", default: 0, min: 0,
                    doc: "space: logits: weight of an extra KL between softmaxed penultimate features"),
            .string("order", default: "sequential", choices: ["sequential", "ensemble"],
                    doc: "local -> global: client after client in sampled order (published), or one pass against the class-weighted teacher ensemble"),
            .string("directions", default: "both", choices: ["both", "g2l", "l2g"],
                    doc: "which distillation directions run (ablations: fedbkd-g2l, fedbkd-l2g)"),
            .double("label_weight", default: 0, min: 0,
                    doc: "space: logits: weight of an extra cross-entropy between each student and the synthetic samples' conditioning labels (0: pure distillation, as published)"),
            .string("g2l_classes", default: "all", choices: ["all", "seen"],
                    doc: "space: logits: global -> local matches the global model's logits over all classes, or only over the classes the client has data for"),
            .double("lr", default: 0.01, min: 0, minExclusive: true, doc: "SGD learning rate of the students (published: --lr 0.01, the local lr)"),
            .double("momentum", default: 0.5, min: 0, max: 0.999, doc: "SGD momentum (published 0.5)"),
            .double("weight_decay", default: 1e-4, min: 0, doc: "SGD weight decay on weights (rank >= 2 tensors) only (published 1e-4 on non-bias parameters)"),
        ])

    public enum Order: String, Sendable { case sequential, ensemble }
    public enum Space: String, Sendable { case features, logits }
    public enum StepSchedule: String, Sendable {
        case perBatch = "per-batch", perEpochSum = "per-epoch-sum"
    }

    public let samples: Int
    public let perClassSet: Bool
    public let batchSize: Int?
    public let batchLocalMultiple: Int
    public let space: Space
    /// KL(student || teacher) (published) instead of KL(teacher || student).
    public let studentFirstKL: Bool
    public let g2lEpochs: Int
    public let l2gEpochs: Int
    public let g2lSchedule: StepSchedule
    public let l2gSchedule: StepSchedule
    /// Local -> global trains only the global body.
    public let l2gBodyOnly: Bool
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
        func choice<T: RawRepresentable>(_ name: String, _ type: T.Type) throws -> T where T.RawValue == String {
            guard let value = T(rawValue: p.string(name)) else {
                throw PluginError("bidirectional: unknown \(name) '\(p.string(name))'")
            }
            return value
        }
        samples = p.int("samples")
        guard ["per-class", "client-share"].contains(p.string("synthetic_set")) else {
            throw PluginError("bidirectional: synthetic_set must be per-class or client-share, got '\(p.string("synthetic_set"))'")
        }
        perClassSet = p.string("synthetic_set") == "per-class"
        batchSize = p.optionalInt("batch_size")
        batchLocalMultiple = p.int("batch_local_multiple")
        space = try choice("space", Space.self)
        guard ["student-teacher", "teacher-student"].contains(p.string("kl")) else {
            throw PluginError("bidirectional: kl must be student-teacher or teacher-student, got '\(p.string("kl"))'")
        }
        studentFirstKL = p.string("kl") == "student-teacher"
        g2lEpochs = p.int("g2l_epochs")
        l2gEpochs = p.int("l2g_epochs")
        g2lSchedule = try choice("g2l_steps", StepSchedule.self)
        l2gSchedule = try choice("l2g_steps", StepSchedule.self)
        guard ["body", "all"].contains(p.string("l2g_trains")) else {
            throw PluginError("bidirectional: l2g_trains must be body or all, got '\(p.string("l2g_trains"))'")
        }
        l2gBodyOnly = p.string("l2g_trains") == "body"
        temperature = p.double("temperature")
        featureWeight = p.double("feature_weight")
        labelWeight = p.double("label_weight")
        order = try choice("order", Order.self)
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
        guard samples >= 1, (batchSize ?? 1) >= 1, temperature > 0, learningRate > 0 else {
            throw PluginError("bidirectional: samples, batch_size, temperature and lr must be positive")
        }
        if space == .features {
            for (name, value) in [("feature_weight", featureWeight), ("label_weight", labelWeight)] where value != 0 {
                throw PluginError("bidirectional: \(name) applies to space: logits (space: features already matches the features only)")
            }
            guard !globalToLocalSeenClassesOnly else {
                throw PluginError("bidirectional: g2l_classes: seen restricts logits and needs space: logits")
            }
        }
    }

    /// A model's outputs on a synthetic set: logits and flattened body outputs (penultimate features).
    struct Outputs {
        var logits: Tensor
        var features: Tensor

        func rows(_ index: Tensor) throws -> Outputs {
            Outputs(logits: try logits.indexSelect(dim: 0, index), features: try features.indexSelect(dim: 0, index))
        }
    }

    /// The mini-batch size for this round.
    func distillationBatchSize(_ context: ServerRoundContext) throws -> Int {
        if let batchSize { return batchSize }
        guard let local = context.localBatchSize else {
            throw PluginError("bidirectional: batch_size is not set and the round has no federation batch size to multiply")
        }
        return batchLocalMultiple * local
    }

    /// Per-client synthetic labels and the request to the source (one call for all samples).
    func syntheticLabels(_ context: ServerRoundContext, weights: [[Double]]) throws -> [[Int]] {
        if perClassSet {
            let perClass = samples / context.classes
            guard perClass >= 1 else {
                throw PluginError("bidirectional: samples (\(samples)) give no sample per class over \(context.classes) classes")
            }
            return weights.map { w in (0..<context.classes).filter { w[$0] > 0 }.flatMap { [Int](repeating: $0, count: perClass) } }
        }
        return try Self.allocate(total: samples, weights: weights, classes: context.classes, generator: context.generator)
    }

    /// The synthetic inputs for each client: with `per-class`, one source call for every class
    /// (as the published `generate_data`) and each client's rows of its classes.
    func syntheticSets(_ context: ServerRoundContext, labels: [[Int]], source: any SyntheticDataSource, shape: [Int]) throws -> [Tensor?] {
        func checked(_ x: Tensor, _ n: Int) throws -> Tensor {
            guard x.shape == [n] + shape else {
                throw PluginError("bidirectional: the synthetic source gave samples of shape \(x.shape), expected \([n] + shape)")
            }
            return x
        }
        if perClassSet {
            let perClass = samples / context.classes
            let all = (0..<context.classes).flatMap { [Int](repeating: $0, count: perClass) }
            let x = try checked(withoutGrad { try source.sample(labels: Tensor(all), generator: context.generator) }, all.count)
            return try labels.map { l in
                guard !l.isEmpty else { return nil }
                let classes = Array(Set(l)).sorted()
                let rows = classes.flatMap { c in (c * perClass)..<((c + 1) * perClass) }
                return try x.indexSelect(dim: 0, Tensor(rows))
            }
        }
        return try labels.map { l in
            guard !l.isEmpty else { return nil }
            return try checked(withoutGrad { try source.sample(labels: Tensor(l), generator: context.generator) }, l.count)
        }
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
        let batch = try distillationBatchSize(context)
        let weights = TeacherWeights.make(teachers, classes: context.classes)
        let labels = try syntheticLabels(context, weights: weights)
        let sets = try syntheticSets(context, labels: labels, source: source, shape: shape)
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
                let weighted = Outputs(logits: try o.logits * w, features: try o.features * w)
                if let e = ensemble {
                    ensemble = Outputs(logits: try e.logits + weighted.logits, features: try e.features + weighted.features)
                } else {
                    ensemble = weighted
                }
            }
            union = unionInputs.map { ($0, unionLabels, ensemble!) }
        }

        // Global -> local: each client model's body learns from the aggregated global model.
        if globalToLocal {
            var before: [Double] = [], after: [Double] = []
            var steps = 0
            for k in active {
                let x = sets[k]!
                try student.load(teachers[k].state)
                // With `g2l_classes: seen`, both softmaxes are restricted to the client's classes.
                let mask = globalToLocalSeenClassesOnly ? try Self.seenClassMask(weights[k]) : nil
                var targets = globalBefore[k]!
                if let mask { targets.logits = try targets.logits + mask }
                before.append(try divergence(student: teacherBefore[k]!, targets: targets, logitMask: mask))
                if g2lEpochs > 0 {
                    let freeze = try GradientFreeze(student.head.parameters)
                    defer { try? freeze.restore() }
                    steps += try fit(student, parameters: student.body.parameters, inputs: x, labels: labels[k], targets: targets,
                                     epochs: g2lEpochs, schedule: g2lSchedule, batchSize: batch, kind: kind,
                                     generator: context.generator, logitMask: mask)
                }
                after.append(try divergence(student: outputs(student, x, kind: kind, grad: false), targets: targets, logitMask: mask))
                context.teachers[k].state = try student.stateDict().copy()
            }
            context.metrics["distill.g2l.kl_before"] = Self.mean(before)
            context.metrics["distill.g2l.kl_after"] = Self.mean(after)
            context.metrics["distill.g2l.steps"] = Double(steps)
        }

        // Local -> global: the global model learns each client's specialty.
        if localToGlobal {
            let before = try active.map { try divergence(student: globalBefore[$0]!, targets: teacherBefore[$0]!) }
            var steps = 0
            if l2gEpochs > 0 {
                let trained = l2gBodyOnly ? global.body.parameters : global.parameters
                let freeze = try GradientFreeze(l2gBodyOnly ? global.head.parameters : [])
                defer { try? freeze.restore() }
                if let union {
                    steps += try fit(global, parameters: trained, inputs: union.inputs, labels: union.labels, targets: union.targets,
                                     epochs: l2gEpochs, schedule: l2gSchedule, batchSize: batch, kind: kind, generator: context.generator)
                } else {
                    for k in active {
                        steps += try fit(global, parameters: trained, inputs: sets[k]!, labels: labels[k], targets: teacherBefore[k]!,
                                         epochs: l2gEpochs, schedule: l2gSchedule, batchSize: batch, kind: kind, generator: context.generator)
                    }
                }
            }
            let after = try active.map {
                try divergence(student: outputs(global, sets[$0]!, kind: kind, grad: false), targets: teacherBefore[$0]!)
            }
            context.metrics["distill.l2g.kl_before"] = Self.mean(before)
            context.metrics["distill.l2g.kl_after"] = Self.mean(after)
            context.metrics["distill.l2g.steps"] = Double(steps)
        }
        context.metrics["distill.samples"] = Double(active.reduce(0) { $0 + sets[$1]!.shape[0] })
        context.metrics["distill.seconds"] = Date().timeIntervalSince(start)
    }

    /// Logits and flattened body outputs of `network` on synthetic samples.
    func outputs(_ network: Network, _ x: Tensor, kind: InputKind, grad: Bool) throws -> Outputs {
        let run = {
            let f = try network.body.forward(x, startingAt: SampleSpace.firstLayer(network, kind: kind))
            return Outputs(logits: try network.head.forward(f), features: try f.flattened(from: 1))
        }
        return grad ? try run() : try withoutGrad(run)
    }

    /// KL between the softmaxes of student and teacher values at temperature T (T^2-scaled),
    /// in the configured direction; the teacher side carries no gradient.
    func kl(student: Tensor, teacher: Tensor, temperature t: Double) throws -> Tensor {
        guard studentFirstKL else { return try Loss.distillationKL(student: student, teacher: teacher, temperature: t) }
        guard student.shape == teacher.shape, student.rank == 2 else {
            throw PluginError("bidirectional: student and teacher outputs differ in shape: \(student.shape) vs \(teacher.shape)")
        }
        let s = try F.logSoftmax(student / t, dim: 1)
        let q = try F.logSoftmax(teacher.detached() / t, dim: 1)
        return try Loss.klDivergence(logP: s, logQ: q) * (t * t)
    }

    /// The distillation loss of a batch (without the label term).
    func distillationLoss(student out: Outputs, targets: Outputs) throws -> Tensor {
        switch space {
        case .features:
            return try kl(student: out.features, teacher: targets.features, temperature: 1)
        case .logits:
            var loss = try kl(student: out.logits, teacher: targets.logits, temperature: temperature)
            if featureWeight > 0 {
                loss = try loss + kl(student: out.features, teacher: targets.features, temperature: temperature) * featureWeight
            }
            return loss
        }
    }

    /// The distillation loss over a whole set (for the before/after metrics).
    func divergence(student: Outputs, targets: Outputs, logitMask: Tensor? = nil) throws -> Double {
        var s = student
        if let logitMask { s.logits = try s.logits + logitMask }
        return try withoutGrad { try distillationLoss(student: s, targets: targets).item() }
    }

    /// Trains `parameters` of `network` to match `targets` on `inputs` (shuffled mini-batches)
    /// with SGD; returns how many optimiser steps it took. `logitMask` (0 for kept classes, a
    /// large negative number for the others) is added to the student's logits; the targets
    /// come already masked.
    func fit(_ network: Network, parameters: [Tensor], inputs: Tensor, labels: [Int], targets: Outputs, epochs: Int,
             schedule: StepSchedule, batchSize: Int, kind: InputKind, generator: RandomGenerator,
             logitMask: Tensor? = nil) throws -> Int {
        let n = inputs.shape[0]
        let y = try Tensor(labels)
        guard n > 0, !parameters.isEmpty, epochs > 0 else { return 0 }
        let optimizer = try SGD(ParameterGroup.decayingWeightsOnly(parameters, weightDecay: weightDecay),
                                learningRate: learningRate, momentum: momentum)
        defer { for p in parameters { try? p.zeroGrad() } }
        var steps = 0
        for epoch in 1...epochs {
            let permutation = try Tensor.randperm(n, generator: generator)
            if schedule == .perEpochSum { try optimizer.zeroGrad() }
            for start in stride(from: 0, to: n, by: batchSize) {
                let index = try permutation.slice(dim: 0, start..<min(n, start + batchSize))
                var out = try outputs(network, inputs.indexSelect(dim: 0, index), kind: kind, grad: true)
                if let logitMask { out.logits = try out.logits + logitMask }
                var loss = try distillationLoss(student: out, targets: targets.rows(index))
                if labelWeight > 0 {
                    loss = try loss + Loss.crossEntropy(out.logits, targets: y.indexSelect(dim: 0, index)) * labelWeight
                }
                let value = try loss.item()
                guard value.isFinite else {
                    throw PluginError("bidirectional: the distillation loss became \(value) at epoch \(epoch) (try a smaller lr)")
                }
                switch schedule {
                case .perBatch:
                    try optimizer.zeroGrad()
                    try loss.backward()
                    try optimizer.step()
                    steps += 1
                case .perEpochSum:
                    // Gradients accumulate: after the loop they are those of the summed loss.
                    try loss.backward()
                }
            }
            if schedule == .perEpochSum {
                try optimizer.step()
                steps += 1
            }
        }
        return steps
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

    /// A [1, classes] row: 0 for the classes a client has data for (weight > 0), -1e4 for the
    /// others, so that softmax gives them probability 0 (exactly, in float32) and KL stays finite.
    static func seenClassMask(_ weights: [Double]) throws -> Tensor {
        try Tensor(weights.map { $0 > 0 ? Float(0) : Float(-1e4) }, shape: [1, weights.count])
    }

    static func mean(_ values: [Double]) -> Double { values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count) }
}
