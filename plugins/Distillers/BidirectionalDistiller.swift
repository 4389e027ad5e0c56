import FedKit
import Foundation
import Torch

/// FedBKD's bidirectional knowledge distillation (docs/design.md §6, step 4) on synthetic samples. The
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
///   updated, its head is frozen. The result is returned as client k's model after distillation
///   (`DistillationResult.personal`: the model the round's client is evaluated with under
///   FedBKD's published rule).
/// - local -> global (`l2g`): student the running global model (`context.global`, the server's
///   copy, returned as `DistillationResult.global`; `l2g_trains`: its body, as
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
        keys: [
            samples, syntheticSet, batchSize, batchLocalMultiple, space, kl, g2lEpochs, l2gEpochs, g2lSteps, l2gSteps,
            l2gTrains, temperature, featureWeight, order, directions, labelWeight, g2lClasses, learningRate, momentum,
            weightDecay,
        ])

    public static let samples = ParameterKey.int(
        "samples", default: 1000, min: 1,
        doc:
            "synthetic samples per round in total (published --gan_train_nums 1000: `DF_gan.generate_data` makes all of them)"
    )
    public static let syntheticSet = ParameterKey.choice(
        "synthetic_set", default: SyntheticSet.perClass,
        doc:
            "per-class: samples / classes of every class, each client distils on all samples of its classes (published: main_fedbkd.py `user_train_index`); client-share: split by each client's share w_{k,c} of each class"
    )
    public static let batchSize = ParameterKey.optionalInt(
        "batch_size", min: 1,
        doc: "distillation mini-batch size (default: batch_local_multiple x federation.batch_size)")
    public static let batchLocalMultiple = ParameterKey.int(
        "batch_local_multiple", default: 2, min: 1,
        doc:
            "mini-batch = this x the federation's local batch size, when batch_size is not set (published `LocalUpdateDFGAN.__init__`: local_bs * 2)"
    )
    public static let space = ParameterKey.choice(
        "space", default: Space.features,
        doc:
            "what is matched: the body's output, penultimate features (published: `middle_output` of `CNNCifarMulti.forward`), or the logits"
    )
    public static let kl = ParameterKey.choice(
        "kl", default: KLDirection.studentTeacher,
        doc:
            "KL(softmax(student) || softmax(teacher)) (published `LocalUpdateDFGAN.loss_func(middle_output, middle_labels)`) or KL(teacher || student) (Hinton)"
    )
    public static let g2lEpochs = ParameterKey.int(
        "g2l_epochs", default: 4, min: 0,
        doc:
            "epochs of global -> local distillation per client (published --server_glo_eps 4, `LocalUpdateDFGAN.train`)"
    )
    public static let l2gEpochs = ParameterKey.int(
        "l2g_epochs", default: 3, min: 0,
        doc: "epochs of local -> global distillation per client (published: global_iter = 3 when global_kd_local)")
    public static let g2lSteps = ParameterKey.choice(
        "g2l_steps", default: StepSchedule.perBatch,
        doc: "global -> local: one SGD step per mini-batch (published) or one per epoch on the summed loss")
    public static let l2gSteps = ParameterKey.choice(
        "l2g_steps", default: StepSchedule.perEpochSum,
        doc:
            "local -> global: one SGD step per epoch on the loss summed over the client's mini-batches (published: `loss += ...; loss.backward()` after the batch loop) or per mini-batch"
    )
    public static let l2gTrains = ParameterKey.choice(
        "l2g_trains", default: TrainedPart.body,
        doc:
            "local -> global: train only the global body (published: parameters outside w_glob_keys are frozen) or the whole global model"
    )
    public static let temperature = ParameterKey.double(
        "temperature", default: 1, min: 0, minExclusive: true,
        doc:
            "softmax temperature T for space: logits (the KL is scaled by T^2); published --tem 10 divides only the head's logits, which the feature loss never reads"
    )
    public static let featureWeight = ParameterKey.double(
        "feature_weight", default: 0, min: 0,
        doc: "space: logits: weight of an extra KL between softmaxed penultimate features")
    public static let order = ParameterKey.choice(
        "order", default: Order.sequential,
        doc:
            "local -> global: client after client in sampled order (published), or one pass against the class-weighted teacher ensemble"
    )
    public static let directions = ParameterKey.choice(
        "directions", default: Directions.both,
        doc: "which distillation directions run (ablations: fedbkd-g2l, fedbkd-l2g)")
    public static let labelWeight = ParameterKey.double(
        "label_weight", default: 0, min: 0,
        doc:
            "space: logits: weight of an extra cross-entropy between each student and the synthetic samples' conditioning labels (0: pure distillation, as published)"
    )
    public static let g2lClasses = ParameterKey.choice(
        "g2l_classes", default: ClassSet.all,
        doc:
            "space: logits: global -> local matches the global model's logits over all classes, or only over the classes the client has data for"
    )
    public static let learningRate = ParameterKey.double(
        "lr", default: 0.01, min: 0, minExclusive: true,
        doc: "SGD learning rate of the students (published: --lr 0.01, the local lr)")
    public static let momentum = ParameterKey.double(
        "momentum", default: 0.5, min: 0, max: 0.999, doc: "SGD momentum (published 0.5)")
    public static let weightDecay = ParameterKey.double(
        "weight_decay", default: 1e-4, min: 0,
        doc: "SGD weight decay on weights (rank >= 2 tensors) only (published 1e-4 on non-bias parameters)")

    /// How the synthetic set is split over the clients (`synthetic_set`).
    public enum SyntheticSet: String, CaseIterable, Sendable {
        case perClass = "per-class"
        case clientShare = "client-share"
    }
    /// Local -> global order (`order`).
    public enum Order: String, CaseIterable, Sendable { case sequential, ensemble }
    /// What is matched (`space`).
    public enum Space: String, CaseIterable, Sendable { case features, logits }
    /// The KL's direction (`kl`).
    public enum KLDirection: String, CaseIterable, Sendable {
        case studentTeacher = "student-teacher"
        case teacherStudent = "teacher-student"
    }
    /// When the optimiser steps (`g2l_steps`, `l2g_steps`).
    public enum StepSchedule: String, CaseIterable, Sendable {
        case perBatch = "per-batch", perEpochSum = "per-epoch-sum"
    }
    /// The part of the global model local -> global trains (`l2g_trains`).
    public enum TrainedPart: String, CaseIterable, Sendable { case body, all }
    /// Which distillation directions run (`directions`).
    public enum Directions: String, CaseIterable, Sendable { case both, g2l, l2g }
    /// The classes global -> local matches logits over (`g2l_classes`).
    public enum ClassSet: String, CaseIterable, Sendable { case all, seen }

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

    public init(parameters p: Parameters) throws {
        samples = p[Self.samples]
        perClassSet = p[Self.syntheticSet] == .perClass
        batchSize = p[Self.batchSize]
        batchLocalMultiple = p[Self.batchLocalMultiple]
        space = p[Self.space]
        studentFirstKL = p[Self.kl] == .studentTeacher
        g2lEpochs = p[Self.g2lEpochs]
        l2gEpochs = p[Self.l2gEpochs]
        g2lSchedule = p[Self.g2lSteps]
        l2gSchedule = p[Self.l2gSteps]
        l2gBodyOnly = p[Self.l2gTrains] == .body
        temperature = p[Self.temperature]
        featureWeight = p[Self.featureWeight]
        labelWeight = p[Self.labelWeight]
        order = p[Self.order]
        globalToLocalSeenClassesOnly = p[Self.g2lClasses] == .seen
        globalToLocal = p[Self.directions] != .l2g
        localToGlobal = p[Self.directions] != .g2l
        learningRate = p[Self.learningRate]
        momentum = p[Self.momentum]
        weightDecay = p[Self.weightDecay]
    }

    /// `feature_weight`, `label_weight` and `g2l_classes: seen` act on logits: with `space:
    /// features` they would be silently ignored.
    public func validate() throws {
        guard space == .features else { return }
        for (name, value) in [("feature_weight", featureWeight), ("label_weight", labelWeight)] where value != 0 {
            throw PluginError(
                "bidirectional: \(name) applies to space: logits (space: features already matches the features only)")
        }
        guard !globalToLocalSeenClassesOnly else {
            throw PluginError("bidirectional: g2l_classes: seen restricts logits and needs space: logits")
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
            throw PluginError(
                "bidirectional: batch_size is not set and the round has no federation batch size to multiply")
        }
        return batchLocalMultiple * local
    }

    /// Per-client synthetic labels and the request to the source (one call for all samples).
    func syntheticLabels(_ context: ServerRoundContext, weights: [[Double]]) throws -> [[Int]] {
        if perClassSet {
            let perClass = samples / context.classes
            guard perClass >= 1 else {
                throw PluginError(
                    "bidirectional: samples (\(samples)) give no sample per class over \(context.classes) classes")
            }
            return weights.map { w in
                (0..<context.classes).filter { w[$0] > 0 }.flatMap { [Int](repeating: $0, count: perClass) }
            }
        }
        return try Self.allocate(
            total: samples, weights: weights, classes: context.classes, generator: context.generator)
    }

    /// The synthetic inputs for each client: with `per-class`, one source call for every class
    /// (as the published `generate_data`) and each client's rows of its classes.
    func syntheticSets(
        _ context: ServerRoundContext, labels: [[Int]], source: any SyntheticDataSource, shape: [Int]
    ) throws -> [Tensor?] {
        func checked(_ x: Tensor, _ n: Int) throws -> Tensor {
            guard x.shape == [n] + shape else {
                throw PluginError(
                    "bidirectional: the synthetic source gave samples of shape \(x.shape), expected \([n] + shape)")
            }
            return x
        }
        if perClassSet {
            let perClass = samples / context.classes
            let all = (0..<context.classes).flatMap { [Int](repeating: $0, count: perClass) }
            let x = try checked(
                withoutGrad { try source.sample(labels: Tensor(all), generator: context.generator) }, all.count)
            return try labels.map { l in
                guard !l.isEmpty else { return nil }
                let classes = Array(Set(l)).sorted()
                let rows = classes.flatMap { c in (c * perClass)..<((c + 1) * perClass) }
                return try x.indexSelect(dim: 0, Tensor(rows))
            }
        }
        return try labels.map { l in
            guard !l.isEmpty else { return nil }
            return try checked(
                withoutGrad { try source.sample(labels: Tensor(l), generator: context.generator) }, l.count)
        }
    }

    /// One client's part of the round: its synthetic samples and the teachers' outputs on them,
    /// all taken before any model changes.
    struct ClientSet {
        /// The client's index in `context.teachers`.
        let client: Int
        let inputs: Tensor
        let labels: [Int]
        /// The aggregated global model's outputs (the global -> local teacher).
        let globalOutputs: Outputs
        /// The client model's outputs before its global -> local update (the local -> global teacher).
        let clientOutputs: Outputs
    }

    /// The union of the clients' synthetic sets and the class-weighted teacher ensemble's
    /// outputs on it (`order: ensemble`).
    struct EnsembleSet {
        let inputs: Tensor
        let labels: [Int]
        let targets: Outputs
    }

    /// What one direction reports: mean distillation loss before and after, optimiser steps.
    struct DirectionMetrics {
        var before: Double
        var after: Double
        var steps: Int

        func record(_ direction: String, into metrics: inout [String: Double]) {
            metrics["distill.\(direction).kl_before"] = before
            metrics["distill.\(direction).kl_after"] = after
            metrics["distill.\(direction).steps"] = Double(steps)
        }
    }

    /// One round of distillation: the synthetic set, the teachers' outputs on it, then global ->
    /// local and local -> global in that order. Returns the clients' models after global ->
    /// local, the global model (`context.global`, trained in place) after local -> global, and
    /// the `distill.*` metrics.
    public func distill(_ context: ServerRoundContext, source: any SyntheticDataSource) throws -> DistillationResult {
        let start = Date()
        guard !context.teachers.isEmpty, globalToLocal || localToGlobal else { return .unchanged }
        guard let student = context.workspace.first else {
            throw PluginError("bidirectional: the server round has no workspace network for the client models")
        }
        let shape = try SampleSpace.shape(context)
        let batch = try distillationBatchSize(context)
        let weights = TeacherWeights.make(context.teachers, classes: context.classes)
        let labels = try syntheticLabels(context, weights: weights)
        let inputs = try syntheticSets(context, labels: labels, source: source, shape: shape)

        let global = context.global
        global.setTraining(false)
        student.setTraining(false)
        defer {
            global.setTraining(true)
            student.setTraining(true)
        }
        let (sets, ensemble) = try teacherOutputs(
            context, student: student, inputs: inputs, labels: labels, weights: weights)
        var result = DistillationResult()
        if globalToLocal {
            let step = try globalToLocalStep(context, student: student, sets: sets, weights: weights, batch: batch)
            step.metrics.record("g2l", into: &result.metrics)
            result.personal = step.students
        }
        if localToGlobal {
            try localToGlobalStep(context, sets: sets, ensemble: ensemble, batch: batch)
                .record("l2g", into: &result.metrics)
            result.global = global.stateDict()
        }
        result.metrics["distill.samples"] = Double(sets.reduce(0) { $0 + $1.inputs.shape[0] })
        result.metrics["distill.seconds"] = Date().timeIntervalSince(start)
        return result
    }

    /// The clients that received synthetic samples, in sampled order, with the global model's
    /// and their own model's outputs on their samples; with `order: ensemble` (and local ->
    /// global epochs to run) also the ensemble targets on the union of the sets.
    func teacherOutputs(
        _ context: ServerRoundContext, student: Network, inputs: [Tensor?], labels: [[Int]], weights: [[Double]]
    ) throws -> (sets: [ClientSet], ensemble: EnsembleSet?) {
        let kind = context.inputKind
        let active = context.teachers.indices.compactMap { k in inputs[k].map { (client: k, inputs: $0) } }
        var globalOutputs: [Outputs] = []
        for set in active {
            globalOutputs.append(try outputs(context.global, set.inputs, kind: kind, grad: false))
        }
        let needsEnsemble = localToGlobal && order == .ensemble && l2gEpochs > 0
        let unionInputs = needsEnsemble ? try Tensor.cat(active.map(\.inputs)) : nil
        let unionLabels = active.flatMap { labels[$0.client] }
        var ensembleTargets: Outputs?
        var sets: [ClientSet] = []
        for (set, globalOutput) in zip(active, globalOutputs) {
            try student.load(context.teachers[set.client].state)
            let clientOutput = try outputs(student, set.inputs, kind: kind, grad: false)
            sets.append(
                ClientSet(
                    client: set.client, inputs: set.inputs, labels: labels[set.client], globalOutputs: globalOutput,
                    clientOutputs: clientOutput))
            guard let unionInputs else { continue }
            let w = try Tensor(unionLabels.map { Float(weights[set.client][$0]) }, shape: [unionLabels.count, 1])
            let o = try outputs(student, unionInputs, kind: kind, grad: false)
            let weighted = Outputs(logits: try o.logits * w, features: try o.features * w)
            if let e = ensembleTargets {
                ensembleTargets = Outputs(
                    logits: try e.logits + weighted.logits, features: try e.features + weighted.features)
            } else {
                ensembleTargets = weighted
            }
        }
        guard let unionInputs, let ensembleTargets else { return (sets, nil) }
        return (sets, EnsembleSet(inputs: unionInputs, labels: unionLabels, targets: ensembleTargets))
    }

    /// Global -> local: each client model's body learns from the aggregated global model.
    /// Returns the metrics and the trained models by client (`Teacher.client`).
    func globalToLocalStep(
        _ context: ServerRoundContext, student: Network, sets: [ClientSet], weights: [[Double]], batch: Int
    ) throws -> (metrics: DirectionMetrics, students: [Int: StateDict]) {
        let kind = context.inputKind
        var before: [Double] = [], after: [Double] = []
        var steps = 0
        var students: [Int: StateDict] = [:]
        for set in sets {
            try student.load(context.teachers[set.client].state)
            // With `g2l_classes: seen`, both softmaxes are restricted to the client's classes.
            let mask = globalToLocalSeenClassesOnly ? try Self.seenClassMask(weights[set.client]) : nil
            var targets = set.globalOutputs
            if let mask { targets.logits = try targets.logits + mask }
            before.append(try divergence(student: set.clientOutputs, targets: targets, logitMask: mask))
            if g2lEpochs > 0 {
                let freeze = try GradientFreeze(student.head.parameters)
                defer { try? freeze.restore() }
                steps += try fit(
                    student, parameters: student.body.parameters, inputs: set.inputs, labels: set.labels,
                    targets: targets, epochs: g2lEpochs, schedule: g2lSchedule, batchSize: batch, kind: kind,
                    generator: context.generator, logitMask: mask)
            }
            let trained = try outputs(student, set.inputs, kind: kind, grad: false)
            after.append(try divergence(student: trained, targets: targets, logitMask: mask))
            students[context.teachers[set.client].client] = try student.stateDict().copy()
        }
        return (DirectionMetrics(before: Self.mean(before), after: Self.mean(after), steps: steps), students)
    }

    /// Local -> global: the global model learns each client's specialty, client after client
    /// (`order: sequential`) or in one pass against the ensemble.
    func localToGlobalStep(
        _ context: ServerRoundContext, sets: [ClientSet], ensemble: EnsembleSet?, batch: Int
    ) throws -> DirectionMetrics {
        let kind = context.inputKind
        let global = context.global
        let before = try sets.map { try divergence(student: $0.globalOutputs, targets: $0.clientOutputs) }
        var steps = 0
        if l2gEpochs > 0 {
            let trained = l2gBodyOnly ? global.body.parameters : global.parameters
            let freeze = try GradientFreeze(l2gBodyOnly ? global.head.parameters : [])
            defer { try? freeze.restore() }
            if let ensemble {
                steps += try fit(
                    global, parameters: trained, inputs: ensemble.inputs, labels: ensemble.labels,
                    targets: ensemble.targets, epochs: l2gEpochs, schedule: l2gSchedule, batchSize: batch, kind: kind,
                    generator: context.generator)
            } else {
                for set in sets {
                    steps += try fit(
                        global, parameters: trained, inputs: set.inputs, labels: set.labels, targets: set.clientOutputs,
                        epochs: l2gEpochs, schedule: l2gSchedule, batchSize: batch, kind: kind,
                        generator: context.generator)
                }
            }
        }
        let after = try sets.map {
            try divergence(student: outputs(global, $0.inputs, kind: kind, grad: false), targets: $0.clientOutputs)
        }
        return DirectionMetrics(before: Self.mean(before), after: Self.mean(after), steps: steps)
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
            throw PluginError(
                "bidirectional: student and teacher outputs differ in shape: \(student.shape) vs \(teacher.shape)")
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
                loss =
                    try loss + kl(student: out.features, teacher: targets.features, temperature: temperature)
                    * featureWeight
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
    func fit(
        _ network: Network, parameters: [Tensor], inputs: Tensor, labels: [Int], targets: Outputs, epochs: Int,
        schedule: StepSchedule, batchSize: Int, kind: InputKind, generator: RandomGenerator,
        logitMask: Tensor? = nil
    ) throws -> Int {
        let n = inputs.shape[0]
        let y = try Tensor(labels)
        guard n > 0, !parameters.isEmpty, epochs > 0 else { return 0 }
        let optimizer = try SGD(
            ParameterGroup.decayingWeightsOnly(parameters, weightDecay: weightDecay),
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
                    throw PluginError(
                        "bidirectional: the distillation loss became \(value) at epoch \(epoch) (try a smaller lr)")
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
