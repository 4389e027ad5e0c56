import BuiltinPlugins
import Config
import FedKit
import Generators
import Methods
import Models
import Torch
import XCTest

@testable import Distillers

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
    /// The improved (fedbkd-plus) distiller's settings: logits, client shares, per-batch steps.
    static let plus: [String: ParameterValue] = [
        "synthetic_set": .string("client-share"), "batch_size": .int(64), "space": .string("logits"),
        "kl": .string("teacher-student"), "g2l_epochs": .int(3), "l2g_epochs": .int(4),
        "l2g_steps": .string("per-batch"),
        "l2g_trains": .string("all"), "weight_decay": .double(0),
    ]

    /// The improved distiller with `parameters` on top.
    func distiller(_ parameters: [String: ParameterValue] = [:]) throws -> BidirectionalDistiller {
        try BidirectionalDistiller.make(Parameters(Self.plus.merging(parameters) { $1 }))
    }

    /// The published distiller (plugin defaults) with `parameters` on top.
    func published(_ parameters: [String: ParameterValue] = [:]) throws -> BidirectionalDistiller {
        try BidirectionalDistiller.make(Parameters(parameters))
    }

    // MARK: - Published (authors' code)

    /// Global -> local as published: with the aggregated model as a fixed teacher, only each
    /// client's body changes, its head does not, the global model does not, and the KL between
    /// the softmaxed penultimate features falls; 4 epochs of per-batch steps at 2 x the local batch.
    func testPublishedGlobalToLocalChangesOnlyTheBodyAndLowersTheFeatureKL() throws {
        let toy = try FedBKDToy()
        let global = try toy.averagedGlobal()
        let globalBefore = try flat(global.stateDict())
        let context = try toy.context(global: global, localBatchSize: 5)
        let d = try published(["directions": .string("g2l"), "samples": .int(300)])
        // The loss the student minimises, measured here on every client's set before and after.
        func featureKL(_ states: [StateDict]) throws -> Double {
            let net = try FedBKDToy.network(seed: 0)
            net.setTraining(false)
            var total = 0.0
            for (k, classes) in FedBKDToy.seen.enumerated() {
                try net.load(states[k])
                let x = try BlobSource().sample(
                    labels: Tensor(classes.flatMap { [Int](repeating: $0, count: 50) }),
                    generator: RandomGenerator(seed: 5))
                let student = try withoutGrad { try net.features(x) },
                    teacher = try withoutGrad { try global.features(x) }
                total += try withoutGrad { try d.kl(student: student, teacher: teacher, temperature: 1).item() }
            }
            return total / 3
        }
        let before = try featureKL(toy.teachers.map(\.state))
        let result = try d.distill(context, source: BlobSource())
        let after = try featureKL(toy.teachers.map(result.personalState(for:)))
        XCTAssertLessThan(after, before * 0.8, "feature KL \(before) -> \(after)")
        XCTAssertLessThan(
            try XCTUnwrap(result.metrics["distill.g2l.kl_after"]),
            try XCTUnwrap(result.metrics["distill.g2l.kl_before"]))
        XCTAssertEqual(try flat(global.stateDict()), globalBefore, "the teacher (global model) is fixed")
        XCTAssertTrue(result.global.entries.isEmpty, "g2l alone returns no global entries")
        XCTAssertEqual(result.personal.keys.sorted(), toy.teachers.map(\.client), "every client is distilled")
        for k in toy.teachers.indices {
            let old = toy.teachers[k].state, new = result.personalState(for: toy.teachers[k])
            XCTAssertEqual(try flat(new.under("head")), try flat(old.under("head")), "client \(k)'s head never changes")
            XCTAssertNotEqual(try flat(new.under("body")), try flat(old.under("body")), "client \(k)'s body learns")
        }
        // 100 samples per class, 2 classes per client, batches of 2 x 5: 20 steps per epoch, 4 epochs, 3 clients.
        XCTAssertEqual(result.metrics["distill.g2l.steps"], 3 * 4 * 20)
        XCTAssertEqual(result.metrics["distill.samples"], 600)
    }

    /// Local -> global as published: the running global model's body learns, 3 SGD steps per
    /// client (each on the loss summed over the client's batches), its head never changes, and
    /// the client models are left as they were.
    func testPublishedLocalToGlobalTakesThreeStepsPerClientAndKeepsTheHead() throws {
        let toy = try FedBKDToy()
        let global = try toy.averagedGlobal()
        let head = try flat(global.stateDict().under("head")), body = try flat(global.stateDict().under("body"))
        let context = try toy.context(global: global, localBatchSize: 5)
        let result = try published(["directions": .string("l2g"), "samples": .int(300)]).distill(
            context, source: BlobSource())
        XCTAssertEqual(result.metrics["distill.l2g.steps"], 3 * 3, "3 optimiser steps per client, 3 clients")
        XCTAssertEqual(try flat(result.global.under("head")), head, "the global head never changes")
        XCTAssertNotEqual(try flat(result.global.under("body")), body)
        XCTAssertLessThan(
            try XCTUnwrap(result.metrics["distill.l2g.kl_after"]),
            try XCTUnwrap(result.metrics["distill.l2g.kl_before"]))
        XCTAssertTrue(result.personal.isEmpty, "l2g alone leaves the client models as they were")
        XCTAssertTrue(
            global.parameters.allSatisfy { $0.requiresGrad && $0.grad == nil }, "flags restored, no gradient left")

        // The same with per-batch steps: 20 per epoch per client (the step count follows the schedule).
        let perBatch = try toy.context(global: toy.averagedGlobal(), localBatchSize: 5)
        let perBatchResult = try published([
            "directions": .string("l2g"), "samples": .int(300), "l2g_steps": .string("per-batch"),
        ]).distill(perBatch, source: BlobSource())
        XCTAssertEqual(perBatchResult.metrics["distill.l2g.steps"], 3 * 3 * 20)
    }

    /// Both directions as published: no head changes anywhere; the round's distilled client
    /// models are returned (the engine evaluates them).
    func testPublishedBothDirectionsNeverChangeAHead() throws {
        let toy = try FedBKDToy()
        let global = try toy.averagedGlobal()
        let head = try flat(global.stateDict().under("head"))
        let context = try toy.context(global: global, localBatchSize: 5)
        let result = try published(["samples": .int(150)]).distill(context, source: BlobSource())
        XCTAssertEqual(try flat(result.global.under("head")), head)
        for teacher in toy.teachers {
            let distilled = try XCTUnwrap(result.personal[teacher.client])
            XCTAssertEqual(try flat(distilled.under("head")), try flat(teacher.state.under("head")))
            XCTAssertNotEqual(try flat(distilled.under("body")), try flat(teacher.state.under("body")))
        }
        XCTAssertEqual(result.metrics["distill.l2g.steps"], 9)
    }

    /// The published loss is KL(softmax(student) || softmax(teacher)) without temperature.
    func testPublishedKLIsStudentFirst() throws {
        let s = try Tensor([1, 0] as [Float], shape: [1, 2]), t = try Tensor([0, 2] as [Float], shape: [1, 2])
        let p = [exp(1.0), 1].map { $0 / (exp(1.0) + 1) }, q = [1, exp(2.0)].map { $0 / (1 + exp(2.0)) }
        let expected = p[0] * log(p[0] / q[0]) + p[1] * log(p[1] / q[1])
        XCTAssertEqual(try published().kl(student: s, teacher: t, temperature: 1).item(), expected, accuracy: 1e-5)
        let reverse = q[0] * log(q[0] / p[0]) + q[1] * log(q[1] / p[1])
        XCTAssertEqual(try distiller().kl(student: s, teacher: t, temperature: 1).item(), reverse, accuracy: 1e-5)
    }

    func testPublishedBatchIsTwiceTheLocalBatchAndNeedsIt() throws {
        let toy = try FedBKDToy()
        XCTAssertEqual(try published().distillationBatchSize(toy.context(localBatchSize: 10)), 20)
        XCTAssertEqual(try published(["batch_size": .int(7)]).distillationBatchSize(toy.context(localBatchSize: 10)), 7)
        XCTAssertThrowsError(try published().distill(toy.context(), source: BlobSource())) {
            XCTAssertTrue("\($0)".contains("federation batch size"), "\($0)")
        }
        XCTAssertThrowsError(try published(["label_weight": .double(1)])) {
            XCTAssertTrue("\($0)".contains("space: logits"), "\($0)")
        }
        XCTAssertThrowsError(try published(["g2l_classes": .string("seen")]))
        XCTAssertThrowsError(try published(["l2g_steps": .string("sometimes")]))
    }

    // MARK: - Improved (logits)

    func testLocalToGlobalLowersTheKL() throws {
        let toy = try FedBKDToy()
        for order in ["sequential", "ensemble"] {
            let global = try toy.averagedGlobal()
            let context = try toy.context(global: global)
            let before = try flat(global.stateDict())
            let result = try distiller(["directions": .string("l2g"), "order": .string(order)]).distill(
                context, source: BlobSource())
            let klBefore = try XCTUnwrap(result.metrics["distill.l2g.kl_before"]),
                klAfter = try XCTUnwrap(result.metrics["distill.l2g.kl_after"])
            XCTAssertLessThan(klAfter, klBefore * 0.7, "\(order): \(klBefore) -> \(klAfter)")
            XCTAssertNotEqual(try flat(result.global), before, order)
            XCTAssertNil(result.metrics["distill.g2l.kl_before"], "g2l did not run")
            XCTAssertTrue(result.personal.isEmpty, "\(order): l2g alone leaves the personal models as they were")
            XCTAssertTrue(global.parameters.allSatisfy { $0.requiresGrad && $0.grad == nil })
        }
    }

    func testGlobalToLocalLowersTheKLAndChangesOnlyTheBody() throws {
        let toy = try FedBKDToy()
        let global = try toy.averagedGlobal()
        let globalBefore = try flat(global.stateDict())
        let context = try toy.context(global: global)
        let result = try distiller(["directions": .string("g2l")]).distill(context, source: BlobSource())
        let klBefore = try XCTUnwrap(result.metrics["distill.g2l.kl_before"]),
            klAfter = try XCTUnwrap(result.metrics["distill.g2l.kl_after"])
        XCTAssertLessThan(klAfter, klBefore * 0.7, "\(klBefore) -> \(klAfter)")
        XCTAssertEqual(try flat(global.stateDict()), globalBefore, "g2l alone leaves the global model")
        XCTAssertTrue(result.global.entries.isEmpty, "g2l alone returns no global entries")
        XCTAssertNil(result.metrics["distill.l2g.kl_before"])
        for k in toy.teachers.indices {
            let old = toy.teachers[k].state, new = try XCTUnwrap(result.personal[toy.teachers[k].client])
            XCTAssertEqual(new.names, old.names)
            XCTAssertEqual(try flat(new.under("head")), try flat(old.under("head")), "teacher \(k)'s head is frozen")
            XCTAssertNotEqual(try flat(new.under("body")), try flat(old.under("body")), "teacher \(k)'s body learns")
        }
        XCTAssertTrue(
            context.workspace[0].parameters.allSatisfy { $0.requiresGrad && $0.grad == nil }, "flags restored")
    }

    /// `g2l_classes: seen`: the KL is between the two models' distributions renormalised over the
    /// client's classes, and distillation lowers it while changing only the body.
    func testGlobalToLocalOverTheClientsClassesOnly() throws {
        let mask = try BidirectionalDistiller.seenClassMask([0.5, 0, 0.25, 0])
        XCTAssertEqual(try mask.floats(), [0, -1e4, 0, -1e4])
        let teacher = try Tensor([1, 5, 0, -2] as [Float], shape: [1, 4]),
            student = try Tensor([0, -3, 2, 7] as [Float], shape: [1, 4])
        // Over classes 0 and 2 only: p = softmax(1, 0), q = softmax(0, 2).
        let p = [exp(1.0), 1].map { $0 / (exp(1.0) + 1) }, q = [1, exp(2.0)].map { $0 / (1 + exp(2.0)) }
        let expected = p[0] * log(p[0] / q[0]) + p[1] * log(p[1] / q[1])
        XCTAssertEqual(
            try distiller().kl(student: student + mask, teacher: teacher + mask, temperature: 1).item(), expected,
            accuracy: 1e-5)

        let toy = try FedBKDToy()
        let context = try toy.context(global: toy.averagedGlobal())
        let seen = try distiller(["directions": .string("g2l"), "g2l_classes": .string("seen")]).distill(
            context, source: BlobSource())
        let klBefore = try XCTUnwrap(seen.metrics["distill.g2l.kl_before"]),
            klAfter = try XCTUnwrap(seen.metrics["distill.g2l.kl_after"])
        XCTAssertTrue(klBefore.isFinite && klAfter.isFinite)
        XCTAssertLessThan(klAfter, klBefore, "\(klBefore) -> \(klAfter)")
        for teacher in toy.teachers {
            XCTAssertEqual(
                try flat(seen.personalState(for: teacher).under("head")), try flat(teacher.state.under("head")))
        }
        let all = try distiller(["directions": .string("g2l")]).distill(
            toy.context(global: toy.averagedGlobal()), source: BlobSource())
        XCTAssertNotEqual(
            try flat(all.personalState(for: toy.teachers[0])), try flat(seen.personalState(for: toy.teachers[0])),
            "the restriction changes the result")
        XCTAssertThrowsError(try distiller(["g2l_classes": .string("some")]))
    }

    func testBothDirectionsReportBothKLs() throws {
        let toy = try FedBKDToy()
        let context = try toy.context(global: toy.averagedGlobal())
        let result = try distiller().distill(context, source: BlobSource())
        for key in [
            "distill.g2l.kl_before", "distill.g2l.kl_after", "distill.l2g.kl_before", "distill.l2g.kl_after",
            "distill.seconds", "distill.samples",
        ] {
            XCTAssertTrue(result.metrics[key]?.isFinite ?? false, key)
        }
        XCTAssertLessThan(result.metrics["distill.g2l.kl_after"]!, result.metrics["distill.g2l.kl_before"]!)
        XCTAssertLessThan(result.metrics["distill.l2g.kl_after"]!, result.metrics["distill.l2g.kl_before"]!)
        XCTAssertEqual(result.metrics["distill.samples"], 1000)
    }

    /// Generator and distiller together, twice from the same seeds: identical models.
    func testSameSeedsGiveIdenticalDistilledStates() throws {
        let toy = try FedBKDToy()
        func run() throws -> [[Float]] {
            let g = try ConditionalMLPGenerator.make(
                Parameters(GeneratorTests.plus.merging(["epochs": .int(2), "steps": .int(2)]) { $1 }))
            let context = try toy.context(seed: 21, global: toy.averagedGlobal())
            _ = try g.train(context)
            let result = try distiller([
                "samples": .int(200), "feature_weight": .double(0.5), "label_weight": .double(0.5),
            ]).distill(context, source: PluginSource(generator: g))
            return try [flat(result.global)] + context.teachers.map { try flat(result.personalState(for: $0)) }
        }
        XCTAssertEqual(try run(), try run())
    }

    func testSyntheticLabelsAreClassBalancedAndFollowTheClients() throws {
        let weights: [[Double]] = [[0.5, 1, 0, 0], [0.5, 0, 0.25, 0], [0, 0, 0.75, 0]]
        let labels = try BidirectionalDistiller.allocate(
            total: 1000, weights: weights, classes: 4, generator: RandomGenerator(seed: 1))
        XCTAssertEqual(labels.map(\.count).reduce(0, +), 1000)
        let perClass = (0..<4).map { c in labels.joined().filter { $0 == c }.count }
        XCTAssertEqual(perClass.filter { $0 > 0 }.sorted(), [333, 333, 334])
        XCTAssertEqual(perClass[3], 0, "no client has class 3")
        for (k, l) in labels.enumerated() {
            XCTAssertTrue(l.allSatisfy { weights[k][$0] > 0 }, "client \(k) gets only its classes")
        }
        XCTAssertEqual(BidirectionalDistiller.largestRemainder(333, [0.25, 0.75]), [83, 250])
        XCTAssertEqual(BidirectionalDistiller.largestRemainder(5, [0.5, 0.5]), [3, 2])
    }

    /// The noise ablation on token data: noise is drawn in the embedding space.
    func testNoiseSourceOnTokenModels() throws {
        let input = ModelInput(inputShape: [6], classes: 2, inputKind: .tokens(vocabulary: 20))
        let lstm = try Sent140LSTM.make(Parameters(["embedding_dim": .int(8), "hidden": .int(8)]))
        let build = { (seed: UInt64) in try lstm.build(input, generator: RandomGenerator(seed: seed)) }
        let teachers = try (0..<2).map {
            Teacher(client: $0, state: try build(UInt64(30 + $0)).stateDict().copy(), classCounts: [5, 5])
        }
        let context = ServerRoundContext(
            round: 1, global: try build(1), workspace: [try build(2)], teachers: teachers, classes: 2,
            inputShape: [6], inputKind: .tokens(vocabulary: 20), generator: RandomGenerator(seed: 3))
        // The engine draws the noise in the models' sample space: sequences of embedding vectors.
        let shape = try SampleSpace.shape(context)
        XCTAssertEqual(shape, [6, 8])
        let result = try distiller(["samples": .int(40), "order": .string("ensemble")]).distill(
            context, source: GaussianNoiseSource(shape: shape))
        // Noise of the token shape is refused with a clear message, not fed to the embedding.
        XCTAssertThrowsError(try distiller().distill(context, source: GaussianNoiseSource(shape: [6]))) {
            XCTAssertTrue("\($0)".contains("gave samples of shape"), "\($0)")
        }
        XCTAssertLessThan(result.metrics["distill.l2g.kl_after"]!, result.metrics["distill.l2g.kl_before"]! + 1e-6)
        XCTAssertTrue(result.metrics["distill.g2l.kl_after"]?.isFinite ?? false)
    }

    func testFedBKDPresets() throws {
        let presets = Dictionary(uniqueKeysWithValues: try MethodPresets.all().map { ($0.name, $0) })
        let registry = try BuiltinPlugins.registry()
        let directions = ["": "both", "-g2l": "g2l", "-l2g": "l2g", "-noise": "both"]
        for (flavour, isPublished) in [("fedbkd", true), ("fedbkd-plus", false)] {
            for (suffix, direction) in directions {
                let name = flavour + suffix
                let preset = try XCTUnwrap(presets[name], name)
                let node = preset.node
                XCTAssertFalse(preset.summary.isEmpty, name)
                XCTAssertEqual(node["trainer"]?["name"]?.scalarValue, "head-then-body", name)
                XCTAssertEqual(node["trainer"]?["head_epochs"]?.scalarValue, "10", name)
                XCTAssertEqual(node["trainer"]?["body_epochs"]?.scalarValue, "1", name)
                XCTAssertEqual(node["aggregator"]?["scope"]?.scalarValue, "all", name)
                XCTAssertEqual(node["aggregator"]?["weighting"]?.scalarValue, isPublished ? "uniform" : "samples", name)
                XCTAssertEqual(node["personal"]?.scalarValue, isPublished ? "head" : "model", name)
                XCTAssertEqual(node["local_start"]?.scalarValue, "global-body", name)
                XCTAssertEqual(node["evaluate_with"]?.scalarValue, isPublished ? "round-output" : "personal", name)
                XCTAssertEqual(
                    node["generator"]?["name"]?.scalarValue, suffix == "-noise" ? nil : "conditional-mlp", name)
                let d = try XCTUnwrap(node["distiller"], name)
                XCTAssertEqual(d["name"]?.scalarValue, "bidirectional", name)
                XCTAssertEqual(d["directions"]?.scalarValue, direction, name)
                XCTAssertEqual(d["space"]?.scalarValue, isPublished ? "features" : "logits", name)
                if isPublished {
                    XCTAssertEqual(d["g2l_epochs"]?.scalarValue, "4", name)
                    XCTAssertEqual(d["l2g_epochs"]?.scalarValue, "3", name)
                    XCTAssertEqual(d["l2g_steps"]?.scalarValue, "per-epoch-sum", name)
                    XCTAssertEqual(d["l2g_trains"]?.scalarValue, "body", name)
                    if suffix != "-noise" {
                        XCTAssertEqual(node["generator"]?["teacher_gradient"]?.scalarValue, "false", name)
                        // GAN_train.py reads RUNCONFIGS['cifar'] (ensemble_eta 1) for CIFAR-10, not ['cifar10'] (0.3).
                        XCTAssertEqual(node["generator"]?["eta"]?.scalarValue, "1", name)
                        XCTAssertEqual(node["generator"]?["image_path"]?.scalarValue, "published", name)
                    }
                }
                var errors: [ConfigError] = []
                let distiller = registry.resolve(.distiller, node["distiller"], path: "distiller", errors: &errors)
                XCTAssertNotNil(distiller, name)
                if suffix != "-noise" {
                    XCTAssertNotNil(
                        registry.resolve(.generator, node["generator"], path: "generator", errors: &errors), name)
                }
                XCTAssertTrue(errors.isEmpty, "\(name): \(errors)")
            }
        }
        // The published preset spells out exactly the plugins' defaults (so `exp show` prints them),
        // but for `image_path`: its default (raw) keeps FedKit's other generators, and runs made before
        // the key existed, as they were; the published presets set `published`.
        let fedbkd = try XCTUnwrap(presets["fedbkd"]).node
        for (kind, descriptor) in [
            ("distiller", BidirectionalDistiller.descriptor), ("generator", ConditionalMLPGenerator.descriptor),
        ] {
            for spec in descriptor.parameters where spec.name != "image_path" {
                guard let value = fedbkd[kind]?[spec.name]?.scalarValue else { continue }
                XCTAssertNotNil(spec.defaultValue, "\(kind).\(spec.name)")
                if let d = spec.defaultValue {
                    XCTAssertEqual(Self.same(d, value), true, "\(kind).\(spec.name): preset \(value), default \(d)")
                }
            }
        }
    }

    static func same(_ value: ParameterValue, _ text: String) -> Bool {
        switch value {
        case .int(let v): return Int(text) == v
        case .double(let v): return Double(text).map { abs($0 - v) <= 1e-12 * max(1, abs(v)) } ?? false
        case .bool(let v): return Bool(text) == v
        case .string(let v): return v == text
        default: return false
        }
    }

    func testDescriptor() {
        XCTAssertEqual(DistillerCatalog.plugins.map { $0.descriptor.name }, ["bidirectional", "ensemble"])
        XCTAssertTrue(BidirectionalDistiller.descriptor.parameters.allSatisfy { !$0.doc.isEmpty })
    }
}
