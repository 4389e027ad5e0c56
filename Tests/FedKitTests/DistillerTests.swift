import BuiltinPlugins
import Config
@testable import Distillers
import FedKit
import Generators
import Methods
import Models
import Torch
import XCTest

/// Class-conditional samples near the toy's blobs (a fixed stand-in for a trained generator).
struct BlobSource: SyntheticDataSource {
    func sample(labels: Tensor, generator: RandomGenerator) throws -> Tensor {
        let ys = try labels.ints()
        let noise = try Tensor.randn([ys.count, 4], generator: generator).floats()
        var values: [Float] = []
        for (i, y) in ys.enumerated() { values += (0..<4).map { d in (d == y ? 3 : 0) + 0.7 * noise[4 * i + d] } }
        return try Tensor(values, shape: [ys.count, 4])
    }
}

final class DistillerTests: XCTestCase {
    func distiller(_ parameters: [String: ParameterValue] = [:]) throws -> BidirectionalDistiller {
        try BidirectionalDistiller(parameters: Parameters(parameters))
    }

    func testLocalToGlobalLowersTheKL() throws {
        let toy = try FedBKDToy()
        for order in ["sequential", "ensemble"] {
            let global = try toy.averagedGlobal()
            let context = try toy.context(global: global)
            let before = try flat(global.stateDict())
            try distiller(["directions": .string("l2g"), "order": .string(order)]).distill(context, source: BlobSource())
            let klBefore = try XCTUnwrap(context.metrics["distill.l2g.kl_before"]), klAfter = try XCTUnwrap(context.metrics["distill.l2g.kl_after"])
            XCTAssertLessThan(klAfter, klBefore * 0.7, "\(order): \(klBefore) -> \(klAfter)")
            XCTAssertNotEqual(try flat(global.stateDict()), before, order)
            XCTAssertNil(context.metrics["distill.g2l.kl_before"], "g2l did not run")
            // l2g alone leaves the personal models as they were.
            for k in toy.teachers.indices { XCTAssertEqual(try flat(context.teachers[k].state), try flat(toy.teachers[k].state)) }
            XCTAssertTrue(global.parameters.allSatisfy { $0.requiresGrad && $0.grad == nil })
        }
    }

    func testGlobalToLocalLowersTheKLAndChangesOnlyTheBody() throws {
        let toy = try FedBKDToy()
        let global = try toy.averagedGlobal()
        let globalBefore = try flat(global.stateDict())
        let context = try toy.context(global: global)
        try distiller(["directions": .string("g2l")]).distill(context, source: BlobSource())
        let klBefore = try XCTUnwrap(context.metrics["distill.g2l.kl_before"]), klAfter = try XCTUnwrap(context.metrics["distill.g2l.kl_after"])
        XCTAssertLessThan(klAfter, klBefore * 0.7, "\(klBefore) -> \(klAfter)")
        XCTAssertEqual(try flat(global.stateDict()), globalBefore, "g2l alone leaves the global model")
        XCTAssertNil(context.metrics["distill.l2g.kl_before"])
        for k in toy.teachers.indices {
            let old = toy.teachers[k].state, new = context.teachers[k].state
            XCTAssertEqual(new.names, old.names)
            XCTAssertEqual(try flat(new.under("head")), try flat(old.under("head")), "teacher \(k)'s head is frozen")
            XCTAssertNotEqual(try flat(new.under("body")), try flat(old.under("body")), "teacher \(k)'s body learns")
        }
        XCTAssertTrue(context.workspace[0].parameters.allSatisfy { $0.requiresGrad && $0.grad == nil }, "flags restored")
    }

    /// `g2l_classes: seen`: the KL is between the two models' distributions renormalised over the
    /// client's classes, and distillation lowers it while changing only the body.
    func testGlobalToLocalOverTheClientsClassesOnly() throws {
        let mask = try BidirectionalDistiller.seenClassMask([0.5, 0, 0.25, 0])
        XCTAssertEqual(try mask.floats(), [0, -1e4, 0, -1e4])
        let teacher = try Tensor([1, 5, 0, -2] as [Float], shape: [1, 4]), student = try Tensor([0, -3, 2, 7] as [Float], shape: [1, 4])
        // Over classes 0 and 2 only: p = softmax(1, 0), q = softmax(0, 2).
        let p = [exp(1.0), 1].map { $0 / (exp(1.0) + 1) }, q = [1, exp(2.0)].map { $0 / (1 + exp(2.0)) }
        let expected = p[0] * log(p[0] / q[0]) + p[1] * log(p[1] / q[1])
        XCTAssertEqual(try BidirectionalDistiller.kl(teacher: teacher + mask, student: student + mask), expected, accuracy: 1e-5)

        let toy = try FedBKDToy()
        let context = try toy.context(global: toy.averagedGlobal())
        try distiller(["directions": .string("g2l"), "g2l_classes": .string("seen")]).distill(context, source: BlobSource())
        let klBefore = try XCTUnwrap(context.metrics["distill.g2l.kl_before"]), klAfter = try XCTUnwrap(context.metrics["distill.g2l.kl_after"])
        XCTAssertTrue(klBefore.isFinite && klAfter.isFinite)
        XCTAssertLessThan(klAfter, klBefore, "\(klBefore) -> \(klAfter)")
        for k in toy.teachers.indices {
            XCTAssertEqual(try flat(context.teachers[k].state.under("head")), try flat(toy.teachers[k].state.under("head")))
        }
        let all = try toy.context(global: toy.averagedGlobal())
        try distiller(["directions": .string("g2l")]).distill(all, source: BlobSource())
        XCTAssertNotEqual(try flat(all.teachers[0].state), try flat(context.teachers[0].state), "the restriction changes the result")
        XCTAssertThrowsError(try distiller(["g2l_classes": .string("some")]))
    }

    func testBothDirectionsReportBothKLs() throws {
        let toy = try FedBKDToy()
        let context = try toy.context(global: toy.averagedGlobal())
        try distiller().distill(context, source: BlobSource())
        for key in ["distill.g2l.kl_before", "distill.g2l.kl_after", "distill.l2g.kl_before", "distill.l2g.kl_after",
                    "distill.seconds", "distill.samples"] {
            XCTAssertTrue(context.metrics[key]?.isFinite ?? false, key)
        }
        XCTAssertLessThan(context.metrics["distill.g2l.kl_after"]!, context.metrics["distill.g2l.kl_before"]!)
        XCTAssertLessThan(context.metrics["distill.l2g.kl_after"]!, context.metrics["distill.l2g.kl_before"]!)
        XCTAssertEqual(context.metrics["distill.samples"], 1000)
    }

    /// Generator and distiller together, twice from the same seeds: identical models.
    func testSameSeedsGiveIdenticalDistilledStates() throws {
        let toy = try FedBKDToy()
        func run() throws -> [[Float]] {
            let g = try ConditionalMLPGenerator(parameters: Parameters(["epochs": .int(2), "steps": .int(2)]))
            let context = try toy.context(seed: 21, global: toy.averagedGlobal())
            try g.train(context)
            try distiller(["samples": .int(200), "feature_weight": .double(0.5), "label_weight": .double(0.5)]).distill(context, source: PluginSource(generator: g))
            return try [flat(context.global.stateDict())] + context.teachers.map { try flat($0.state) }
        }
        XCTAssertEqual(try run(), try run())
    }

    func testSyntheticLabelsAreClassBalancedAndFollowTheClients() throws {
        let weights: [[Double]] = [[0.5, 1, 0, 0], [0.5, 0, 0.25, 0], [0, 0, 0.75, 0]]
        let labels = try BidirectionalDistiller.allocate(total: 1000, weights: weights, classes: 4, generator: RandomGenerator(seed: 1))
        XCTAssertEqual(labels.map(\.count).reduce(0, +), 1000)
        let perClass = (0..<4).map { c in labels.joined().filter { $0 == c }.count }
        XCTAssertEqual(perClass.filter { $0 > 0 }.sorted(), [333, 333, 334])
        XCTAssertEqual(perClass[3], 0, "no client has class 3")
        for (k, l) in labels.enumerated() { XCTAssertTrue(l.allSatisfy { weights[k][$0] > 0 }, "client \(k) gets only its classes") }
        XCTAssertEqual(BidirectionalDistiller.largestRemainder(333, [0.25, 0.75]), [83, 250])
        XCTAssertEqual(BidirectionalDistiller.largestRemainder(5, [0.5, 0.5]), [3, 2])
    }

    /// The noise ablation on token data: noise is drawn in the embedding space.
    func testNoiseSourceOnTokenModels() throws {
        let input = ModelInput(inputShape: [6], classes: 2, inputKind: .tokens(vocabulary: 20))
        let lstm = try Sent140LSTM.make(Parameters(["embedding_dim": .int(8), "hidden": .int(8)]))
        let build = { (seed: UInt64) in try lstm.build(input, generator: RandomGenerator(seed: seed)) }
        let teachers = try (0..<2).map { Teacher(client: $0, state: try build(UInt64(30 + $0)).stateDict().copy(), classCounts: [5, 5]) }
        let context = ServerRoundContext(round: 1, global: try build(1), workspace: [try build(2)], teachers: teachers, classes: 2,
                                         inputShape: [6], inputKind: .tokens(vocabulary: 20), generator: RandomGenerator(seed: 3))
        // The engine draws the noise in the models' sample space: sequences of embedding vectors.
        let shape = try SampleSpace.shape(context)
        XCTAssertEqual(shape, [6, 8])
        try distiller(["samples": .int(40), "order": .string("ensemble")]).distill(context, source: GaussianNoiseSource(shape: shape))
        // Noise of the token shape is refused with a clear message, not fed to the embedding.
        XCTAssertThrowsError(try distiller().distill(context, source: GaussianNoiseSource(shape: [6]))) {
            XCTAssertTrue("\($0)".contains("gave samples of shape"), "\($0)")
        }
        XCTAssertLessThan(context.metrics["distill.l2g.kl_after"]!, context.metrics["distill.l2g.kl_before"]! + 1e-6)
        XCTAssertTrue(context.metrics["distill.g2l.kl_after"]?.isFinite ?? false)
    }

    func testFedBKDPresets() throws {
        let presets = Dictionary(uniqueKeysWithValues: try MethodPresets.all().map { ($0.name, $0) })
        let registry = try BuiltinPlugins.registry()
        let expected: [String: (generator: String?, directions: String)] = [
            "fedbkd": ("conditional-mlp", "both"), "fedbkd-g2l": ("conditional-mlp", "g2l"),
            "fedbkd-l2g": ("conditional-mlp", "l2g"), "fedbkd-noise": (nil, "both"),
        ]
        for (name, e) in expected {
            let preset = try XCTUnwrap(presets[name], name)
            let node = preset.node
            XCTAssertFalse(preset.summary.isEmpty, name)
            XCTAssertEqual(node["trainer"]?["name"]?.scalarValue, "head-then-body", name)
            XCTAssertEqual(node["trainer"]?["head_epochs"]?.scalarValue, "10", name)
            XCTAssertEqual(node["trainer"]?["body_epochs"]?.scalarValue, "1", name)
            XCTAssertEqual(node["aggregator"]?["name"]?.scalarValue, "weighted-average", name)
            XCTAssertEqual(node["aggregator"]?["scope"]?.scalarValue, "all", name)
            XCTAssertEqual(node["personal"]?.scalarValue, "model", name)
            XCTAssertEqual(node["local_start"]?.scalarValue, "global-body", name)
            XCTAssertEqual(node["generator"]?["name"]?.scalarValue, e.generator, name)
            XCTAssertEqual(node["distiller"]?["name"]?.scalarValue, "bidirectional", name)
            XCTAssertEqual(node["distiller"]?["directions"]?.scalarValue, e.directions, name)
            var errors: [ConfigError] = []
            XCTAssertNotNil(registry.resolve(.distiller, node["distiller"], path: "distiller", errors: &errors), name)
            if e.generator != nil { XCTAssertNotNil(registry.resolve(.generator, node["generator"], path: "generator", errors: &errors), name) }
            XCTAssertTrue(errors.isEmpty, "\(name): \(errors)")
        }
    }

    func testDescriptor() {
        XCTAssertEqual(DistillerCatalog.plugins.map { $0.descriptor.name }, ["bidirectional"])
        XCTAssertTrue(BidirectionalDistiller.descriptor.parameters.allSatisfy { !$0.doc.isEmpty })
    }
}
