import BuiltinPlugins
import Config
import FedKit
import Foundation
import Methods
import Models
import Torch
import XCTest

@testable import Distillers

/// The `fedbkd` preset's distillation against the authors' own code: the same models, samples
/// and mini-batch orders must change the weights as their `LocalUpdateDFGAN` does
/// (Reference/fedbkd-distill-reference.json, made by bench/fedbkd_authors/distill_reference.py,
/// whose header gives the setting: CIFAR-10's `CNNCifarMulti`, 2 clients with 40 samples each,
/// global -> local then local -> global, lr 0.01, batches of 20).
final class FedBKDReferenceTests: XCTestCase {
    struct Reference: Decodable {
        struct Probe: Decodable {
            var global_conv1_weight_first: [Double]
            var client1_samples_first: [Double]
            var first_order: [Int]
        }
        /// The change of one parameter tensor.
        struct Change: Decodable {
            var name: String
            var shape: [Int]
            var sum: Double
            var norm: Double
            var max_abs: Double
            var first: [Double]
        }
        var authors_commit: String
        var samples: Int
        var init_seed: UInt64
        var order_seed: UInt64
        var batch_size: Int
        var probe: Probe
        var g2l: [[Change]]
        var l2g: [Change]
    }

    static let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Reference/fedbkd-distill-reference.json")

    /// A `cnn-cifar10` network with the reference's parameters: weights N(0, 1) / sqrt(fan-in),
    /// biases 0.1 N(0, 1), drawn from `generator` in parameter order (as the script fills
    /// `CNNCifarMulti`'s `named_parameters`).
    static func network(_ generator: RandomGenerator) throws -> Network {
        let net = try CIFAR10CNN(parameters: Parameters([:]))
            .build(ModelInput(inputShape: [3, 32, 32], classes: 10), generator: RandomGenerator(seed: 0))
        try withoutGrad {
            for (name, p) in net.namedParameters {
                let draw = try Tensor.randn(p.shape, generator: generator)
                let value =
                    name.hasSuffix("weight") ? try draw / Double(p.shape.dropFirst().reduce(1, *)).squareRoot() : try draw * 0.1
                try p.copy_(value)
            }
        }
        return net
    }

    func testPublishedDistillationChangesTheWeightsAsTheAuthorsCodeDoes() throws {
        let reference = try JSONDecoder().decode(Reference.self, from: Data(contentsOf: Self.file))
        let initial = RandomGenerator(seed: reference.init_seed)
        let global = try Self.network(initial)
        let clients = try (0..<2).map { _ in try Self.network(initial) }
        let n = reference.samples
        let samples = try (0..<2).map { _ in try Tensor.randn([n, 3, 32, 32], generator: initial) }
        // The same random streams as the script's, or the comparison below means nothing.
        func close(_ a: [Float], _ b: [Double]) -> Bool {
            zip(a, b).allSatisfy { abs(Double($0) - $1) <= 1e-6 } && a.count == b.count
        }
        let firstWeights = Array(try global.parameters[0].flattened(from: 0).floats().prefix(4))
        let firstSamples = Array(try samples[1].flattened(from: 0).floats().prefix(4))
        let firstOrder = try Tensor.randperm(n, generator: RandomGenerator(seed: reference.order_seed)).ints()
        XCTAssertTrue(
            close(firstWeights, reference.probe.global_conv1_weight_first)
                && close(firstSamples, reference.probe.client1_samples_first) && firstOrder == reference.probe.first_order,
            "this libtorch's random streams differ from those the reference was made with: regenerate it "
                + "(bench/fedbkd_authors/distill_reference.py)")

        let preset = try XCTUnwrap(try MethodPresets.all().first { $0.name == "fedbkd" })
        var errors: [ConfigError] = []
        let resolved = try BuiltinPlugins.registry().resolve(
            .distiller, preset.node["distiller"], path: "distiller", errors: &errors)
        XCTAssertTrue(errors.isEmpty, "\(errors)")
        let distiller = try BidirectionalDistiller.make(XCTUnwrap(resolved).parameters)

        let globalBefore = try global.stateDict().copy()
        let teachers = try clients.enumerated().map { k, net in
            Teacher(client: k, state: try net.stateDict().copy(), classCounts: (0..<10).map { $0 == k ? n : 0 })
        }
        let workspace = try Self.network(RandomGenerator(seed: 1))
        let context = ServerRoundContext(
            round: 1, global: global, workspace: [workspace], teachers: teachers, classes: 10, inputShape: [3, 32, 32],
            inputKind: .continuous, generator: RandomGenerator(seed: reference.order_seed), localBatchSize: 10)
        let batch = try distiller.distillationBatchSize(context)
        XCTAssertEqual(batch, reference.batch_size)

        // BidirectionalDistiller.distill's steps after the synthetic set is made.
        let weights = TeacherWeights.make(teachers, classes: 10)
        global.setTraining(false)
        workspace.setTraining(false)
        let (sets, ensemble) = try distiller.teacherOutputs(
            context, student: workspace, inputs: samples, labels: [[Int](repeating: 0, count: n), [Int](repeating: 1, count: n)],
            weights: weights)
        let g2l = try distiller.globalToLocalStep(context, student: workspace, sets: sets, weights: weights, batch: batch)
        let l2g = try distiller.localToGlobalStep(context, sets: sets, ensemble: ensemble, batch: batch)
        XCTAssertEqual(g2l.metrics.steps, 2 * 4 * 2, "4 epochs of 2 batches per client")
        XCTAssertEqual(l2g.steps, 2 * 3, "3 summed steps per client")

        for k in 0..<2 {
            try compare(
                after: XCTUnwrap(g2l.students[k]), before: teachers[k].state, with: reference.g2l[k],
                what: "client \(k) after global -> local")
        }
        try compare(after: global.stateDict(), before: globalBefore, with: reference.l2g, what: "global after local -> global")
    }

    /// Each parameter's change against the reference's: sum, norm, largest magnitude and the first
    /// values, within 0.01 % of the reference change's norm (measured: at most 0.00012 %, float32
    /// rounding); a tensor the authors' code leaves unchanged (the head) must stay exactly unchanged.
    func compare(after: StateDict, before: StateDict, with reference: [Reference.Change], what: String) throws {
        let names = before.entries.map(\.name)
        XCTAssertEqual(names.count, reference.count, what)
        for (name, expected) in zip(names, reference) {
            let a = try XCTUnwrap(after.entries.first { $0.name == name }?.tensor, name)
            let b = try XCTUnwrap(before.entries.first { $0.name == name }?.tensor, name)
            XCTAssertEqual(a.shape, expected.shape, "\(what): \(name) is the authors' \(expected.name)")
            let delta = zip(try a.flattened(from: 0).floats(), try b.flattened(from: 0).floats()).map {
                Double($0) - Double($1)
            }
            if expected.norm == 0 {
                XCTAssertTrue(delta.allSatisfy { $0 == 0 }, "\(what): \(expected.name) must not change")
                continue
            }
            let tolerance = 1e-4 * expected.norm
            let norm = delta.reduce(0) { $0 + $1 * $1 }.squareRoot()
            let ours = [delta.reduce(0, +), norm, delta.map(abs).max() ?? 0] + delta.prefix(expected.first.count)
            let theirs = [expected.sum, expected.norm, expected.max_abs] + expected.first
            let worst = zip(ours, theirs).map { abs($0 - $1) }.max() ?? 0
            XCTAssertLessThanOrEqual(
                worst, tolerance,
                "\(what): \(expected.name) changed by norm \(norm) (sum \(ours[0])), the authors' code by norm "
                    + "\(expected.norm) (sum \(expected.sum)); largest difference \(worst)")
        }
    }
}
