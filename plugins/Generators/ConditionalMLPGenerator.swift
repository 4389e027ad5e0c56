import FedKit
import Foundation
import Torch

/// FedBKD's server-side generator (docs/design.md §6, step 3), trained each round without client data
/// against the round's frozen client models (the teachers). The defaults reproduce the
/// authors' code (FedBKD/FedBKD a4ec319, GAN_train.py `DF_gan`, `Generator`,
/// `DiversityLoss`; see docs/fedbkd.md); every departure is a declared parameter.
///
/// G(z, c): [z, e(c)] -> Linear -> BatchNorm -> ReLU -> Linear, reshaped to the sample space
/// (the input shape; for token data the model's embedded space [T, dim], which teachers read
/// through `forward(embedded:)`). e(c) is a label embedding, z noise. `output: tanh-batchnorm`
/// ends G with tanh and a parameter-free batch norm over the channels, so that its samples stay
/// at the scale of the standardised data (FedFTG's preset: with `linear` output, a warm-started G
/// and an adversarial term, the samples grew every round; docs/results.md, "FedFTG's collapse").
///
/// Published (`schedule: per-teacher`): fixed inputs are drawn once per run (`samples`
/// inputs, `samples / classes` per class, z ~ U[0,1), e(c) from the first round's embedding
/// table and then frozen); every round a fresh G (`reset: true`) takes, for `epochs` epochs,
/// for each teacher k in sampled order, `steps` Adam steps on all fixed inputs of k's classes
/// minimising alpha * CE(theta_k(x), argmax theta_k(x)) + eta * L_div, with
/// L_div = exp(-mean_{i,j} d_z(i,j) d_x(i,j)), d_z the mean squared noise difference and d_x
/// the mean absolute output difference (FedGen's). The published image path casts CIFAR samples
/// to uint8 images and puts them through the training transform before the teacher and the
/// distillation (`image_path: published`, `PublishedImagePath`); that detaches them, so only L_div
/// trains G: `teacher_gradient: false`. Samples for distillation are G on the fixed inputs in
/// batch-norm training mode.
///
/// Improved (`schedule: joint`, `inputs: fresh`, ...): each Adam step draws a batch with
/// labels from the union of the teachers' classes and minimises
///
///     alpha * sum_k mean_i w_{k,y_i} CE(theta_k(G(z_i, y_i)), t_i) + eta * L_div - beta * KL(ensemble || global)
///
/// with w_{k,c} = n_{k,c} / sum_j n_{j,c} (`teacher_weights: class`) and t_i the label or the
/// teacher's argmax (`target`). Teachers are evaluated one at a time on a detached copy of the
/// batch and their input gradients are back-propagated into G in one pass, so any number of
/// teachers works with however many workspace networks the round has.
///
/// Teachers' weights are always frozen. G, its Adam moments and the fixed inputs are carried
/// across rounds through `RoundCarriedState` (exact resume).
public final class ConditionalMLPGenerator: GeneratorPlugin, RoundCarriedState, @unchecked Sendable {
    public static let descriptor = PluginDescriptor(
        kind: .generator, name: "conditional-mlp",
        summary: "conditional MLP generator trained against the frozen client models (FedBKD, FedGen style)",
        keys: [
            noiseDim, embeddingDim, hidden, noise, inputs, samples, labelEmbedding, schedule, batchSize, epochs, steps,
            learningRate, weightDecay, target, teacherGradient, teacherWeights, alpha, eta, beta, labels, diversity,
            reset, sampleBatchNorm, output, imagePath,
        ])

    public static let noiseDim = ParameterKey.int(
        "noise_dim", default: 64, min: 1,
        doc: "dimension of the noise z (GAN_train.py GENERATORCONFIGS['cifar10'] noise_dim 64)")
    public static let embeddingDim = ParameterKey.int(
        "embedding_dim", default: 64, min: 1,
        doc: "dimension of the label embedding (published: noise_dim, `Generator` embedding=1)")
    public static let hidden = ParameterKey.int(
        "hidden", default: 512, min: 1,
        doc: "width of the hidden layer Linear - BatchNorm - ReLU (GENERATORCONFIGS['cifar10'] 512)")
    public static let noise = ParameterKey.choice(
        "noise", default: Noise.uniform,
        doc: "distribution of z: U[0,1) (published: `DF_gan.init_y_input`, torch.rand) or N(0, I)")
    public static let inputs = ParameterKey.choice(
        "inputs", default: Inputs.fixed,
        doc:
            "fixed: `samples` generator inputs drawn once per run and reused every round (published `init_y_input`, passed on by main_fedbkd.py); fresh: new z every step and every sample() call"
    )
    public static let samples = ParameterKey.int(
        "samples", default: 1000, min: 1,
        doc:
            "fixed inputs per run, samples / classes per class (published --gan_train_nums 1000, scripts/FedBKD_cifar10_2shards.sh)"
    )
    public static let labelEmbedding = ParameterKey.choice(
        "label_embedding", default: LabelEmbedding.fixed,
        doc:
            "with fixed inputs: e(c) computed once from the first generator's embedding table and frozen (published), or the current G's learned embedding"
    )
    public static let schedule = ParameterKey.choice(
        "schedule", default: Schedule.perTeacher,
        doc:
            "per-teacher: for each epoch, for each teacher in sampled order, `steps` Adam steps on its classes' inputs (published `DF_gan.train_generator`); joint: every step uses every teacher on one batch"
    )
    public static let batchSize = ParameterKey.int(
        "batch_size", default: 64, min: 2,
        doc: "generated samples per step with fresh inputs (fixed inputs use all inputs of the teacher's classes)")
    public static let epochs = ParameterKey.int(
        "epochs", default: 6, min: 0,
        doc: "training epochs per round (published --gen_eps 6 in the script, read as --gan_eps)")
    public static let steps = ParameterKey.int(
        "steps", default: 5, min: 1,
        doc: "Adam steps per epoch (per teacher with per-teacher schedule; published --n_teacher_iters 5)")
    public static let learningRate = ParameterKey.double(
        "lr", default: 3e-4, min: 0, minExclusive: true,
        doc: "Adam learning rate (GAN_config.py RUNCONFIGS['cifar10'] ensemble_lr 3e-4; betas 0.9, 0.999)")
    public static let weightDecay = ParameterKey.double(
        "weight_decay", default: 1e-2, min: 0,
        doc:
            "Adam L2 weight decay on all generator parameters, coupled as torch.optim.Adam (RUNCONFIGS weight_decay 1e-2)"
    )
    public static let target = ParameterKey.choice(
        "target", default: Target.teacherArgmax,
        doc:
            "cross-entropy target: the teacher's own argmax (published `update_generator_`: pred = logit.max(1)) or the conditioning label"
    )
    public static let teacherGradient = ParameterKey.bool(
        "teacher_gradient", default: false,
        doc:
            "let the cross-entropy's gradient reach G through the frozen teachers; false as published, where the uint8 round trip in `Generator.forward` detaches the samples, so only L_div trains G (`image_path: published` makes that round trip itself)"
    )
    public static let teacherWeights = ParameterKey.choice(
        "teacher_weights", default: TeacherWeighting.uniform,
        doc:
            "joint schedule: each teacher's cross-entropy weighted equally over the classes it has seen, or by w_{k,c} = n_{k,c} / sum_j n_{j,c}"
    )
    public static let alpha = ParameterKey.double(
        "alpha", default: 1, min: 0, doc: "weight of the teacher cross-entropy (RUNCONFIGS ensemble_alpha 1)")
    public static let eta = ParameterKey.double(
        "eta", default: 1, min: 0,
        doc:
            "weight of the diversity loss L_div (the FedBKD code reads GAN_config.py RUNCONFIGS['cifar'] and ['mnist']: ensemble_eta 1; ['sent140']: 0.3; the unused ['cifar10'] entry has 0.3)")
    public static let beta = ParameterKey.double(
        "beta", default: 0, min: 0,
        doc:
            "joint schedule: weight of an adversarial term, G maximises KL(teacher ensemble || global model) on its samples (not published)"
    )
    public static let labels = ParameterKey.choice(
        "labels", default: LabelDistribution.balanced,
        doc:
            "fresh inputs: conditioning labels uniform over the teachers' classes, or proportional to their sample counts"
    )
    public static let diversity = ParameterKey.choice(
        "diversity", default: Diversity.fedgen,
        doc:
            "L_div distances: fedgen = mean squared noise difference x mean absolute sample difference (published `DiversityLoss('l1')`); normalised = noise L2 / sqrt(noise_dim) x sample L1 / size; raw = L2 x L1"
    )
    public static let reset = ParameterKey.bool(
        "reset", default: true,
        doc:
            "a new generator and optimiser every round (published: `DF_gan` is built anew each round) instead of warm-starting"
    )
    public static let sampleBatchNorm = ParameterKey.choice(
        "sample_batchnorm", default: SampleBatchNorm.batch,
        doc:
            "batch-norm statistics when sampling for distillation: of the sampled batch (published `generate_data` runs G in training mode) or running averages"
    )

    public static let output = ParameterKey.choice(
        "output", default: ConditionalGeneratorNetwork.Output.linear,
        doc:
            "the sample stage after the last Linear: linear (published, unbounded) or tanh-batchnorm, tanh then batch norm without affine parameters over the channels (DAFL/DFAD generators), which holds samples at the standardised data's scale"
    )

    public static let imagePath = ParameterKey.choice(
        "image_path", default: ImagePath.raw,
        doc:
            "what teachers and students see: raw (G's output is the sample) or published, the authors' `Generator.forward`: 3 x 32 x 32 samples of an image dataset are read as 32 x 32 x 3, cast to uint8 as numpy does (truncation, wrap-around), scaled to [0, 1] and normalised as the dataset's images, randomly cropped (padding 4) and flipped (`trans_cifar10_train`); other samples stay raw (their FEMNIST and Sent140 branches). Needs teacher_gradient: false"
    )

    /// The distribution of z (`noise`).
    public enum Noise: String, CaseIterable, Sendable { case uniform, normal }
    /// Whether generator inputs are drawn once per run or every time (`inputs`).
    public enum Inputs: String, CaseIterable, Sendable { case fixed, fresh }
    /// How fixed inputs get their label embedding (`label_embedding`).
    public enum LabelEmbedding: String, CaseIterable, Sendable { case fixed, learned }
    /// How teachers take turns (`schedule`).
    public enum Schedule: String, CaseIterable, Sendable { case perTeacher = "per-teacher", joint }
    /// The cross-entropy target (`target`).
    public enum Target: String, CaseIterable, Sendable {
        case teacherArgmax = "teacher-argmax"
        case label
    }
    /// How teachers' cross-entropies are weighted (`teacher_weights`).
    public enum TeacherWeighting: String, CaseIterable, Sendable { case uniform, `class` }
    /// How fresh conditioning labels are drawn (`labels`).
    public enum LabelDistribution: String, CaseIterable, Sendable { case balanced, proportional }
    /// The distances in L_div (`diversity`).
    public enum Diversity: String, CaseIterable, Sendable { case fedgen, normalised, raw }
    /// Batch-norm statistics when sampling (`sample_batchnorm`).
    public enum SampleBatchNorm: String, CaseIterable, Sendable { case batch, running }
    /// What becomes of G's output before teachers and students see it (`image_path`).
    public enum ImagePath: String, CaseIterable, Sendable { case raw, published }

    public let noiseDim: Int
    public let embeddingDim: Int
    public let hidden: Int
    public let uniformNoise: Bool
    public let fixedInputs: Bool
    public let samples: Int
    public let fixedEmbedding: Bool
    public let schedule: Schedule
    public let batchSize: Int
    public let epochs: Int
    public let steps: Int
    public let learningRate: Double
    public let weightDecay: Double
    public let argmaxTarget: Bool
    public let teacherGradient: Bool
    public let classWeights: Bool
    public let alpha: Double
    public let eta: Double
    public let beta: Double
    public let balancedLabels: Bool
    public let diversityKind: Diversity
    public let reset: Bool
    public let batchStatisticsWhenSampling: Bool
    public let output: ConditionalGeneratorNetwork.Output
    public let imagePath: ImagePath

    /// The generator network (nil before the first round).
    public private(set) var network: ConditionalGeneratorNetwork?
    private var optimizer: Adam?
    /// This round's pixel scaling when samples take the published image path (`image_path:
    /// published` on colour 32 x 32 images), nil when they stay raw.
    private(set) var imageScaling: ImageStatistics?
    /// Inputs drawn once per run (`inputs: fixed`): labels, noise and frozen label embeddings.
    public private(set) var fixed: FixedInputs?

    /// Generator inputs drawn once per run.
    public struct FixedInputs {
        public var labels: [Int]
        public var noise: Tensor
        public var embedding: Tensor
        /// Row indices of each class's inputs, in order.
        public var rowsByClass: [[Int]] {
            var rows = [[Int]](repeating: [], count: (labels.max() ?? -1) + 1)
            for (i, y) in labels.enumerated() { rows[y].append(i) }
            return rows
        }
    }

    public init(parameters p: Parameters) throws {
        noiseDim = p[Self.noiseDim]
        embeddingDim = p[Self.embeddingDim]
        hidden = p[Self.hidden]
        uniformNoise = p[Self.noise] == .uniform
        fixedInputs = p[Self.inputs] == .fixed
        samples = p[Self.samples]
        fixedEmbedding = p[Self.labelEmbedding] == .fixed
        schedule = p[Self.schedule]
        batchSize = p[Self.batchSize]
        epochs = p[Self.epochs]
        steps = p[Self.steps]
        learningRate = p[Self.learningRate]
        weightDecay = p[Self.weightDecay]
        argmaxTarget = p[Self.target] == .teacherArgmax
        teacherGradient = p[Self.teacherGradient]
        classWeights = p[Self.teacherWeights] == .class
        alpha = p[Self.alpha]
        eta = p[Self.eta]
        beta = p[Self.beta]
        balancedLabels = p[Self.labels] == .balanced
        diversityKind = p[Self.diversity]
        reset = p[Self.reset]
        batchStatisticsWhenSampling = p[Self.sampleBatchNorm] == .batch
        output = p[Self.output]
        imagePath = p[Self.imagePath]
    }

    /// The adversarial term (`beta` > 0) is defined for the joint schedule only.
    /// The published image path is not differentiable (uint8 cast): no teacher gradient through it.
    public func validate() throws {
        guard beta == 0 || schedule == .joint else {
            throw PluginError("conditional-mlp: beta (the adversarial term) needs schedule: joint")
        }
        guard imagePath == .raw || (!teacherGradient && schedule == .perTeacher) else {
            throw PluginError(
                "conditional-mlp: image_path: published is the published generator's: it casts the samples to uint8, "
                    + "so no gradient reaches G through the teachers; it needs teacher_gradient: false and "
                    + "schedule: per-teacher (or image_path: raw)")
        }
    }

    /// Loss terms of one step (or a mean of steps).
    struct Terms {
        var ce = 0.0, diversity = 0.0, adversarial = 0.0, loss = 0.0
        static func + (a: Terms, b: Terms) -> Terms {
            Terms(
                ce: a.ce + b.ce, diversity: a.diversity + b.diversity, adversarial: a.adversarial + b.adversarial,
                loss: a.loss + b.loss)
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

    public func train(_ context: ServerRoundContext) throws -> GeneratorTrainingResult {
        let start = Date()
        guard !context.teachers.isEmpty else { return GeneratorTrainingResult() }
        let shape = try SampleSpace.shape(context)
        var weights = TeacherWeights.make(context.teachers, classes: context.classes)
        let seen = TeacherWeights.seenClasses(weights, classes: context.classes)
        guard !seen.isEmpty else {
            throw PluginError("conditional-mlp: the sampled clients report no training samples of any class")
        }
        if !classWeights {
            // Uniform: every teacher that has seen class c counts fully for it.
            weights = weights.map { row in row.map { $0 > 0 ? 1 : 0 } }
        }
        var probabilities = [Double](repeating: 0, count: context.classes)
        for c in seen {
            probabilities[c] =
                balancedLabels
                ? 1
                : context.teachers.reduce(0.0) {
                    $0 + Double($1.classCounts.indices.contains(c) ? $1.classCounts[c] : 0)
                }
        }

        imageScaling =
            imagePath == .published
                && PublishedImagePath.applies(shape: shape, kind: context.inputKind, scaling: context.pixelScaling)
            ? context.pixelScaling : nil
        let network = try prepareNetwork(classes: context.classes, shape: shape, generator: context.generator)
        if fixedInputs {
            try prepareFixedInputs(classes: context.classes, network: network, generator: context.generator)
        }
        let slots = try TeacherSlots(workspace: context.workspace, states: context.teachers.map(\.state))
        defer { slots.release() }
        // The global model is only read (adversarial term): frozen and in eval mode while G trains.
        let globalFreeze = try GradientFreeze(context.global.parameters)
        context.global.setTraining(false)
        defer {
            try? globalFreeze.restore()
            context.global.setTraining(true)
        }
        let round = Round(
            context: context, network: network, slots: slots, weights: weights, labelProbabilities: probabilities)

        network.setTraining(true)
        var last = Terms()
        var adamSteps = 0
        for epoch in 0..<epochs {
            var sum = Terms()
            var count = 0
            // Only the last epoch's terms are reported; without teacher gradients the teachers'
            // cross-entropy never reaches G, so the earlier epochs skip the teachers' forward pass.
            let reported = epoch == epochs - 1
            switch schedule {
            case .joint:
                for _ in 0..<steps { sum = sum + (try step(round)); count += 1 }
            case .perTeacher:
                for k in context.teachers.indices {
                    for _ in 0..<steps {
                        sum = sum + (try teacherStep(round, teacher: k, reported: reported))
                        count += 1
                    }
                }
            }
            adamSteps += count
            last = sum.divided(by: count)
        }
        network.zeroGradients()

        let teacherAccuracy = try teacherAccuracy(round)
        return GeneratorTrainingResult(metrics: [
            "generator.ce": last.ce,
            "generator.diversity": last.diversity,
            "generator.adversarial": last.adversarial,
            "generator.loss": last.loss,
            "generator.steps": Double(adamSteps),
            "generator.teacher_accuracy": teacherAccuracy,
            "generator.uint8_images": imageScaling == nil ? 0 : 1,
            "generator.seconds": Date().timeIntervalSince(start),
        ])
    }

    /// Samples for the given labels. With fixed inputs, the j-th request for class c gets the
    /// j-th fixed input of class c (cycling when more are asked for than exist), so asking for
    /// every fixed label gives G on exactly the fixed inputs, as the published `generate_data`.
    /// The samples are what the models see (`image_path`).
    public func sample(labels: Tensor, generator: RandomGenerator) throws -> Tensor {
        guard let network else {
            throw PluginError("conditional-mlp: sample() called before the generator was trained")
        }
        let ys = try labels.ints()
        let batchStatistics = batchStatisticsWhenSampling && ys.count >= 2
        network.setTraining(batchStatistics)
        defer { network.setTraining(true) }
        let x = try withoutGrad {
            if fixedInputs, let fixed {
                let byClass = fixed.rowsByClass
                var next = [Int](repeating: 0, count: byClass.count)
                var rows: [Int] = []
                for y in ys {
                    guard y >= 0, y < byClass.count, !byClass[y].isEmpty else {
                        throw PluginError(
                            "conditional-mlp: no fixed input for class \(y) (samples: \(samples) over the classes)")
                    }
                    rows.append(byClass[y][next[y] % byClass[y].count])
                    next[y] += 1
                }
                return try generate(network, rows: rows)
            }
            let z = try drawNoise(ys.count, generator: generator)
            return try network.generate(noise: z, labels: labels)
        }
        return try seenByModels(x, generator: generator)
    }

    /// G's output as teachers and students see it: the published image path's images (uint8,
    /// scaled, cropped and flipped with draws from `generator`), or the output itself.
    func seenByModels(_ x: Tensor, generator: RandomGenerator) throws -> Tensor {
        guard let imageScaling else { return x }
        return try PublishedImagePath.images(x, scaling: imageScaling, generator: generator)
    }

    /// z for `count` samples from the configured distribution.
    func drawNoise(_ count: Int, generator: RandomGenerator) throws -> Tensor {
        uniformNoise
            ? try Tensor.rand([count, noiseDim], generator: generator)
            : try Tensor.randn([count, noiseDim], generator: generator)
    }

    /// G on fixed-input rows: [z, e] with the frozen embedding, or the current G's embedding.
    func generate(_ network: ConditionalGeneratorNetwork, rows: [Int]) throws -> Tensor {
        guard let fixed else { throw PluginError("conditional-mlp: fixed inputs were not drawn") }
        let index = try Tensor(rows)
        let z = try fixed.noise.indexSelect(dim: 0, index)
        let e =
            fixedEmbedding
            ? try fixed.embedding.indexSelect(dim: 0, index)
            : try network.embedding.forward(Tensor(rows.map { fixed.labels[$0] }))
        return try network.forward(Tensor.cat([z, e], dim: 1))
    }

    /// Draws the run's fixed inputs on the first round: `samples / classes` per class (ordered
    /// by class; the published shuffle only permutes rows), z from the noise distribution and
    /// e(c) from this generator's fresh embedding table (published `init_y_input`).
    func prepareFixedInputs(classes: Int, network: ConditionalGeneratorNetwork, generator: RandomGenerator) throws {
        if let fixed, fixed.noise.shape == [fixed.labels.count, noiseDim], (fixed.labels.max() ?? 0) < classes {
            return
        }
        let perClass = samples / classes
        guard perClass >= 2 else {
            throw PluginError(
                "conditional-mlp: samples (\(samples)) must give at least 2 fixed inputs per class over \(classes) classes (batch norm)"
            )
        }
        let labels = (0..<classes).flatMap { [Int](repeating: $0, count: perClass) }
        let noise = try drawNoise(labels.count, generator: generator)
        let embedding = try withoutGrad { try network.embedding.forward(Tensor(labels)).clone() }
        fixed = FixedInputs(labels: labels, noise: noise, embedding: embedding)
    }

    /// The warm-started network, or a fresh one (first round, `reset`, or a new sample space).
    func prepareNetwork(classes: Int, shape: [Int], generator: RandomGenerator) throws -> ConditionalGeneratorNetwork {
        if !reset, let network, optimizer != nil, network.sampleShape == shape, network.classes == classes,
            network.output == output
        {
            return network
        }
        let fresh = try ConditionalGeneratorNetwork(
            noiseDim: noiseDim, embeddingDim: embeddingDim, hidden: hidden,
            classes: classes, sampleShape: shape, output: output, generator: generator)
        network = fresh
        // torch.optim.Adam(weight_decay=...) as in the published code: L2 added to the gradient of every parameter.
        optimizer = try Adam([ParameterGroup(fresh.parameters, weightDecay: weightDecay)], learningRate: learningRate)
        return fresh
    }

    /// Cross-entropy targets: the conditioning labels, or the teacher's own argmax.
    func targets(_ logits: Tensor, labels: Tensor) throws -> Tensor {
        argmaxTarget ? try withoutGrad { try logits.argmax(dim: 1) } : labels
    }

    /// The per-teacher loss on teacher k's inputs (all fixed inputs of its classes, or a fresh
    /// batch of them): alpha * CE(theta_k(x), target) + eta * L_div. With `teacher_gradient:
    /// false` the teacher sees a detached x, so only L_div reaches G; then the teacher runs only
    /// when `reported` (its CE is a metric, nothing else), and CE reads 0 otherwise.
    func teacherLoss(
        _ round: Round, teacher k: Int, reported: Bool
    ) throws -> (total: Tensor, ce: Tensor, diversity: Tensor) {
        let classes = round.weights[k].indices.filter { round.weights[k][$0] > 0 }
        let network = round.network
        let z: Tensor, x: Tensor, y: Tensor
        if fixedInputs {
            guard let fixed else { throw PluginError("conditional-mlp: fixed inputs were not drawn") }
            let byClass = fixed.rowsByClass
            let rows = classes.flatMap { $0 < byClass.count ? byClass[$0] : [] }
            guard rows.count >= 2 else {
                throw PluginError(
                    "conditional-mlp: teacher \(k) has fewer than 2 fixed inputs of its classes (batch norm)")
            }
            z = try fixed.noise.indexSelect(dim: 0, Tensor(rows))
            x = try generate(network, rows: rows)
            y = try Tensor(rows.map { fixed.labels[$0] })
        } else {
            var probabilities = [Double](repeating: 0, count: round.context.classes)
            for c in classes { probabilities[c] = round.labelProbabilities[c] > 0 ? round.labelProbabilities[c] : 1 }
            let labels = try LabelDraw.draw(batchSize, probabilities: probabilities, generator: round.context.generator)
            y = try Tensor(labels)
            z = try drawNoise(batchSize, generator: round.context.generator)
            x = try network.generate(noise: z, labels: y)
        }
        let div = try diversity(noise: z, samples: x)
        guard teacherGradient || reported else { return (try div * eta, try Tensor.zeros([]), div) }
        let input = teacherGradient ? x : try seenByModels(x.detached(), generator: round.context.generator)
        let logits = try SampleSpace.logits(round.slots.network(k), input, kind: round.kind)
        let ce = try Loss.crossEntropy(logits, targets: targets(logits, labels: y))
        return (try ce * alpha + div * eta, ce, div)
    }

    /// One published-schedule Adam step for teacher k (`reported`: its terms are the ones reported).
    func teacherStep(_ round: Round, teacher k: Int, reported: Bool) throws -> Terms {
        let (total, ce, div) = try teacherLoss(round, teacher: k, reported: reported)
        var terms = Terms()
        terms.ce = try ce.item()
        terms.diversity = try div.item()
        terms.loss = try total.item()
        guard terms.loss.isFinite else { throw PluginError("conditional-mlp: the generator loss became \(terms.loss)") }
        if let optimizer {
            try optimizer.zeroGrad()
            try total.backward()
            try optimizer.step()
        }
        return terms
    }

    /// One joint Adam step of G over all teachers; returns the loss terms.
    func step(_ round: Round) throws -> Terms {
        let context = round.context
        let labels = try LabelDraw.draw(
            batchSize, probabilities: round.labelProbabilities, generator: context.generator)
        let y = try Tensor(labels)
        let z = try drawNoise(batchSize, generator: context.generator)
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
                let logits = try SampleSpace.logits(
                    round.slots.network(k), xd.indexSelect(dim: 0, index), kind: round.kind)
                let ce = try Loss.crossEntropy(
                    logits, targets: targets(logits, labels: y.indexSelect(dim: 0, index)), reduction: .none)
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
        // Without teacher gradients only the adversarial term (if any) reaches G through xd.
        if let g = xd.grad, teacherGradient || ensembleGradient != nil {
            if !teacherGradient {
                throw PluginError(
                    "conditional-mlp: beta > 0 needs teacher_gradient: true (the adversarial term reaches G through the teachers)"
                )
            }
            total = try (x * g).sum()
        }
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
    /// `fedgen`: FedGen's `DiversityLoss('l1')`; `normalised`: noise L2 / sqrt(noise_dim) and
    /// sample L1 / size; `raw`: noise L2 and sample L1.
    func diversity(noise z: Tensor, samples x: Tensor) throws -> Tensor {
        guard diversityKind != .fedgen else {
            return try DiversityLoss.fedgen(noise: z, samples: x, noiseDim: noiseDim)
        }
        let flat = try x.flattened(from: 1)
        var dx = try flat.pairwiseDistances(flat, p: 1)
        var dz = try withoutGrad { try z.pairwiseDistances(z, p: 2) }
        if diversityKind == .normalised {
            dx = try dx / Double(max(1, flat.shape[1]))
            dz = try dz / Double(noiseDim).squareRoot()
        }
        return try (-(dz * dx).mean()).exp()
    }

    /// The fraction of samples G(z, c) (fresh, or the fixed inputs of the seen classes) that the teachers classify as c, each teacher
    /// weighted by w_{k,c} as in the loss (so 1 means every teacher agrees on every class it has seen).
    func teacherAccuracy(_ round: Round) throws -> Double {
        let labels: [Int]
        if fixedInputs, let fixed {
            labels = fixed.labels.filter {
                round.labelProbabilities.indices.contains($0) && round.labelProbabilities[$0] > 0
            }
        } else {
            labels = try LabelDraw.draw(
                max(256, batchSize), probabilities: round.labelProbabilities, generator: round.context.generator)
        }
        guard !labels.isEmpty else { return 0 }
        let x = try sample(labels: Tensor(labels), generator: round.context.generator)
        return try withoutGrad {
            var correct = 0.0, possible = 0.0
            for k in round.weights.indices {
                let rows = labels.indices.filter { round.weights[k][labels[$0]] > 0 }
                guard !rows.isEmpty else { continue }
                let logits = try SampleSpace.logits(
                    round.slots.network(k), x.indexSelect(dim: 0, Tensor(rows)), kind: round.kind)
                let predicted = try logits.argmax(dim: 1).ints()
                for (r, p) in zip(rows, predicted) {
                    possible += round.weights[k][labels[r]]
                    if p == labels[r] { correct += round.weights[k][labels[r]] }
                }
            }
            // Normalised by the total weight, so uniform teacher weights (several teachers per class) stay in [0, 1].
            return possible > 0 ? correct / possible : 0
        }
    }
}

extension Layer {
    /// Drops every parameter's gradient, ignoring errors (cleanup).
    func zeroGradients() { for p in parameters { try? p.zeroGrad() } }
}

extension ConditionalMLPGenerator {
    /// Fixed inputs (`fixed.*`), and with warm start the network (`network.*`) and Adam's
    /// moments and step count (`adam.*`).
    public func saveCarriedState() throws -> StateDict {
        var entries: [(name: String, tensor: Tensor)] = []
        if let fixed {
            entries.append(("fixed.labels", try Tensor(fixed.labels)))
            entries.append(("fixed.noise", try fixed.noise.clone()))
            entries.append(("fixed.embedding", try fixed.embedding.clone()))
        }
        if !reset, let network, let optimizer {
            for (name, tensor) in try network.stateDict().copy().entries { entries.append(("network." + name, tensor)) }
            for (i, moment) in try optimizer.momentCopies().enumerated() {
                entries.append(("adam.m.\(i)", moment.m))
                entries.append(("adam.v.\(i)", moment.v))
            }
            entries.append(("adam.steps", try Tensor([optimizer.steps])))
            entries.append(("sample_shape", try Tensor(network.sampleShape)))
        }
        return StateDict(entries)
    }

    public func restoreCarriedState(_ state: StateDict) throws {
        if let labels = state["fixed.labels"] {
            guard let noise = state["fixed.noise"], let embedding = state["fixed.embedding"] else {
                throw PluginError(
                    "conditional-mlp: carried state has fixed.labels but no fixed.noise or fixed.embedding")
            }
            fixed = FixedInputs(labels: try labels.ints(), noise: try noise.clone(), embedding: try embedding.clone())
        } else {
            fixed = nil
        }
        let networkState = state.under("network")
        guard !networkState.isEmpty else { return }
        guard !reset else { throw PluginError("conditional-mlp: carried state holds a network but reset is true") }
        guard let embeddingTable = networkState["network.embedding.weight"] else {
            throw PluginError("conditional-mlp: carried network state lacks embedding.weight")
        }
        guard let steps = state["adam.steps"] else {
            throw PluginError("conditional-mlp: carried state lacks adam.steps")
        }
        let network = try ConditionalGeneratorNetwork(
            noiseDim: noiseDim, embeddingDim: embeddingDim, hidden: hidden,
            classes: embeddingTable.shape[0], sampleShape: carriedSampleShape(state), output: output,
            generator: RandomGenerator(seed: 0))
        let renamed = StateDict(networkState.entries.map { (String($0.name.dropFirst("network.".count)), $0.tensor) })
        try network.load(renamed)
        let optimizer = try Adam(
            [ParameterGroup(network.parameters, weightDecay: weightDecay)], learningRate: learningRate)
        var moments: [(m: Tensor, v: Tensor)] = []
        for i in network.parameters.indices {
            guard let m = state["adam.m.\(i)"], let v = state["adam.v.\(i)"] else {
                throw PluginError("conditional-mlp: carried state lacks adam.m.\(i) or adam.v.\(i)")
            }
            moments.append((m, v))
        }
        try optimizer.restore(moments: moments, steps: try steps.ints().first ?? 0)
        self.network = network
        self.optimizer = optimizer
    }

    /// The sample shape saved with the network (`network.sample_shape`).
    private func carriedSampleShape(_ state: StateDict) throws -> [Int] {
        guard let shape = state["sample_shape"] else {
            throw PluginError("conditional-mlp: carried state lacks sample_shape")
        }
        return try shape.ints()
    }
}
