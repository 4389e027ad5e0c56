import FedKit
import FedKitTesting
import Models
import Torch
import Trainers
import XCTest

func distance(_ a: StateDict, _ b: StateDict) throws -> Double {
    try (a.flattened() - b.flattened()).norm().item()
}

final class TrainerTests: XCTestCase {
    func trainer<T: TrainerPlugin>(_ type: T.Type, _ parameters: [String: ParameterValue] = [:]) throws -> T {
        try T.make(Parameters(parameters))
    }

    func testSGDLowersTheLoss() throws {
        let toy = try ToyProblem()
        let context = try toy.context(momentum: 0.5)
        let before = try toy.loss(context.model)
        let report = try trainer(SGDTrainer.self).train(context)
        let after = try toy.loss(context.model)
        XCTAssertLessThan(after, before * 0.5, "loss \(before) -> \(after)")
        XCTAssertEqual(report.steps, 3 * 5)  // 3 epochs of 40 samples in batches of 8
        XCTAssertTrue(report.trainLoss.isFinite && report.trainLoss > 0)
        XCTAssertNil(report.personal, "the engine keeps what the method's `personal` names")
        XCTAssertNil(context.model.parameters.first?.grad, "gradients are dropped after training")
    }

    /// federation.drop_last: 40 samples in batches of 12 are 3 full batches and one of 4; the
    /// small one is skipped. A client smaller than one batch trains nothing.
    func testDropLastSkipsTheSmallerLastBatch() throws {
        let toy = try ToyProblem()
        XCTAssertEqual(try trainer(SGDTrainer.self).train(toy.context(batchSize: 12)).steps, 3 * 4)
        XCTAssertEqual(try trainer(SGDTrainer.self).train(toy.context(batchSize: 12, dropLast: true)).steps, 3 * 3)
        XCTAssertEqual(try trainer(SGDTrainer.self).train(toy.context(batchSize: 8, dropLast: true)).steps, 3 * 5)
        let tooSmall = try toy.context(batchSize: 64, dropLast: true)
        let report = try trainer(SGDTrainer.self).train(tooSmall)
        XCTAssertEqual(report.steps, 0)
        XCTAssertEqual(try tooSmall.model.stateDict().flattened().floats(), try tooSmall.global.flattened().floats())
    }

    func testDropLastDrawsTheSamePermutation() throws {
        let samples = try LabeledSamples(inputs: Tensor((0..<10).map(Float.init), shape: [10, 1]), labels: Array(0..<10))
        let all = try samples.shuffledBatches(size: 4, generator: RandomGenerator(seed: 3))
        let dropped = try samples.shuffledBatches(size: 4, dropLast: true, generator: RandomGenerator(seed: 3))
        XCTAssertEqual(all.map { $0.labels.count }, [4, 4, 2])
        XCTAssertEqual(dropped.count, 2)
        XCTAssertEqual(samples.batchCount(size: 4), 3)
        XCTAssertEqual(samples.batchCount(size: 4, dropLast: true), 2)
        XCTAssertEqual(samples.batchCount(size: 20, dropLast: true), 0)
        for (a, b) in zip(all, dropped) { XCTAssertEqual(try a.labels.ints(), try b.labels.ints()) }
    }

    func testSGDIsReproducible() throws {
        let toy = try ToyProblem()
        let a = try toy.context(), b = try toy.context()
        _ = try trainer(SGDTrainer.self).train(a)
        _ = try trainer(SGDTrainer.self).train(b)
        XCTAssertEqual(try a.model.stateDict().flattened().floats(), try b.model.stateDict().flattened().floats())
    }

    func testProxLowersTheLoss() throws {
        let toy = try ToyProblem()
        let context = try toy.context()
        let before = try toy.loss(context.model)
        let report = try trainer(ProxTrainer.self).train(context)  // default mu 0.01
        XCTAssertLessThan(try toy.loss(context.model), before * 0.5)
        XCTAssertEqual(report.steps, 15)
    }

    func testProxWithLargeMuStaysNearTheGlobalModel() throws {
        let toy = try ToyProblem()
        let free = try toy.context(epochs: 5)
        _ = try trainer(SGDTrainer.self).train(free)
        let pulled = try toy.context(epochs: 5)
        _ = try trainer(ProxTrainer.self, ["mu": .double(8)]).train(pulled)
        let freeDistance = try distance(free.model.stateDict(), free.global)
        let pulledDistance = try distance(pulled.model.stateDict(), pulled.global)
        XCTAssertGreaterThan(pulledDistance, 0)
        XCTAssertLessThan(pulledDistance, 0.25 * freeDistance, "prox \(pulledDistance) vs sgd \(freeDistance)")
    }

    func testHeadEpochsLeaveTheBodyUnchanged() throws {
        let toy = try ToyProblem()
        for cache in [true, false] {
            let context = try toy.context()
            let start = try context.model.stateDict().copy()
            let report = try trainer(
                HeadThenBodyTrainer.self,
                [
                    "head_epochs": .int(3), "body_epochs": .int(0),
                    "cache_features": .bool(cache),
                ]
            ).train(context)
            XCTAssertEqual(report.steps, 15)
            let end = context.model.stateDict()
            XCTAssertEqual(try end.under("body").flattened().floats(), try start.under("body").flattened().floats())
            XCTAssertGreaterThan(try distance(end.under("head"), start.under("head")), 0)
        }
    }

    func testCachedFeaturesGiveTheSameHeadUpdate() throws {
        let toy = try ToyProblem()
        var heads: [[Float]] = []
        for cache in [true, false] {
            let context = try toy.context()
            _ = try trainer(
                HeadThenBodyTrainer.self,
                [
                    "head_epochs": .int(3), "body_epochs": .int(0),
                    "cache_features": .bool(cache),
                ]
            ).train(context)
            heads.append(try context.model.stateDict().under("head").flattened().floats())
        }
        for (a, b) in zip(heads[0], heads[1]) { XCTAssertEqual(a, b, accuracy: 1e-5) }
    }

    func testBodyEpochsLeaveTheHeadUnchanged() throws {
        let toy = try ToyProblem()
        let context = try toy.context()
        let start = try context.model.stateDict().copy()
        let report = try trainer(HeadThenBodyTrainer.self, ["head_epochs": .int(0), "body_epochs": .int(2)]).train(
            context)
        XCTAssertEqual(report.steps, 10)
        let end = context.model.stateDict()
        XCTAssertEqual(try end.under("head").flattened().floats(), try start.under("head").flattened().floats())
        XCTAssertGreaterThan(try distance(end.under("body"), start.under("body")), 0)
        // The head is trainable again afterwards.
        XCTAssertTrue(context.model.head.parameters.allSatisfy(\.requiresGrad))
    }

    func testHeadThenBodyLowersTheLoss() throws {
        let toy = try ToyProblem()
        let context = try toy.context(epochs: 2)
        let before = try toy.loss(context.model)
        let report = try trainer(HeadThenBodyTrainer.self, ["head_epochs": .int(3)]).train(context)
        XCTAssertEqual(report.steps, (3 + 2) * 5)  // body epochs default to federation.local_epochs
        XCTAssertLessThan(try toy.loss(context.model), before * 0.5)
    }

    func testDittoTrainsTheGlobalUpdateAndAPersonalModel() throws {
        let toy = try ToyProblem()
        let context = try toy.context()
        let before = try toy.loss(context.model)
        let report = try trainer(DittoTrainer.self, ["lambda": .double(0.1)]).train(context)
        XCTAssertEqual(report.steps, 2 * 15)
        let personal = try XCTUnwrap(report.personal, "Ditto returns its personal model")
        XCTAssertEqual(personal.names, context.model.stateDict().names)
        XCTAssertLessThan(try toy.loss(context.model), before * 0.5, "the global update is plain SGD")
        try context.scratch.load(personal)
        XCTAssertLessThan(try toy.loss(context.scratch), before * 0.5)
        // A snapshot, not the scratch network's live storage.
        try context.scratch.load(context.global)
        XCTAssertGreaterThan(try distance(personal, context.global), 0)
    }

    func testDittoLargerLambdaKeepsThePersonalModelCloserToGlobal() throws {
        let toy = try ToyProblem()
        var distances: [Double] = []
        for lambda in [0.0, 1.0, 8.0] {
            let context = try toy.context(epochs: 5)
            let report = try trainer(DittoTrainer.self, ["lambda": .double(lambda)]).train(context)
            distances.append(try distance(XCTUnwrap(report.personal), context.global))
        }
        XCTAssertGreaterThan(distances[0], distances[1])
        XCTAssertGreaterThan(distances[1], distances[2])
    }

    func testDittoContinuesFromTheStoredPersonalModel() throws {
        let toy = try ToyProblem()
        let stored = try toy.network(seed: 123).stateDict().copy()
        let context = try toy.context(personal: stored)
        let report = try trainer(DittoTrainer.self, ["lambda": .double(0), "personal_epochs": .int(0)]).train(context)
        // No personal epochs: the returned personal model is exactly the stored one.
        XCTAssertEqual(try XCTUnwrap(report.personal).flattened().floats(), try stored.flattened().floats())
    }

    func testNaNLossThrows() throws {
        let toy = try ToyProblem(poison: true)
        let trainers: [any TrainerPlugin] = [
            try trainer(SGDTrainer.self), try trainer(ProxTrainer.self),
            try trainer(HeadThenBodyTrainer.self), try trainer(DittoTrainer.self),
        ]
        for t in trainers {
            XCTAssertThrowsError(try t.train(toy.context())) { error in
                XCTAssertTrue(error is PluginError)
                XCTAssertTrue("\(error)".hasPrefix("loss became nan at epoch 1, step "), "\(error)")
            }
        }
    }

    func testEmptyDataTrainsNothing() throws {
        let toy = try ToyProblem()
        let empty = try toy.data.subset([])
        let model = try toy.network()
        let context = ClientTrainingContext(
            client: 0, round: 1, model: model, scratch: try toy.network(), data: empty,
            global: try model.stateDict().copy(),
            personal: nil, settings: LocalHyperparameters(epochs: 2, batchSize: 8, learningRate: 0.1),
            generator: RandomGenerator(seed: 1))
        let trainers: [any TrainerPlugin] = [
            try trainer(SGDTrainer.self), try trainer(ProxTrainer.self),
            try trainer(HeadThenBodyTrainer.self), try trainer(DittoTrainer.self),
        ]
        for t in trainers {
            let report = try t.train(context)
            XCTAssertEqual(report.trainLoss, 0, "\(type(of: t))")
            XCTAssertEqual(report.steps, 0, "\(type(of: t))")
        }
    }

    func testDescriptors() {
        XCTAssertEqual(
            Array(TrainerCatalog.plugins.map { $0.descriptor.name }.prefix(4)),
            ["sgd", "prox", "head-then-body", "ditto"])
        for type in TrainerCatalog.plugins {
            XCTAssertEqual(type.descriptor.kind, .trainer)
            for p in type.descriptor.parameters { XCTAssertFalse(p.doc.isEmpty) }
        }
    }
}
