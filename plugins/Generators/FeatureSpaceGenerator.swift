import FedKit
import Foundation
import Torch

/// `feature-generator`: FedGen's server step (Zhu et al., "Data-Free Knowledge Distillation for
/// Heterogeneous Federated Learning", ICML 2021). A generator G(z, y) of the model's *features*
/// (`FeatureGenerator`: the body's output space) learns, without data, what the round's client
/// heads h_k agree is class y; every sampled client receives G with the next round (this plugin is
/// a `RoundPayloadSource`) and regularises its local training with it (the `fedgen` trainer).
///
/// Each round, `steps` Adam steps, each on a batch of labels y drawn uniformly over the classes the
/// round's clients have seen (`labels: seen`, FedGen) or in proportion to the federation's training
/// samples of each of those classes (`federation`, PFLlib's `qualified_labels`) and z ~ U[0,1)^noise_dim, minimise
///
///     alpha * sum_k mean_i w_{k,y_i} CE(h_k(G(z_i, y_i)), y_i) + eta * L_div       (`ensemble: losses`, FedGen)
///     alpha * mean_i CE(sum_k w_{k,y_i} h_k(G(z_i, y_i)), y_i) + eta * L_div        (`ensemble: logits`, PFLlib)
///
/// with w_{k,y} = n_{k,y} / sum_j n_{j,y} (`teacher_weights: class`, FedGen's label-count weights)
/// or n_k / n (`samples`, PFLlib), and L_div = exp(-mean_{i,j} d_z(i,j) d_x(i,j)) (mean squared
/// noise distance times mean absolute feature distance: FedGen's `DiversityLoss`). Heads are frozen
/// (eval mode). G and its Adam moments are kept across rounds (`RoundCarriedState`: exact resume).
///
/// Round 1 sends no G (`first_round: none`: FedGen's clients train without it until the server has
/// trained one) or the freshly initialised, untrained G (`untrained`, PFLlib). With `labels:
/// federation` the payload also carries the federation's training samples per class, so that the
/// `fedgen` trainer can draw its labels as PFLlib's clients do (`labels: federation` there): every
/// client then learns the whole federation's label histogram.
public final class FeatureSpaceGenerator: GeneratorPlugin, RoundPayloadSource, RoundCarriedState, @unchecked Sendable {
    public enum Ensemble: String, CaseIterable, Sendable { case losses, logits }
    public enum Weighting: String, CaseIterable, Sendable { case `class`, samples }
    public enum Labels: String, CaseIterable, Sendable { case seen, federation }
    public enum FirstRound: String, CaseIterable, Sendable { case none, untrained }

    public static let noiseDim = ParameterKey.int(
        "noise_dim", default: 32, min: 1, doc: "dimension of z (FedGen GENERATORCONFIGS['mnist'] noise_dim 32)")
    public static let hidden = ParameterKey.int(
        "hidden", default: 256, min: 1, doc: "width of the hidden layer (FedGen GENERATORCONFIGS['mnist'] 256)")
    public static let steps = ParameterKey.int(
        "steps", default: 50, min: 1,
        doc: "Adam steps per round (FedGen RUNCONFIGS ensemble_epochs 50: 10 epochs of n_teacher_iters 5)")
    public static let batchSize = ParameterKey.int(
        "batch_size", default: 128, min: 2, doc: "labels per step (FedGen RUNCONFIGS ensemble_batch_size 128)")
    public static let learningRate = ParameterKey.double(
        "lr", default: 3e-4, min: 0, minExclusive: true, doc: "Adam learning rate (FedGen RUNCONFIGS['mnist'] ensemble_lr 3e-4)")
    public static let weightDecay = ParameterKey.double(
        "weight_decay", default: 1e-2, min: 0, doc: "Adam L2 weight decay (FedGen RUNCONFIGS weight_decay 1e-2)")
    public static let alpha = ParameterKey.double(
        "alpha", default: 1, min: 0, doc: "weight of the teachers' cross-entropy (FedGen ensemble_alpha 1)")
    public static let eta = ParameterKey.double(
        "eta", default: 1, min: 0, doc: "weight of the diversity loss (FedGen RUNCONFIGS['mnist'] ensemble_eta 1; PFLlib: 0)")
    public static let ensemble = ParameterKey.choice(
        "ensemble", default: Ensemble.losses,
        doc: "losses: weighted sum of each head's cross-entropy (FedGen's server); logits: cross-entropy of the weighted sum of the heads' logits (PFLlib)")
    public static let teacherWeights = ParameterKey.choice(
        "teacher_weights", default: Weighting.class,
        doc: "w_{k,y}: client k's share n_{k,y} / n_y of class y (FedGen) or of all samples n_k / n (PFLlib)")
    public static let labels = ParameterKey.choice(
        "labels", default: Labels.seen,
        doc: "the server's labels: uniform over the classes the round's clients have seen (FedGen) or in proportion to the federation's samples of them, sent to the clients too (federation: PFLlib)")
    public static let firstRound = ParameterKey.choice(
        "first_round", default: FirstRound.none,
        doc: "round 1's payload: no generator, plain local SGD (none: FedGen) or the untrained generator (untrained: PFLlib)")

    public static let descriptor = PluginDescriptor(
        kind: .generator, name: "feature-generator",
        summary: "FedGen's generator of body features, learnt from the clients' heads and sent to the clients each round",
        keys: [noiseDim, hidden, steps, batchSize, learningRate, weightDecay, alpha, eta, ensemble, teacherWeights, labels,
               firstRound])

    public let noiseDimension: Int
    public let hiddenWidth: Int
    public let stepCount: Int
    public let batch: Int
    public let lr: Double
    public let decay: Double
    public let teacherWeight: Double
    public let diversityWeight: Double
    public let ensembleKind: Ensemble
    public let weighting: Weighting
    public let labelSource: Labels
    public let firstRoundPayload: FirstRound

    /// The generator (nil before the first round's training, or before `start` with `first_round: untrained`).
    public private(set) var network: FeatureGenerator?
    private var optimizer: Adam?
    /// The federation's training samples per class (`FederationFacts.classCounts`).
    private var federationCounts: [Int] = []

    public init(parameters p: Parameters) throws {
        noiseDimension = p[Self.noiseDim]
        hiddenWidth = p[Self.hidden]
        stepCount = p[Self.steps]
        batch = p[Self.batchSize]
        lr = p[Self.learningRate]
        decay = p[Self.weightDecay]
        teacherWeight = p[Self.alpha]
        diversityWeight = p[Self.eta]
        ensembleKind = p[Self.ensemble]
        weighting = p[Self.teacherWeights]
        labelSource = p[Self.labels]
        firstRoundPayload = p[Self.firstRound]
    }

    /// Its samples are features, not model inputs (no distiller feeds them to a whole model).
    public var samplesModelInputs: Bool { false }

    public func start(_ federation: FederationFacts) throws {
        federationCounts = federation.classCounts
        if labelSource == .federation && !federationCounts.contains(where: { $0 > 0 }) {
            throw PluginError("feature-generator: labels: federation needs the federation's samples per class, and the run reports none")
        }
        guard firstRoundPayload == .untrained else { return }
        guard let width = federation.featureWidth else {
            throw PluginError("feature-generator: first_round: untrained needs the model's feature width (flat body features [N, d]); this model's body gives none")
        }
        try makeFresh(
            classes: federationCounts.count, features: width,
            generator: RandomGenerator(seed: Seeds.derive(federation.seed, "feature-generator-init")))
    }

    /// G, once trained (or untrained, with `first_round: untrained`): the clients' regulariser for
    /// the round; empty in round 1 otherwise. With `labels: federation`, also the federation's samples per class.
    public func payload(round: Int) throws -> StateDict {
        try network?.payload(labelCounts: labelSource == .federation ? federationCounts : nil) ?? StateDict([])
    }

    /// A new generator and its Adam state.
    private func makeFresh(classes: Int, features: Int, generator: RandomGenerator) throws {
        let fresh = try FeatureGenerator(noiseDim: noiseDimension, classes: classes, hidden: hiddenWidth,
                                         features: features, generator: generator)
        network = fresh
        optimizer = try Adam([ParameterGroup(fresh.parameters, weightDecay: decay)], learningRate: lr)
    }

    /// w_{k,y} for the round's teachers.
    func weights(_ teachers: [Teacher], classes: Int) -> [[Double]] {
        switch weighting {
        case .class:
            return TeacherWeights.make(teachers, classes: classes)
        case .samples:
            let sizes = teachers.map { Double($0.classCounts.reduce(0) { $0 + max(0, $1) }) }
            let total = max(1, sizes.reduce(0, +))
            return sizes.map { [Double](repeating: $0 / total, count: classes) }
        }
    }

    /// The feature dimension of the round's model: the body's output width.
    static func featureCount(_ context: ServerRoundContext) throws -> Int {
        guard let width = FeatureWidth.of(context.global, inputShape: context.inputShape, inputKind: context.inputKind) else {
            throw PluginError("feature-generator: the model's body does not give flat [N, d] features, which FedGen needs")
        }
        return width
    }

    /// P(y) of the server's labels over the classes `seen` by the round's clients.
    func labelProbabilities(seen: [Int], classes: Int) -> [Double] {
        (0..<classes).map { c in
            guard seen.contains(c) else { return 0 }
            switch labelSource {
            case .seen: return 1
            case .federation: return c < federationCounts.count ? Double(max(0, federationCounts[c])) : 0
            }
        }
    }

    public func train(_ context: ServerRoundContext) throws -> GeneratorTrainingResult {
        let start = Date()
        guard !context.teachers.isEmpty else { return GeneratorTrainingResult() }
        let w = weights(context.teachers, classes: context.classes)
        let seen = TeacherWeights.seenClasses(TeacherWeights.make(context.teachers, classes: context.classes), classes: context.classes)
        guard !seen.isEmpty else { throw PluginError("feature-generator: the sampled clients report no training samples of any class") }
        let features = try Self.featureCount(context)
        if network == nil || network!.features != features || network!.classes != context.classes {
            try makeFresh(classes: context.classes, features: features, generator: context.generator)
        }
        guard let network, let optimizer else { return GeneratorTrainingResult() }
        let slots = try TeacherSlots(workspace: context.workspace, states: context.teachers.map(\.state))
        defer { slots.release() }
        let probabilities = labelProbabilities(seen: seen, classes: context.classes)
        guard probabilities.contains(where: { $0 > 0 }) else {
            throw PluginError("feature-generator: the federation reports no training samples of the classes the round's clients have seen")
        }
        network.setTraining(true)
        var ce = 0.0, diversity = 0.0, agreement = 0.0
        for _ in 0..<stepCount {
            let labels = try LabelDraw.draw(batch, probabilities: probabilities, generator: context.generator)
            let y = try Tensor(labels)
            let z = try Tensor.rand([batch, noiseDimension], generator: context.generator)
            let x = try network.generate(labels: y, noise: z)
            // The heads see a detached leaf copy: each head's input gradient collects in xd.grad
            // (one head at a time, so a workspace slot may be reloaded for the next head) and is
            // pushed into G by one backward of sum(x * xd.grad), exactly the chain rule.
            let xd = try x.detached().requiringGrad()
            let (teacherTerm, ensemble) = try teacherPass(slots, weights: w, features: xd, labels: labels, y: y)
            let div = try DiversityLoss.fedgen(noise: z, samples: x, noiseDim: noiseDimension)
            let value = teacherWeight * teacherTerm + diversityWeight * (try div.item())
            guard value.isFinite else { throw PluginError("feature-generator: the generator loss became \(value)") }
            var total = try div * diversityWeight
            if let g = xd.grad { total = try total + (x * g).sum() }
            try optimizer.zeroGrad()
            try total.backward()
            try optimizer.step()
            ce = teacherTerm
            diversity = try div.item()
            let predicted = try ensemble.argmax(dim: 1).ints()
            agreement = Double(zip(predicted, labels).filter { $0 == $1 }.count) / Double(labels.count)
        }
        for p in network.parameters { try? p.zeroGrad() }
        return GeneratorTrainingResult(metrics: [
            "generator.ce": ce,
            "generator.diversity": diversity,
            "generator.teacher_accuracy": agreement,
            "generator.steps": Double(stepCount),
            "generator.seconds": Date().timeIntervalSince(start),
        ])
    }

    /// The teachers' term on features `xd` (a leaf): its value, with alpha times its gradient
    /// left in xd.grad, and the weighted logit ensemble (no gradient) for the agreement metric.
    func teacherPass(_ slots: TeacherSlots, weights w: [[Double]], features xd: Tensor, labels: [Int], y: Tensor)
        throws -> (value: Double, ensemble: Tensor)
    {
        var value = 0.0
        var ensemble: Tensor?
        var active: [(k: Int, column: Tensor)] = []
        for k in w.indices {
            let a = labels.map { Float(w[k][$0]) }
            guard a.contains(where: { $0 > 0 }) else { continue }
            let column = try Tensor(a, shape: [a.count, 1])
            active.append((k, column))
            let logits = try slots.network(k).head.forward(xd)
            let weighted = try withoutGrad { try logits * column }
            ensemble = try ensemble.map { try $0 + weighted } ?? weighted
            if ensembleKind == .losses {
                // FedGen: sum_k mean_i w_{k,y_i} CE(h_k(x_i), y_i), one head at a time.
                let term = try (Loss.crossEntropy(logits, targets: y, reduction: .none) * Tensor(a)).mean()
                value += try term.item()
                try (term * teacherWeight).backward()
            }
        }
        guard let ensemble else { throw PluginError("feature-generator: no client head speaks for the drawn labels") }
        if ensembleKind == .logits {
            // PFLlib: CE(sum_k w_k h_k(x), y). d/dh_k = w_k * dCE/dE: one more pass per head.
            let e = try ensemble.requiringGrad()
            let loss = try Loss.crossEntropy(e, targets: y)
            value = try loss.item()
            try loss.backward()
            guard let gE = e.grad else { throw PluginError("feature-generator: no gradient for the logit ensemble") }
            for (k, column) in active {
                let logits = try slots.network(k).head.forward(xd)
                try ((logits * (gE * column)).sum() * teacherWeight).backward()
            }
        }
        return (value, ensemble)
    }

    /// Features for the given labels (fresh noise), with running batch-norm statistics as the
    /// clients use G; only for inspection, no distiller uses them.
    public func sample(labels: Tensor, generator: RandomGenerator) throws -> Tensor {
        guard let network else { throw PluginError("feature-generator: sample called before the first round's training") }
        network.setTraining(false)
        defer { network.setTraining(true) }
        return try withoutGrad { try network.generate(labels: labels, generator: generator) }
    }
}

extension FeatureSpaceGenerator {
    /// G (`network.*`, with its shape as `shape`: noise_dim, classes, hidden, features), Adam's
    /// moments (`adam.*`) and step count; empty before the first round.
    public func saveCarriedState() throws -> StateDict {
        guard let network, let optimizer else { return StateDict([]) }
        var entries = try network.stateDict().copy().entries.map { ("network." + $0.name, $0.tensor) }
        for (i, moment) in try optimizer.momentCopies().enumerated() {
            entries.append(("adam.m.\(i)", moment.m))
            entries.append(("adam.v.\(i)", moment.v))
        }
        entries.append(("adam.steps", try Tensor([optimizer.steps])))
        entries.append(("shape", try Tensor([network.noiseDim, network.classes, hiddenWidth, network.features])))
        return StateDict(entries)
    }

    public func restoreCarriedState(_ state: StateDict) throws {
        guard !state.isEmpty else {
            network = nil
            optimizer = nil
            return
        }
        guard let shape = try state["shape"]?.ints(), shape.count == 4 else {
            throw PluginError("feature-generator: carried state lacks shape")
        }
        guard shape[0] == noiseDimension, shape[2] == hiddenWidth else {
            throw PluginError("feature-generator: carried generator has noise_dim \(shape[0]) and hidden \(shape[2]), the plugin \(noiseDimension) and \(hiddenWidth)")
        }
        let restored = try FeatureGenerator(noiseDim: shape[0], classes: shape[1], hidden: shape[2], features: shape[3],
                                            generator: RandomGenerator(seed: 0))
        try restored.load(StateDict(state.under("network").entries.map { (String($0.name.dropFirst("network.".count)), $0.tensor) }))
        let adam = try Adam([ParameterGroup(restored.parameters, weightDecay: decay)], learningRate: lr)
        var moments: [(m: Tensor, v: Tensor)] = []
        for i in restored.parameters.indices {
            guard let m = state["adam.m.\(i)"], let v = state["adam.v.\(i)"] else {
                throw PluginError("feature-generator: carried state lacks adam.m.\(i) or adam.v.\(i)")
            }
            moments.append((m, v))
        }
        guard let steps = try state["adam.steps"]?.ints().first else { throw PluginError("feature-generator: carried state lacks adam.steps") }
        try adam.restore(moments: moments, steps: steps)
        network = restored
        optimizer = adam
    }
}
