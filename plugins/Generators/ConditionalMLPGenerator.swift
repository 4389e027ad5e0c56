import FedKit
import Foundation
import Torch

/// FedBKD's server-side generator (DESIGN §6 step 3), trained each round without client data
/// against the round's frozen client models (the teachers).
///
/// G(z, c): z ~ N(0, I) concatenated with a learned embedding of c -> Linear -> BatchNorm ->
/// ReLU -> Linear, reshaped to the sample space (the input shape; for token data the model's
/// embedded space [T, dim], which teachers read through `forward(embedded:)`). One step on a
/// batch with labels y drawn from the union of the teachers' classes minimises
///
///     alpha * sum_k mean_i w_{k,y_i} CE(theta_k(G(z_i, y_i)), y_i) + eta * L_div - beta * KL(ensemble || global)
///
/// with w_{k,c} = n_{k,c} / sum_j n_{j,c} and L_div = exp(-mean_{i,j} d_z(i,j) d_x(i,j))
/// (noise L2 distance times sample L1 distance, each divided by its dimension's scale unless
/// `normalise_diversity: false`). The teachers' weights are frozen (requires-grad off) and
/// the gradient of the teacher term reaches G through them (the published code detaches the
/// samples). Teachers are evaluated one at a time on a detached copy of the batch and their
/// input gradients are back-propagated into G in one pass, so any number of teachers works
/// with however many workspace networks the round has. Each teacher only runs on the samples
/// of classes it has seen (its other weights are 0).
///
/// G and its Adam state persist across rounds (warm start) unless `reset: true`.
public final class ConditionalMLPGenerator: GeneratorPlugin, @unchecked Sendable {
    public static let descriptor = PluginDescriptor(
        kind: .generator, name: "conditional-mlp",
        summary: "conditional MLP generator trained through the frozen client models (FedBKD, FedGen style)",
        parameters: [
            .int("noise_dim", default: 64, min: 1, doc: "dimension of the noise z ~ N(0, I)"),
            .int("embedding_dim", default: 64, min: 1, doc: "dimension of the learned label embedding"),
            .int("hidden", default: 512, min: 1, doc: "width of the hidden layer (Linear - BatchNorm - ReLU)"),
            .int("batch_size", default: 64, min: 2, doc: "generated samples per training step"),
            .int("epochs", default: 6, min: 0, doc: "training epochs per round (each `steps` Adam steps)"),
            .int("steps", default: 5, min: 1, doc: "Adam steps per epoch; every step uses every teacher"),
            .double("lr", default: 3e-4, min: 0, minExclusive: true, doc: "Adam learning rate"),
            .double("weight_decay", default: 1e-2, min: 0,
                    doc: "Adam L2 weight decay on all generator parameters (coupled, as torch.optim.Adam)"),
            .double("alpha", default: 1, min: 0, doc: "weight of the class-weighted teacher cross-entropy"),
            .double("eta", default: 1, min: 0, doc: "weight of the diversity loss L_div"),
            .double("beta", default: 0, min: 0,
                    doc: "weight of the adversarial term: G maximises KL(teacher ensemble || global model) on its samples"),
            .string("labels", default: "balanced", choices: ["balanced", "proportional"],
                    doc: "conditioning labels: uniform over the classes the teachers have seen, or proportional to their sample counts"),
            .bool("normalise_diversity", default: true,
                  doc: "divide the noise L2 distance by sqrt(noise_dim) and the sample L1 distance by the sample size so exp() does not underflow"),
            .bool("reset", default: false, doc: "re-initialise the generator (and its optimiser) every round instead of warm-starting"),
        ])

    public let noiseDim: Int
    public let embeddingDim: Int
    public let hidden: Int
    public let batchSize: Int
    public let epochs: Int
    public let steps: Int
    public let learningRate: Double
    public let weightDecay: Double
    public let alpha: Double
    public let eta: Double
    public let beta: Double
    public let balancedLabels: Bool
    public let normaliseDiversity: Bool
    public let reset: Bool

    /// The generator network (nil before the first round).
    public private(set) var network: ConditionalGeneratorNetwork?
    private var optimizer: Adam?

    public init(parameters: Parameters) throws {
        let p = Self.withDefaults(parameters)
        noiseDim = p.int("noise_dim")
        embeddingDim = p.int("embedding_dim")
        hidden = p.int("hidden")
        batchSize = p.int("batch_size")
        epochs = p.int("epochs")
        steps = p.int("steps")
        learningRate = p.double("lr")
        weightDecay = p.double("weight_decay")
        alpha = p.double("alpha")
        eta = p.double("eta")
        beta = p.double("beta")
        balancedLabels = p.string("labels") == "balanced"
        normaliseDiversity = p.bool("normalise_diversity")
        reset = p.bool("reset")
        guard batchSize >= 2 else { throw PluginError("conditional-mlp: batch_size must be >= 2 (batch norm), got \(batchSize)") }
        guard learningRate > 0 else { throw PluginError("conditional-mlp: lr must be > 0, got \(learningRate)") }
    }

    /// Loss terms of one step (or a mean of steps).
    struct Terms {
        var ce = 0.0, diversity = 0.0, adversarial = 0.0, loss = 0.0
        static func + (a: Terms, b: Terms) -> Terms {
            Terms(ce: a.ce + b.ce, diversity: a.diversity + b.diversity, adversarial: a.adversarial + b.adversarial, loss: a.loss + b.loss)
        }
        func divided(by n: Int) -> Terms {
            let d = Double(max(1, n))
            return Terms(ce: ce / d, diversity: diversity / d, adversarial: adversarial / d, loss: loss / d)
        }
    }

    /// What one round's training sees.
    struct Round {
        let context: ServerRoundContext
        let network: ConditionalGeneratorNetwork
        let slots: TeacherSlots
        let weights: [[Double]]
        let labelProbabilities: [Double]
        var kind: InputKind { context.inputKind }
    }

    public func train(_ context: ServerRoundContext) throws {
        let start = Date()
        guard !context.teachers.isEmpty else { return }
        let shape = try SampleSpace.shape(context)
        let weights = TeacherWeights.make(context.teachers, classes: context.classes)
        let seen = TeacherWeights.seenClasses(weights, classes: context.classes)
        guard !seen.isEmpty else { throw PluginError("conditional-mlp: the sampled clients report no training samples of any class") }
        var probabilities = [Double](repeating: 0, count: context.classes)
        for c in seen {
            probabilities[c] = balancedLabels ? 1 : context.teachers.reduce(0.0) { $0 + Double($1.classCounts.indices.contains(c) ? $1.classCounts[c] : 0) }
        }

        let network = try prepareNetwork(classes: context.classes, shape: shape, generator: context.generator)
        let slots = try TeacherSlots(workspace: context.workspace, states: context.teachers.map(\.state))
        defer { slots.release() }
        // The global model is only read (adversarial term): frozen and in eval mode while G trains.
        let globalFreeze = try GradientFreeze(context.global.parameters)
        context.global.setTraining(false)
        defer {
            try? globalFreeze.restore()
            context.global.setTraining(true)
        }
        let round = Round(context: context, network: network, slots: slots, weights: weights, labelProbabilities: probabilities)

        network.setTraining(true)
        var last = Terms()
        for _ in 0..<epochs {
            var sum = Terms()
            for _ in 0..<steps { sum = sum + (try step(round)) }
            last = sum.divided(by: steps)
        }
        network.zeroGradients()

        context.metrics["generator.ce"] = last.ce
        context.metrics["generator.diversity"] = last.diversity
        context.metrics["generator.adversarial"] = last.adversarial
        context.metrics["generator.loss"] = last.loss
        context.metrics["generator.teacher_accuracy"] = try teacherAccuracy(round)
        context.metrics["generator.seconds"] = Date().timeIntervalSince(start)
    }

    public func sample(labels: Tensor, generator: RandomGenerator) throws -> Tensor {
        guard let network else { throw PluginError("conditional-mlp: sample() called before the generator was trained") }
        network.setTraining(false)
        defer { network.setTraining(true) }
        return try withoutGrad {
            let z = try Tensor.randn([labels.shape.first ?? 0, noiseDim], generator: generator)
            return try network.generate(noise: z, labels: labels)
        }
    }

    /// The warm-started network, or a fresh one (first round, `reset`, or a new sample space).
    func prepareNetwork(classes: Int, shape: [Int], generator: RandomGenerator) throws -> ConditionalGeneratorNetwork {
        if !reset, let network, optimizer != nil, network.sampleShape == shape, network.classes == classes {
            return network
        }
        let fresh = try ConditionalGeneratorNetwork(noiseDim: noiseDim, embeddingDim: embeddingDim, hidden: hidden,
                                                   classes: classes, sampleShape: shape, generator: generator)
        network = fresh
        // torch.optim.Adam(weight_decay=...) as in the published code: L2 added to the gradient of every parameter.
        optimizer = try Adam([ParameterGroup(fresh.parameters, weightDecay: weightDecay)], learningRate: learningRate)
        return fresh
    }

    /// One Adam step of G; returns the loss terms.
    func step(_ round: Round) throws -> Terms {
        let context = round.context
        let labels = try LabelDraw.draw(batchSize, probabilities: round.labelProbabilities, generator: context.generator)
        let y = try Tensor(labels)
        let z = try Tensor.randn([batchSize, noiseDim], generator: context.generator)
        let x = try round.network.generate(noise: z, labels: y)
        // Teachers see a detached leaf copy: their input gradients collect in xd.grad and are
        // pushed into G by one backward of sum(x * xd.grad) (exactly the chain rule).
        let xd = try x.detached().requiringGrad()
        var terms = Terms()

        var ensembleGradient: Tensor?
        if beta > 0 {
            let ensemble = try withoutGrad { try ensembleLogits(round, xd, labels: labels) }
            let e = try ensemble.requiringGrad()
            let student = try SampleSpace.logits(context.global, xd, kind: round.kind)
            let kl = try Loss.klDivergence(logP: F.logSoftmax(e, dim: 1), logQ: F.logSoftmax(student, dim: 1))
            terms.adversarial = try kl.item()
            try (kl * -beta).backward()
            ensembleGradient = e.grad
        }

        if alpha > 0 || ensembleGradient != nil {
            for k in round.weights.indices {
                let rows = labels.indices.filter { round.weights[k][labels[$0]] > 0 }
                guard !rows.isEmpty else { continue }
                let index = try Tensor(rows)
                let w = try Tensor(rows.map { Float(round.weights[k][labels[$0]]) })
                let logits = try SampleSpace.logits(round.slots.network(k), xd.indexSelect(dim: 0, index), kind: round.kind)
                let ce = try Loss.crossEntropy(logits, targets: y.indexSelect(dim: 0, index), reduction: .none)
                let weighted = try (ce * w).sum() / Double(batchSize)
                terms.ce += try weighted.item()
                var objective = try weighted * alpha
                if let g = ensembleGradient {
                    // d(-beta KL)/d(theta_k logits) = w_k * dL/d(ensemble logits).
                    objective = try objective + (logits * (g.indexSelect(dim: 0, index) * w.unsqueezed(1))).sum()
                }
                try objective.backward()
            }
        }

        var total: Tensor?
        if let g = xd.grad { total = try (x * g).sum() }
        let div = try diversity(noise: z, samples: x)
        terms.diversity = try div.item()
        if eta > 0 { total = try total.map { try $0 + div * eta } ?? (div * eta) }
        terms.loss = alpha * terms.ce + eta * terms.diversity - beta * terms.adversarial
        guard terms.loss.isFinite else { throw PluginError("conditional-mlp: the generator loss became \(terms.loss)") }
        if let total, let optimizer {
            try optimizer.zeroGrad()
            try total.backward()
            try optimizer.step()
        }
        return terms
    }

    /// sum_k w_{k,y_i} theta_k(x_i): the class-weighted teacher ensemble's logits.
    func ensembleLogits(_ round: Round, _ x: Tensor, labels: [Int]) throws -> Tensor {
        var sum: Tensor?
        for k in round.weights.indices {
            let w = labels.map { Float(round.weights[k][$0]) }
            guard w.contains(where: { $0 > 0 }) else { continue }
            let logits = try SampleSpace.logits(round.slots.network(k), x, kind: round.kind)
            let term = try logits * Tensor(w, shape: [w.count, 1])
            sum = try sum.map { try $0 + term } ?? term
        }
        return try sum ?? Tensor.zeros([labels.count, round.context.classes])
    }

    /// L_div = exp(-mean_{i,j} d_z(i,j) * d_x(i,j)); d_z has no gradient (z is not learned).
    func diversity(noise z: Tensor, samples x: Tensor) throws -> Tensor {
        let flat = try x.flattened(from: 1)
        var dx = try flat.pairwiseDistances(flat, p: 1)
        var dz = try withoutGrad { try z.pairwiseDistances(z, p: 2) }
        if normaliseDiversity {
            dx = try dx / Double(max(1, flat.shape[1]))
            dz = try dz / Double(noiseDim).squareRoot()
        }
        return try (-(dz * dx).mean()).exp()
    }

    /// The fraction of fresh samples G(z, c) that the teachers classify as c, each teacher
    /// weighted by w_{k,c} as in the loss (so 1 means every teacher agrees on every class it has seen).
    func teacherAccuracy(_ round: Round) throws -> Double {
        let count = max(256, batchSize)
        let labels = try LabelDraw.draw(count, probabilities: round.labelProbabilities, generator: round.context.generator)
        let x = try sample(labels: Tensor(labels), generator: round.context.generator)
        return try withoutGrad {
            var correct = 0.0
            for k in round.weights.indices {
                let rows = labels.indices.filter { round.weights[k][labels[$0]] > 0 }
                guard !rows.isEmpty else { continue }
                let logits = try SampleSpace.logits(round.slots.network(k), x.indexSelect(dim: 0, Tensor(rows)), kind: round.kind)
                let predicted = try logits.argmax(dim: 1).ints()
                for (r, p) in zip(rows, predicted) where p == labels[r] { correct += round.weights[k][labels[r]] }
            }
            return correct / Double(count)
        }
    }
}

extension Layer {
    /// Drops every parameter's gradient, ignoring errors (cleanup).
    func zeroGradients() { for p in parameters { try? p.zeroGrad() } }
}
