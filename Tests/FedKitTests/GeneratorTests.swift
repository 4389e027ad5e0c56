import FedKit
import Models
import Torch
import XCTest

@testable import Generators

/// FedBKD's server-side toy: 3 Gaussian blobs in 4-d and three small MLP client models, each
/// trained on two of the classes (0-1, 1-2, 0-2), so every class has two teachers.
struct FedBKDToy {
    static let classes = 3
    static let seen = [[0, 1], [1, 2], [0, 2]]
    let input = ModelInput(inputShape: [4], classes: 3)
    let teachers: [Teacher]

    init(perClass: Int = 30, steps: Int = 150) throws {
        var teachers: [Teacher] = []
        for (k, classes) in Self.seen.enumerated() {
            let labels = (0..<(perClass * classes.count)).map { classes[$0 % classes.count] }
            let inputs = try Self.blobs(labels, seed: UInt64(100 + k))
            let net = try Self.network(seed: UInt64(20 + k))
            let optimizer = try SGD(net.parameters, learningRate: 0.1, momentum: 0.5)
            let targets = try Tensor(labels)
            for _ in 0..<steps {
                try optimizer.zeroGrad()
                try Loss.crossEntropy(net.forward(inputs), targets: targets).backward()
                try optimizer.step()
            }
            try net.zeroGrad()
            var counts = [Int](repeating: 0, count: Self.classes)
            for y in labels { counts[y] += 1 }
            teachers.append(Teacher(client: k, state: try net.stateDict().copy(), classCounts: counts))
        }
        self.teachers = teachers
    }

    /// 2-d... 4-d blobs: class c centred at 3 e_c, standard deviation 0.5.
    static func blobs(_ labels: [Int], seed: UInt64) throws -> Tensor {
        let noise = try Tensor.randn([labels.count, 4], generator: RandomGenerator(seed: seed)).floats()
        var values: [Float] = []
        for (i, y) in labels.enumerated() {
            values += (0..<4).map { d in (d == y ? 3 : 0) + 0.5 * noise[4 * i + d] }
        }
        return try Tensor(values, shape: [labels.count, 4])
    }

    /// A 4 -> 16 | 16 -> 3 MLP.
    static func network(seed: UInt64) throws -> Network {
        try MLP.make(Parameters(["hidden": .intList([16])]))
            .build(ModelInput(inputShape: [4], classes: classes), generator: RandomGenerator(seed: seed))
    }

    /// The sample-weighted average of the teachers (what aggregation would give).
    func averagedGlobal() throws -> Network {
        let global = try Self.network(seed: 1)
        var sum = try teachers[0].state.flattened()
        for t in teachers.dropFirst() { sum = try sum + t.state.flattened() }
        try global.stateDict().load(flat: sum / Double(teachers.count))
        return global
    }

    /// A server round over all three teachers with `workspace` spare networks.
    func context(
        workspace: Int = 2, seed: UInt64 = 7, global: Network? = nil, localBatchSize: Int? = nil
    ) throws -> ServerRoundContext {
        ServerRoundContext(
            round: 1, global: try global ?? Self.network(seed: 1),
            workspace: try (0..<workspace).map { try Self.network(seed: UInt64(50 + $0)) },
            teachers: teachers, classes: Self.classes, inputShape: [4], inputKind: .continuous,
            generator: RandomGenerator(seed: seed), localBatchSize: localBatchSize)
    }

    /// The fraction of generated samples of class c that teacher k classifies as c, over the
    /// classes each teacher has seen (equal weights here: every class has two equal teachers).
    func teacherAgreement(_ samples: (Tensor) throws -> Tensor, perClass: Int = 100) throws -> Double {
        let net = try Self.network(seed: 0)
        net.setTraining(false)
        var correct = 0, total = 0
        for (k, classes) in Self.seen.enumerated() {
            try net.load(teachers[k].state)
            for c in classes {
                let x = try samples(Tensor([Int](repeating: c, count: perClass)))
                let predicted = try withoutGrad { try net.forward(x).argmax(dim: 1).ints() }
                correct += predicted.filter { $0 == c }.count
                total += perClass
            }
        }
        return Double(correct) / Double(total)
    }
}

/// A generator plugin as a distiller's sample source (the engine's GeneratorSource is internal).
struct PluginSource: SyntheticDataSource {
    let generator: any GeneratorPlugin
    func sample(labels: Tensor, generator rng: RandomGenerator) throws -> Tensor {
        try generator.sample(labels: labels, generator: rng)
    }
}

func flat(_ state: StateDict) throws -> [Float] { try state.flattened().floats() }

final class GeneratorTests: XCTestCase {
    /// The improved (fedbkd-plus) generator: joint steps on fresh inputs, label targets with class
    /// weights, gradients through the teachers, warm start.
    static let plus: [String: ParameterValue] = [
        "noise": .string("normal"), "inputs": .string("fresh"), "schedule": .string("joint"),
        "target": .string("label"),
        "teacher_gradient": .bool(true), "teacher_weights": .string("class"), "eta": .double(1),
        "diversity": .string("normalised"), "reset": .bool(false), "sample_batchnorm": .string("running"),
    ]
    /// Training settings that converge on the toy in about 100 steps.
    static let fast: [String: ParameterValue] = plus.merging([
        "epochs": .int(10), "steps": .int(10), "lr": .double(1e-2),
    ]) { $1 }

    func generator(_ extra: [String: ParameterValue] = [:]) throws -> ConditionalMLPGenerator {
        try ConditionalMLPGenerator.make(Parameters(Self.fast.merging(extra) { $1 }))
    }

    func testTeachersClassifyGeneratedSamplesAsTheirLabel() throws {
        let toy = try FedBKDToy()
        let context = try toy.context()
        let g = try generator()
        let result = try g.train(context)
        let rng = RandomGenerator(seed: 3)
        let agreement = try toy.teacherAgreement { try g.sample(labels: $0, generator: rng) }
        XCTAssertGreaterThan(agreement, 0.9)
        let reported = try XCTUnwrap(result.metrics["generator.teacher_accuracy"])
        XCTAssertGreaterThan(reported, 0.9)
        for key in [
            "generator.ce", "generator.diversity", "generator.adversarial", "generator.loss", "generator.seconds",
        ] {
            XCTAssertTrue(result.metrics[key]?.isFinite ?? false, key)
        }
        XCTAssertLessThan(result.metrics["generator.ce"]!, 0.3)
        XCTAssertEqual(try g.sample(labels: Tensor([0, 1, 2]), generator: rng).shape, [3, 4])
    }

    /// With the diversity term off, only the teachers' cross-entropy trains G: it can only
    /// learn if the gradient flows through the (frozen) teachers into the samples.
    func testGradientsReachTheGeneratorThroughTheTeachers() throws {
        let toy = try FedBKDToy()
        let g = try generator(["eta": .double(0)])
        let untrained = try generator(["eta": .double(0), "epochs": .int(0)])
        _ = try untrained.train(toy.context())
        let rng = RandomGenerator(seed: 3)
        let before = try toy.teacherAgreement { try untrained.sample(labels: $0, generator: rng) }
        let context = try toy.context()
        let result = try g.train(context)
        let after = try toy.teacherAgreement { try g.sample(labels: $0, generator: rng) }
        XCTAssertGreaterThan(after, 0.9, "agreement \(before) -> \(after)")
        XCTAssertLessThan(before, 0.8)
        XCTAssertEqual(result.metrics["generator.diversity"].map { $0 > 0 }, true, "L_div is still reported")
    }

    func testTrainingChangesNoTeacherOrGlobalWeight() throws {
        let toy = try FedBKDToy()
        let global = try toy.averagedGlobal()
        let context = try toy.context(workspace: 3, global: global)
        let teacherValues = try toy.teachers.map { try flat($0.state) }
        let globalValues = try flat(global.stateDict())
        let g = try generator(["beta": .double(0.5), "epochs": .int(2), "steps": .int(3)])
        let result = try g.train(context)
        XCTAssertGreaterThan(result.metrics["generator.adversarial"] ?? 0, 0)
        for k in toy.teachers.indices {
            XCTAssertEqual(try flat(context.teachers[k].state), teacherValues[k], "teacher \(k)'s state")
            // Each of the three workspace networks held one teacher throughout.
            XCTAssertEqual(try flat(context.workspace[k].stateDict()), teacherValues[k], "workspace network \(k)")
        }
        XCTAssertEqual(try flat(global.stateDict()), globalValues)
        // Gradient flags are restored (trainers reuse these networks) and no gradient is left behind.
        for net in context.workspace + [global] {
            XCTAssertTrue(net.parameters.allSatisfy(\.requiresGrad))
            XCTAssertTrue(net.parameters.allSatisfy { $0.grad == nil })
        }
    }

    /// Fewer workspace networks than teachers: teachers are reloaded, with identical results.
    func testOneWorkspaceNetworkGivesTheSameGenerator() throws {
        let toy = try FedBKDToy()
        let a = try generator(["epochs": .int(2), "steps": .int(3), "beta": .double(0.1)])
        let b = try generator(["epochs": .int(2), "steps": .int(3), "beta": .double(0.1)])
        _ = try a.train(toy.context(workspace: 3, global: toy.averagedGlobal()))
        _ = try b.train(toy.context(workspace: 1, global: toy.averagedGlobal()))
        XCTAssertEqual(try flat(XCTUnwrap(a.network).stateDict()), try flat(XCTUnwrap(b.network).stateDict()))
    }

    func testSameSeedsGiveIdenticalSamples() throws {
        let toy = try FedBKDToy()
        func run() throws -> [Float] {
            let g = try generator(["epochs": .int(2), "steps": .int(3)])
            _ = try g.train(toy.context(seed: 9))
            _ = try g.train(toy.context(seed: 10))  // warm start: a second round
            return try g.sample(labels: Tensor([0, 1, 2, 2]), generator: RandomGenerator(seed: 4)).floats()
        }
        XCTAssertEqual(try run(), try run())
    }

    func testWarmStartKeepsTheNetworkUnlessReset() throws {
        let toy = try FedBKDToy()
        let warm = try generator(["epochs": .int(1), "steps": .int(1)])
        _ = try warm.train(toy.context(seed: 1))
        let first = try XCTUnwrap(warm.network)
        _ = try warm.train(toy.context(seed: 2))
        XCTAssertTrue(warm.network === first)
        let cold = try generator(["epochs": .int(1), "steps": .int(1), "reset": .bool(true)])
        _ = try cold.train(toy.context(seed: 1))
        let coldFirst = try XCTUnwrap(cold.network)
        _ = try cold.train(toy.context(seed: 2))
        XCTAssertFalse(cold.network === coldFirst)
    }

    func testLabelsComeOnlyFromSeenClasses() throws {
        let labels = try LabelDraw.draw(500, probabilities: [0, 0.5, 0, 0.5], generator: RandomGenerator(seed: 1))
        XCTAssertEqual(Set(labels), [1, 3])
        let weights = TeacherWeights.make(
            [
                Teacher(client: 0, state: StateDict([]), classCounts: [3, 1, 0]),
                Teacher(client: 1, state: StateDict([]), classCounts: [1, 0, 0]),
            ], classes: 3)
        XCTAssertEqual(weights, [[0.75, 1, 0], [0.25, 0, 0]])
    }

    /// Token data: samples are sequences of embedding vectors fed through `forward(embedded:)`.
    func testTokenModelsGetEmbeddedSamples() throws {
        let input = ModelInput(inputShape: [6], classes: 2, inputKind: .tokens(vocabulary: 20))
        let lstm = try Sent140LSTM.make(
            Parameters(["embedding_dim": .int(8), "hidden": .int(8), "dropout": .double(0)]))
        let build = { (seed: UInt64) in try lstm.build(input, generator: RandomGenerator(seed: seed)) }
        let teachers = try (0..<2).map {
            Teacher(client: $0, state: try build(UInt64(30 + $0)).stateDict().copy(), classCounts: [5, $0 * 5])
        }
        let context = ServerRoundContext(
            round: 1, global: try build(1), workspace: [try build(2)], teachers: teachers, classes: 2,
            inputShape: [6], inputKind: .tokens(vocabulary: 20), generator: RandomGenerator(seed: 3))
        let g = try generator([
            "epochs": .int(1), "steps": .int(2), "beta": .double(0.1), "noise_dim": .int(8), "hidden": .int(16),
        ])
        let result = try g.train(context)
        XCTAssertEqual(g.network?.sampleShape, [6, 8])
        XCTAssertEqual(try g.sample(labels: Tensor([0, 1, 1]), generator: RandomGenerator(seed: 1)).shape, [3, 6, 8])
        XCTAssertTrue(result.metrics["generator.loss"]?.isFinite ?? false)
    }

    // MARK: - Published (GAN_train.py `DF_gan`)

    /// The published generator with the toy's 3 classes: 10 fixed inputs per class.
    func published(_ extra: [String: ParameterValue] = [:]) throws -> ConditionalMLPGenerator {
        try ConditionalMLPGenerator.make(Parameters(["samples": .int(30)].merging(extra) { $1 }))
    }

    /// The gradients G gets from a loss.
    func gradients(_ network: ConditionalGeneratorNetwork, of loss: Tensor) throws -> [Float] {
        network.zeroGradients()
        try loss.backward()
        let g = try network.parameters.flatMap { try ($0.grad ?? $0.zerosLike()).flattened(from: 0).floats() }
        network.zeroGradients()
        return g
    }

    /// `teacher_gradient: false` (the published uint8 image path): the teacher's cross-entropy
    /// gives G no gradient, only L_div trains it; with `true` the cross-entropy does.
    func testWithoutTeacherGradientOnlyTheDiversityLossTrainsG() throws {
        let toy = try FedBKDToy()
        for teacherGradient in [false, true] {
            let g = try published(["teacher_gradient": .bool(teacherGradient), "epochs": .int(0)])
            let context = try toy.context()
            _ = try g.train(context)  // draws the fixed inputs and builds G (no step: epochs 0)
            let network = try XCTUnwrap(g.network)
            let slots = try TeacherSlots(workspace: context.workspace, states: context.teachers.map(\.state))
            defer { slots.release() }
            let weights = TeacherWeights.make(context.teachers, classes: 3).map { $0.map { $0 > 0 ? 1.0 : 0 } }
            let round = ConditionalMLPGenerator.Round(
                context: context, network: network, slots: slots, weights: weights,
                labelProbabilities: [1, 1, 1])
            network.setTraining(true)
            for k in 0..<3 {
                let full = try gradients(network, of: g.teacherLoss(round, teacher: k, reported: true).total)
                let diversityOnly = try gradients(
                    network, of: g.teacherLoss(round, teacher: k, reported: true).diversity * g.eta)
                let ce = try g.teacherLoss(round, teacher: k, reported: true).ce
                // An unreported step (not the last epoch) skips the teacher only where CE cannot reach G.
                let unreported = try g.teacherLoss(round, teacher: k, reported: false)
                XCTAssertEqual(try gradients(network, of: unreported.total), full, "teacher \(k): the same step")
                XCTAssertEqual(try unreported.ce.item(), teacherGradient ? try ce.item() : 0)
                XCTAssertGreaterThan(try ce.item(), 0, "the cross-entropy is computed")
                if teacherGradient {
                    XCTAssertTrue(
                        try gradients(network, of: ce).contains { $0 != 0 },
                        "teacher \(k): the CE reaches G through the teacher")
                    XCTAssertNotEqual(full, diversityOnly)
                } else {
                    XCTAssertFalse(ce.requiresGrad, "teacher \(k): the CE has no path to G (zero gradient)")
                    XCTAssertEqual(full, diversityOnly, "teacher \(k): only L_div trains G")
                }
            }
        }
    }

    /// Fixed inputs are drawn once per run (uniform [0, 1) noise, 10 per class here, frozen
    /// label embedding) and are the same in every round, while G itself is new each round.
    func testFixedInputsAreTheSameInEveryRound() throws {
        let toy = try FedBKDToy()
        let g = try published(["epochs": .int(1), "steps": .int(2)])
        _ = try g.train(toy.context(seed: 1))
        let first = try XCTUnwrap(g.fixed), firstNetwork = try XCTUnwrap(g.network)
        XCTAssertEqual(
            first.labels, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2])
        let z = try first.noise.floats()
        XCTAssertTrue(z.allSatisfy { $0 >= 0 && $0 < 1 }, "uniform [0, 1) noise")
        XCTAssertEqual(first.noise.shape, [30, 64])
        XCTAssertEqual(first.embedding.shape, [30, 64])
        let samplesBefore = try g.sample(labels: Tensor(first.labels), generator: RandomGenerator(seed: 1)).floats()
        _ = try g.train(toy.context(seed: 2))
        let second = try XCTUnwrap(g.fixed)
        XCTAssertEqual(second.labels, first.labels)
        XCTAssertEqual(try second.noise.floats(), z)
        XCTAssertEqual(try second.embedding.floats(), try first.embedding.floats())
        XCTAssertFalse(g.network === firstNetwork, "a new generator every round (reset: true)")
        // G on the fixed inputs is what the distiller gets: independent of the sampling RNG.
        let a = try g.sample(labels: Tensor(first.labels), generator: RandomGenerator(seed: 1)).floats()
        let b = try g.sample(labels: Tensor(first.labels), generator: RandomGenerator(seed: 2)).floats()
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, samplesBefore, "a new G gives new samples on the same inputs")
    }

    /// Per-teacher schedule: for every epoch, every teacher in turn gets `steps` Adam steps.
    func testPerTeacherScheduleStepCount() throws {
        let toy = try FedBKDToy()
        let context = try toy.context()
        let result = try published(["epochs": .int(2), "steps": .int(3)]).train(context)
        XCTAssertEqual(result.metrics["generator.steps"], 2 * 3 * 3)
        // Uniform teacher weights, two teachers per class: still a fraction.
        XCTAssertTrue((0...1).contains(try XCTUnwrap(result.metrics["generator.teacher_accuracy"])))
        for key in ["generator.ce", "generator.diversity", "generator.teacher_accuracy"] {
            XCTAssertTrue(result.metrics[key]?.isFinite ?? false, key)
        }
    }

    /// What a generator carries across rounds survives save / restore exactly: the next round
    /// after a restore equals the next round of the original instance.
    func testCarriedStateRoundTrip() throws {
        let toy = try FedBKDToy()
        for extra: [String: ParameterValue] in [[:], ["reset": .bool(false), "label_embedding": .string("learned")]] {
            let a = try published(extra.merging(["epochs": .int(1), "steps": .int(2)]) { $1 })
            _ = try a.train(toy.context(seed: 1))
            let saved = try a.saveCarriedState()
            XCTAssertNotNil(saved["fixed.noise"])
            XCTAssertEqual(
                saved["network.embedding.weight"] != nil, extra["reset"] != nil,
                "the network is carried only with warm start")
            let b = try published(extra.merging(["epochs": .int(1), "steps": .int(2)]) { $1 })
            try b.restoreCarriedState(saved)
            _ = try a.train(toy.context(seed: 2))
            _ = try b.train(toy.context(seed: 2))
            XCTAssertEqual(
                try flat(XCTUnwrap(a.network).stateDict()), try flat(XCTUnwrap(b.network).stateDict()), "\(extra)")
            XCTAssertEqual(try flat(a.saveCarriedState()), try flat(b.saveCarriedState()), "\(extra)")
        }
        XCTAssertThrowsError(try published().restoreCarriedState(StateDict([("fixed.labels", try Tensor([0, 1]))]))) {
            XCTAssertTrue("\($0)".contains("fixed.noise"), "\($0)")
        }
    }

    func testDescriptor() throws {
        XCTAssertEqual(GeneratorCatalog.plugins.map { $0.descriptor.name }, ["conditional-mlp", "feature-generator"])
        let names = ConditionalMLPGenerator.descriptor.parameters.map(\.name)
        for name in [
            "noise_dim", "embedding_dim", "hidden", "batch_size", "epochs", "steps", "lr", "weight_decay",
            "alpha", "eta", "beta", "labels", "reset",
        ] {
            XCTAssertTrue(names.contains(name), name)
        }
        XCTAssertTrue(ConditionalMLPGenerator.descriptor.parameters.allSatisfy { !$0.doc.isEmpty })
    }
}
