@testable import Distillers
import FedKit
import FedKitTesting
@testable import Generators
import Torch
@testable import Trainers
import XCTest

/// The defining properties of the knowledge-distillation baselines (docs/baselines.md): FedGen's
/// feature generator and client regulariser, and the ensemble distillation of FedDF and FedFTG.
final class DistillationBaselineTests: XCTestCase {
    // MARK: - FedGen

    func featureGenerator(_ settings: (Parameters) -> Parameters = { $0 }) throws -> FeatureSpaceGenerator {
        try FeatureSpaceGenerator.make(settings(Parameters().setting(FeatureSpaceGenerator.steps, 200)
            .setting(FeatureSpaceGenerator.learningRate, 0.01).setting(FeatureSpaceGenerator.eta, 0)
            .setting(FeatureSpaceGenerator.hidden, 32).setting(FeatureSpaceGenerator.noiseDim, 4)))
    }

    /// w_{k,y}: FedGen's label-count weights (a client speaks for a class by its share of it), or
    /// PFLlib's sample weights.
    func testFeatureGeneratorWeightsTheHeadsByTheirShareOfEachLabel() throws {
        let teachers = try FixedTeachers(classCounts: [[20, 0], [10, 30]]).context.teachers
        let byClass = try featureGenerator().weights(teachers, classes: 2)
        XCTAssertEqual(byClass[0][0], 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(byClass[1][0], 1.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(byClass[0][1], 0)
        XCTAssertEqual(byClass[1][1], 1)
        let bySamples = try featureGenerator { $0.setting(FeatureSpaceGenerator.teacherWeights, .samples) }.weights(teachers, classes: 2)
        let third: Double = 1.0 / 3, twoThirds: Double = 2.0 / 3
        XCTAssertEqual(bySamples, [[third, third], [twoThirds, twoThirds]])
    }

    /// The generator learns features that the heads of the clients who know class y classify as y
    /// (teacher 0 knows only class 0, teacher 1 only class 1; both heads are random).
    func testFeatureGeneratorLearnsWhatTheHeadsOfEachClassAgreeOn() throws {
        let round = try FixedTeachers()
        let generator = try featureGenerator()
        XCTAssertTrue(try generator.payload(round: 1).isEmpty, "no generator before the first server step")
        XCTAssertFalse(generator.samplesModelInputs)
        let trained = try generator.train(round.context)
        XCTAssertEqual(trained.metrics["generator.steps"], 200)
        for (k, teacher) in round.context.teachers.enumerated() {
            let head = try round.problem.network()
            try head.load(teacher.state)
            head.setTraining(false)
            let labels = try Tensor([Int](repeating: k, count: 64))
            let predicted = try withoutGrad {
                try head.head.forward(generator.sample(labels: labels, generator: RandomGenerator(seed: 1))).argmax(dim: 1).ints()
            }
            let agreement = Double(predicted.filter { $0 == k }.count) / 64
            XCTAssertGreaterThan(agreement, 0.95, "teacher \(k)'s head on generated features of its class \(k)")
        }
    }

    /// More heads than workspace networks (slots are reloaded between heads), in both ensemble
    /// forms (FedGen's weighted losses, PFLlib's weighted logits): the ensemble ends up calling
    /// the generated features of each class by that class.
    func testFeatureGeneratorWithMoreHeadsThanSlotsInBothEnsembleForms() throws {
        for form in FeatureSpaceGenerator.Ensemble.allCases {
            let round = try FixedTeachers(classCounts: [[20, 0], [0, 20], [10, 10]])
            XCTAssertLessThan(round.context.workspace.count, round.context.teachers.count)
            let generator = try featureGenerator { $0.setting(FeatureSpaceGenerator.ensemble, form) }
            let trained = try generator.train(round.context)
            XCTAssertGreaterThan(try XCTUnwrap(trained.metrics["generator.teacher_accuracy"]), 0.9, form.rawValue)
            XCTAssertTrue(try XCTUnwrap(trained.metrics["generator.ce"]).isFinite, form.rawValue)
        }
    }

    /// The payload rebuilds the server's generator exactly (the clients' copy gives the same features).
    func testFeatureGeneratorPayloadRebuildsTheSameGenerator() throws {
        let round = try FixedTeachers()
        let server = try featureGenerator { $0.setting(FeatureSpaceGenerator.steps, 5) }
        _ = try server.train(round.context)
        let payload = try server.payload(round: 2)
        let carried = try server.saveCarriedState()
        XCTAssertNil(try FeatureGenerator(payload: StateDict([])))
        let client = try XCTUnwrap(try FeatureGenerator(payload: payload))
        let network = try XCTUnwrap(server.network)
        XCTAssertEqual([client.noiseDim, client.classes, client.features], [4, 2, 8])
        let labels = try Tensor([0, 1, 1, 0, 1])
        let noise = try Tensor.rand([5, 4], generator: RandomGenerator(seed: 3))
        XCTAssertEqual(try withoutGrad { try client.generate(labels: labels, noise: noise).floats() },
                       try withoutGrad { try network.generate(labels: labels, noise: noise).floats() })
        // A restored server state sends the same payload (exact resume).
        let restored = try featureGenerator { $0.setting(FeatureSpaceGenerator.steps, 5) }
        try restored.restoreCarriedState(carried)
        XCTAssertEqual(try restored.payload(round: 2).flattened().floats(), try payload.flattened().floats())
    }

    /// PFLlib's options of the server side: round 1 sends the untrained G (built in `start` from
    /// the model's feature width), and `labels: federation` draws the server's labels in proportion
    /// to the federation's samples of the seen classes and sends those counts to the clients.
    func testFeatureGeneratorPFLlibOptions() throws {
        let facts = FederationFacts(clients: 2, seed: 3, global: StateDict([]), localLearningRate: 0.1,
                                    classCounts: [30, 10], featureWidth: 8)
        let fedgen = try featureGenerator()
        try fedgen.start(facts)
        XCTAssertTrue(try fedgen.payload(round: 1).isEmpty, "FedGen: no generator in round 1")
        XCTAssertEqual(fedgen.labelProbabilities(seen: [0, 1], classes: 2), [1, 1])

        let pfllib = try featureGenerator {
            $0.setting(FeatureSpaceGenerator.firstRound, .untrained).setting(FeatureSpaceGenerator.labels, .federation)
        }
        try pfllib.start(facts)
        let first = try pfllib.payload(round: 1)
        let untrained = try XCTUnwrap(try FeatureGenerator(payload: first), "the untrained G in round 1")
        XCTAssertEqual([untrained.noiseDim, untrained.classes, untrained.features], [4, 2, 8])
        XCTAssertEqual(try FeatureGenerator.labelCounts(payload: first), [30, 10])
        XCTAssertNil(try FeatureGenerator.labelCounts(payload: try fedgen.payload(round: 1)))
        XCTAssertEqual(pfllib.labelProbabilities(seen: [0, 1], classes: 2), [30, 10])
        XCTAssertEqual(pfllib.labelProbabilities(seen: [1], classes: 2), [0, 10], "only classes the round's clients have seen")
        // The server trains the G it started with (same shape), and keeps sending the counts.
        let before = try XCTUnwrap(pfllib.network).stateDict().flattened().floats()
        _ = try pfllib.train(try FixedTeachers().context)
        XCTAssertNotEqual(try XCTUnwrap(pfllib.network).stateDict().flattened().floats(), before)
        XCTAssertEqual(try FeatureGenerator.labelCounts(payload: try pfllib.payload(round: 2)), [30, 10])

        // Each option says what it is missing.
        let noWidth = FederationFacts(clients: 2, seed: 3, global: StateDict([]), localLearningRate: 0.1, classCounts: [30, 10])
        XCTAssertThrowsError(try featureGenerator { $0.setting(FeatureSpaceGenerator.firstRound, .untrained) }.start(noWidth)) {
            XCTAssertTrue("\($0)".contains("feature width"), "\($0)")
        }
        let noCounts = FederationFacts(clients: 2, seed: 3, global: StateDict([]), localLearningRate: 0.1, featureWidth: 8)
        XCTAssertThrowsError(try featureGenerator { $0.setting(FeatureSpaceGenerator.labels, .federation) }.start(noCounts)) {
            XCTAssertTrue("\($0)".contains("samples per class"), "\($0)")
        }
    }

    /// The client's labels y': its own classes (FedGen), or the federation's label counts that the
    /// payload carries (PFLlib), which must be there.
    func testFedGenClientLabelsFromItsOwnClassesOrTheFederation() throws {
        let problem = try ToyProblem()
        let server = try featureGenerator { $0.setting(FeatureSpaceGenerator.steps, 5) }
        _ = try server.train(try FixedTeachers().context)
        let g = try XCTUnwrap(server.network)
        let own = try fedGen(alpha: 1, beta: 0)
        let federation = try FedGenTrainer.make(Parameters().setting(FedGenTrainer.labels, .federation))
        let c = try context(problem, payload: try g.payload())
        XCTAssertEqual(Set(try own.labelDraw(c, classes: 2)(400)), Set(c.data.labelArray), "the client's own classes")
        XCTAssertThrowsError(try federation.labelDraw(c, classes: 2)) {
            XCTAssertTrue("\($0)".contains("labels: federation"), "\($0)")
        }
        let onlyClassOne = try context(problem, payload: try g.payload(labelCounts: [0, 7]))
        XCTAssertEqual(Set(try federation.labelDraw(onlyClassOne, classes: 2)(400)), [1])
        let skewed = try federation.labelDraw(try context(problem, payload: try g.payload(labelCounts: [30, 10])), classes: 2)(4000)
        XCTAssertEqual(Double(skewed.filter { $0 == 0 }.count) / 4000, 0.75, accuracy: 0.03)
    }

    /// `generator_mode: train` runs G with batch statistics (PFLlib): a different regulariser, so
    /// a different client model; eval (the default) uses the server's running statistics.
    func testFedGenGeneratorModeChangesTheRegulariser() throws {
        let problem = try ToyProblem()
        let server = try featureGenerator { $0.setting(FeatureSpaceGenerator.steps, 5) }
        _ = try server.train(try FixedTeachers().context)
        let payload = try server.payload(round: 2)
        var models: [[Float]] = []
        for mode in FedGenTrainer.GeneratorMode.allCases {
            let trainer = try FedGenTrainer.make(Parameters().setting(FedGenTrainer.generatorMode, mode))
            let c = try context(problem, payload: payload)
            _ = try trainer.train(c)
            models.append(try c.model.stateDict().flattened().floats())
        }
        XCTAssertNotEqual(models[0], models[1])
    }

    func fedGen(alpha: Double, beta: Double) throws -> FedGenTrainer {
        try FedGenTrainer.make(Parameters().setting(FedGenTrainer.alpha, alpha).setting(FedGenTrainer.beta, beta))
    }

    /// A client context carrying `payload`, in round `round`.
    func context(_ problem: ToyProblem, payload: StateDict, round: Int = 2) throws -> ClientTrainingContext {
        let base = try problem.context(epochs: 2)
        return ClientTrainingContext(client: 0, round: round, model: base.model, scratch: base.scratch, data: base.data,
                                     global: base.global, personal: nil, settings: base.settings,
                                     generator: RandomGenerator(seed: 5), payload: payload)
    }

    /// Without a generator (round 1), and with both terms off, FedGen's client is plain local SGD.
    func testFedGenClientWithoutRegulariserIsPlainSGD() throws {
        let problem = try ToyProblem()
        let round = try FixedTeachers()
        let server = try featureGenerator { $0.setting(FeatureSpaceGenerator.steps, 5) }
        _ = try server.train(round.context)
        let sgd = try context(problem, payload: StateDict([]))
        _ = try SGDTrainer.make().train(sgd)
        let expected = try sgd.model.stateDict().flattened().floats()
        for (trainer, payload) in [(try fedGen(alpha: 10, beta: 10), StateDict([])), (try fedGen(alpha: 0, beta: 0), try server.payload(round: 2))] {
            let c = try context(problem, payload: payload)
            _ = try trainer.train(c)
            XCTAssertEqual(try c.model.stateDict().flattened().floats(), expected)
        }
    }

    /// The generative teacher term: the server's generator has learnt features that a teacher
    /// whose head is the client's own head with the classes swapped calls y; plain SGD leaves the
    /// client's head calling them 1 - y, the teacher term teaches it to call them y.
    func testFedGenTeacherTermTeachesTheHeadTheGeneratedFeatures() throws {
        let problem = try ToyProblem()
        let start = try context(problem, payload: StateDict([]))
        _ = try SGDTrainer.make().train(start)
        let trained = try start.model.stateDict().copy()
        // The teacher: the client's trained model with the head's two output rows swapped.
        let swap = try Tensor([1, 0])
        let teacher = StateDict(try trained.entries.map { entry in
            guard entry.name.hasPrefix("head."), entry.name == trained.names.last || entry.name == trained.names.dropLast().last else {
                return (entry.name, entry.tensor)
            }
            return (entry.name, try entry.tensor.indexSelect(dim: 0, swap))
        })
        let round = ServerRoundContext(
            round: 1, global: try problem.network(), workspace: [try problem.network(), try problem.network()],
            teachers: [Teacher(client: 0, state: teacher, classCounts: [20, 20])], classes: 2, inputShape: [2],
            inputKind: .continuous, generator: RandomGenerator(seed: 7))
        let server = try featureGenerator()
        _ = try server.train(round)
        let payload = try server.payload(round: 2)
        let g = try XCTUnwrap(try FeatureGenerator(payload: payload))
        g.setTraining(false)
        func headAgreement(_ model: Network) throws -> Double {
            model.setTraining(false)
            let labels = try Tensor((0..<200).map { $0 % 2 })
            let predicted = try withoutGrad { try model.head.forward(g.generate(labels: labels, generator: RandomGenerator(seed: 9))).argmax(dim: 1).ints() }
            return Double(zip(predicted, try labels.ints()).filter { $0 == $1 }.count) / 200
        }
        let plain = try context(problem, payload: payload)
        _ = try fedGen(alpha: 0, beta: 0).train(plain)
        let regularised = try context(problem, payload: payload)
        _ = try fedGen(alpha: 10, beta: 0).train(regularised)
        let withTerm = try headAgreement(regularised.model), without = try headAgreement(plain.model)
        XCTAssertLessThan(without, 0.2)
        XCTAssertGreaterThan(withTerm, without + 0.5, "with \(withTerm), without \(without)")
        XCTAssertLessThan(try problem.loss(regularised.model), 0.5, "the client still fits its own data")
    }

    /// alpha_t = alpha decay^(t-1), beta_t likewise (FedGen's exp_lr_decay per global iteration).
    func testFedGenTermWeightsDecayPerRound() throws {
        let trainer = try fedGen(alpha: 10, beta: 5)
        XCTAssertEqual(trainer.weights(round: 1).alpha, 10)
        XCTAssertEqual(trainer.weights(round: 3).alpha, 10 * 0.98 * 0.98, accuracy: 1e-12)
        XCTAssertEqual(trainer.weights(round: 3).beta, 5 * 0.98 * 0.98, accuracy: 1e-12)
    }

    // MARK: - FedDF / FedFTG: ensemble distillation

    func ensemble(_ settings: (Parameters) -> Parameters = { $0 }) throws -> EnsembleDistiller {
        try EnsembleDistiller.make(settings(Parameters().setting(EnsembleDistiller.steps, 60).setting(EnsembleDistiller.batchSize, 32)
            .setting(EnsembleDistiller.learningRate, 0.01)))
    }

    /// a_{k,y}: uniform (FedDF's mean of the logits), by samples, or by each client's share of the
    /// class (FedFTG's label weights).
    func testEnsembleWeightsFollowTheDeclaredRule() throws {
        let teachers = try FixedTeachers(classCounts: [[20, 0], [10, 30]]).context.teachers
        XCTAssertEqual(try ensemble().ensembleWeights(teachers, classes: 2), [[0.5, 0.5], [0.5, 0.5]])
        let third: Double = 1.0 / 3, twoThirds: Double = 2.0 / 3
        let bySamples = try ensemble { $0.setting(EnsembleDistiller.teacherWeights, .samples) }.ensembleWeights(teachers, classes: 2)
        XCTAssertEqual(bySamples, [[third, third], [twoThirds, twoThirds]])
        let byClass = try ensemble { $0.setting(EnsembleDistiller.teacherWeights, .class) }.ensembleWeights(teachers, classes: 2)
        XCTAssertEqual(byClass[0], [twoThirds, 0])
        XCTAssertEqual(byClass[1], [third, 1])
        let proportional = try ensemble { $0.setting(EnsembleDistiller.labels, .proportional) }
        XCTAssertEqual(proportional.labelProbabilities(teachers, classes: 2), [30, 30])
        XCTAssertEqual(try ensemble().labelProbabilities(FixedTeachers(classCounts: [[5, 0, 0], [0, 0, 0]]).context.teachers, classes: 3), [1, 0, 0])
    }

    /// The KL between a global model (`global`, else the round's) and the ensemble on fresh
    /// samples, with the ensemble logits computed by hand: the mean of the teachers' logits.
    func divergence(_ round: FixedTeachers, global state: StateDict? = nil, samples: Tensor) throws -> Double {
        let global = try round.problem.network()
        try global.load(state ?? round.context.global.stateDict())
        return try withoutGrad {
            var sum: Tensor?
            for teacher in round.context.teachers {
                let net = try round.problem.network()
                try net.load(teacher.state)
                net.setTraining(false)
                let logits = try net.forward(samples)
                sum = try sum.map { try $0 + logits } ?? logits
            }
            global.setTraining(false)
            return try Loss.distillationKL(student: global.forward(samples),
                                           teacher: sum! / Double(round.context.teachers.count)).item()
        }
    }

    /// FedDF's server step: the global model moves toward the mean of the client models' logits;
    /// the teachers do not change.
    func testEnsembleDistillationMovesTheGlobalModelTowardTheEnsemble() throws {
        let round = try FixedTeachers(classCounts: [[20, 10], [5, 20]])
        let probe = try Tensor.randn([256, 2], generator: RandomGenerator(seed: 21))
        let before = try divergence(round, samples: probe)
        let teachers = try round.context.teachers.map { try $0.state.flattened().floats() }
        let result = try ensemble().distill(round.context, source: GaussianNoiseSource(shape: [2]))
        let after = try divergence(round, global: result.global, samples: probe)
        XCTAssertLessThan(after, before * 0.5, "KL(ensemble || global) \(before) -> \(after)")
        XCTAssertEqual(try round.context.teachers.map { try $0.state.flattened().floats() }, teachers)
        XCTAssertTrue(result.personal.isEmpty, "the client models do not change")
        XCTAssertEqual(result.metrics["distill.steps"], 60)
        XCTAssertLessThan(try XCTUnwrap(result.metrics["distill.kl_last_iteration"]),
                          try XCTUnwrap(result.metrics["distill.kl_first_step"]))
    }

    /// With label weights and clients that each know one class, the ensemble's logits for a
    /// sample of class c are exactly those of the client that knows c.
    func testClassWeightedEnsembleSpeaksWithTheClientThatKnowsTheClass() throws {
        let round = try FixedTeachers(classCounts: [[20, 0], [0, 20]])
        let distiller = try ensemble { $0.setting(EnsembleDistiller.teacherWeights, .class) }
        let x = try Tensor.randn([4, 2], generator: RandomGenerator(seed: 2))
        let labels = [0, 1, 1, 0]
        let slots = try TeacherSlots(workspace: round.context.workspace, states: round.context.teachers.map(\.state))
        let logits = try distiller.ensembleLogits(slots, weights: distiller.ensembleWeights(round.context.teachers, classes: 2),
                                                  x, labels: labels, kind: .continuous).floats()
        for (i, y) in labels.enumerated() {
            let net = try round.problem.network()
            try net.load(round.context.teachers[y].state)
            net.setTraining(false)
            let own = try withoutGrad { try net.forward(x).floats() }
            XCTAssertEqual(Array(logits[(2 * i)..<(2 * i + 2)]), Array(own[(2 * i)..<(2 * i + 2)]), "row \(i)")
        }
    }

    /// FedFTG's alternation: with a trainable generator, every iteration after the first retrains
    /// it against the changed global model (hard-sample mining); the generator's Adam steps count them.
    func testIterationsRetrainTheGeneratorBetweenDistillationSteps() throws {
        let round = try FixedTeachers()
        let generator = try ConditionalMLPGenerator.make(Parameters([
            "schedule": .string("joint"), "inputs": .string("fresh"), "teacher_gradient": .bool(true), "target": .string("label"),
            "teacher_weights": .string("class"), "beta": .double(1), "reset": .bool(false), "epochs": .int(1), "steps": .int(2),
            "batch_size": .int(16), "hidden": .int(16), "noise_dim": .int(4), "embedding_dim": .int(4),
        ]))
        _ = try generator.train(round.context)
        let distiller = try ensemble { $0.setting(EnsembleDistiller.iterations, 4).setting(EnsembleDistiller.steps, 3) }
        let result = try distiller.distill(round.context, source: GeneratorSource(generator: generator))
        XCTAssertEqual(result.metrics["distill.generator_retrained"], 3)
        XCTAssertEqual(result.metrics["distill.steps"], 12)
        XCTAssertEqual(result.metrics["generator.steps"], 2, "the last retraining's metrics, its own steps")
        // A source that cannot train: the iterations only distil.
        let plain = try FixedTeachers()
        let plainResult = try distiller.distill(plain.context, source: GaussianNoiseSource(shape: [2]))
        XCTAssertNil(plainResult.metrics["distill.generator_retrained"])
        XCTAssertNil(plainResult.metrics["generator.steps"])
        XCTAssertEqual(plainResult.metrics["distill.steps"], 12)
    }

    /// A 2-input classifier with batch norm, so that train and eval mode differ.
    func batchNormNetwork(seed: UInt64) throws -> Network {
        let g = RandomGenerator(seed: seed)
        return try Network(
            body: [Linear(2, 8, generator: g), BatchNorm(8), Activation.relu], head: [Linear(8, 2, generator: g)],
            generator: g)
    }

    /// The FedFTG preset's generator, small.
    func hardSampleGenerator(_ extra: [String: ParameterValue] = [:]) throws -> ConditionalMLPGenerator {
        try ConditionalMLPGenerator.make(Parameters([
            "schedule": .string("joint"), "inputs": .string("fresh"), "noise": .string("normal"),
            "teacher_gradient": .bool(true), "target": .string("label"), "teacher_weights": .string("class"),
            "beta": .double(1), "reset": .bool(false), "epochs": .int(1), "steps": .int(2), "batch_size": .int(16),
            "hidden": .int(16), "noise_dim": .int(4), "embedding_dim": .int(4),
        ].merging(extra) { _, new in new }))
    }

    /// The student distils in eval mode in every iteration, also after the generator has trained
    /// again between iterations (it used to leave the global model in training mode from the
    /// second iteration on): the global model's batch-norm statistics never see synthetic data.
    func testEveryIterationDistilsWithTheStudentInEvalMode() throws {
        let teachers = try [[20, 5], [5, 20]].enumerated().map { i, counts in
            Teacher(client: i, state: try batchNormNetwork(seed: 30 + UInt64(i)).stateDict().copy(), classCounts: counts)
        }
        let context = ServerRoundContext(
            round: 1, global: try batchNormNetwork(seed: 29),
            workspace: [try batchNormNetwork(seed: 1), try batchNormNetwork(seed: 2)], teachers: teachers,
            classes: 2, inputShape: [2], inputKind: .continuous, generator: RandomGenerator(seed: 3))
        let statistics = { (state: StateDict) throws -> [Float] in
            try state.entries.filter { $0.name.hasSuffix("running_mean") || $0.name.hasSuffix("running_var") }
                .flatMap { try $0.tensor.floats() }
        }
        let initial = try context.global.stateDict().copy()
        let before = try statistics(initial)
        XCTAssertEqual(before.count, 16)
        let generator = try hardSampleGenerator()
        _ = try generator.train(context)
        let distiller = try ensemble {
            $0.setting(EnsembleDistiller.iterations, 3).setting(EnsembleDistiller.steps, 2)
                .setting(EnsembleDistiller.teacherWeights, .class)
        }
        let result = try distiller.distill(context, source: GeneratorSource(generator: generator))
        XCTAssertEqual(result.metrics["distill.generator_retrained"], 2)
        XCTAssertEqual(try statistics(result.global), before, "running statistics moved: a step ran in training mode")
        XCTAssertNotEqual(try result.global.flattened().floats(), try initial.flattened().floats(), "the student moved")
    }

    /// `output: tanh-batchnorm` holds the samples at the scale of standardised data however the
    /// generator is pushed (a large adversarial weight and lr, warm-started over rounds): each
    /// channel of a sampled batch has mean 0 and variance 1. With `linear` output the same
    /// training drives the samples far out (what FedFTG's preset did on Fashion-MNIST). The
    /// output stage's running statistics travel with the carried state.
    func testTanhBatchNormOutputKeepsSamplesAtTheDataScale() throws {
        let push: [String: ParameterValue] = ["beta": .double(20), "lr": .double(0.05), "weight_decay": .double(0), "steps": .int(20)]
        var spread: [String: Double] = [:]
        for output in ["linear", "tanh-batchnorm"] {
            let generator = try hardSampleGenerator(push.merging(["output": .string(output)]) { _, new in new })
            for round in 1...5 { _ = try generator.train(FixedTeachers(classCounts: [[20, 5], [5, 20]], round: round).context) }
            let labels = try Tensor([Int](repeating: 0, count: 32) + [Int](repeating: 1, count: 32))
            let x = try generator.sample(labels: labels, generator: RandomGenerator(seed: 5))
            let values = try x.floats()
            for channel in 0..<2 {
                let column = stride(from: channel, to: values.count, by: 2).map { Double(values[$0]) }
                let mean = column.reduce(0, +) / Double(column.count)
                let variance = column.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(column.count)
                if output == "tanh-batchnorm" {
                    XCTAssertEqual(mean, 0, accuracy: 1e-4, "channel \(channel)")
                    // 1 up to batch norm's eps (a nearly constant tanh output reads a little less).
                    XCTAssertLessThanOrEqual(variance, 1 + 1e-4, "channel \(channel)")
                    XCTAssertGreaterThan(variance, 0.5, "channel \(channel)")
                }
            }
            spread[output] = values.map { abs(Double($0)) }.max() ?? 0
            if output == "tanh-batchnorm" {
                let restored = try hardSampleGenerator(push.merging(["output": .string(output)]) { _, new in new })
                try restored.restoreCarriedState(generator.saveCarriedState())
                XCTAssertEqual(try restored.network?.stateDict().flattened().floats(),
                               try generator.network?.stateDict().flattened().floats())
                XCTAssertEqual(try restored.sample(labels: labels, generator: RandomGenerator(seed: 5)).floats(), values)
            }
        }
        // A standardised batch of 64 lies within sqrt(63) < 8 of its mean; the linear output leaves that range.
        XCTAssertLessThan(try XCTUnwrap(spread["tanh-batchnorm"]), 8)
        XCTAssertGreaterThan(try XCTUnwrap(spread["linear"]), 8, "the unbounded output drifts under the same push: \(spread)")
    }
}
