import Aggregators
import FedKit
import FedKitTesting
import Torch
import Trainers
import XCTest

/// The defining property of each personalised-FL baseline (docs/baselines.md), on tiny problems.
final class BaselineTests: XCTestCase {
    func floats(_ state: StateDict) throws -> [Float] { try state.flattened().floats() }

    /// One server step as the engine takes it: the aggregator's result written into `global`.
    func apply(_ aggregator: any AggregatorPlugin, _ global: StateDict, _ updates: [ClientUpdate]) throws {
        try global.update(from: aggregator.aggregate(updates, global: global).state)
    }

    func assertClose(
        _ a: [Float], _ b: [Float], tolerance: Float = 1e-5, _ message: String = "",
        file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(a.count, b.count, message, file: file, line: line)
        let worst = zip(a, b).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, tolerance, message, file: file, line: line)
    }

    /// A state like `parameters` filled with seeded Gaussian values times `scale`.
    func randomState(
        like parameters: [(name: String, tensor: Tensor)], seed: UInt64, scale: Double = 0.1
    ) throws -> StateDict {
        let g = RandomGenerator(seed: seed)
        return StateDict(try parameters.map { ($0.name, try Tensor.randn($0.tensor.shape, generator: g) * scale) })
    }

    // MARK: - LG-FedAvg

    func testTopLayersScopeSelectsTheLastLayersWithEntries() throws {
        let state = StateDict(
            try ["body.1.weight", "body.1.bias", "body.4.weight", "body.4.bias", "head.0.weight", "head.0.bias"]
                .map { ($0, try Tensor.zeros([1])) })
        XCTAssertEqual(
            WeightedAverage.topLayers(2, of: state).names,
            ["body.4.weight", "body.4.bias", "head.0.weight", "head.0.bias"])
        XCTAssertEqual(WeightedAverage.topLayers(1, of: state).names, ["head.0.weight", "head.0.bias"])
        XCTAssertEqual(WeightedAverage.topLayers(9, of: state).names, state.names)
    }

    func testServerStepSizeMovesTheGlobalModelPartOfTheWay() throws {
        let global = StateDict([("w", try Tensor([Float(1), 2]))])
        let updates = [
            ClientUpdate(client: 0, state: StateDict([("w", try Tensor([Float(3), 6]))]), samples: 1),
            ClientUpdate(client: 1, state: StateDict([("w", try Tensor([Float(5), 2]))]), samples: 1),
        ]
        let beta = try WeightedAverage(
            parameters: Parameters(["server_lr": .double(0.5), "weighting": .string("uniform")]))
        try apply(beta, global, updates)
        // (1 - 0.5) * [1, 2] + 0.5 * [4, 4]
        XCTAssertEqual(try global.flattened().floats(), [2.5, 3])
    }

    // MARK: - FedBABU

    func testFedBABUNeverChangesTheHeadDuringTraining() throws {
        let toy = try ToyProblem()
        let context = try toy.context(epochs: 3, momentum: 0.5)
        let start = try context.model.stateDict().copy()
        let report = try FedBABUTrainer(parameters: Parameters()).train(context)
        XCTAssertEqual(report.steps, 15)
        let end = context.model.stateDict()
        XCTAssertEqual(
            try floats(end.under("head")), try floats(start.under("head")), "the head keeps its initial weights")
        XCTAssertGreaterThan(try distance(end.under("body"), start.under("body")), 0)
        XCTAssertTrue(
            context.model.head.parameters.allSatisfy(\.requiresGrad), "the head is trainable again afterwards")
    }

    func testFedBABUFineTunesOnlyForEvaluation() throws {
        let toy = try ToyProblem()
        for part in ["full", "head"] {
            let trainer = try FedBABUTrainer(
                parameters: Parameters(["finetune_epochs": .int(2), "finetune": .string(part)]))
            let context = try toy.context()
            let start = try context.model.stateDict().copy()
            let before = try toy.loss(context.model)
            try trainer.composeEvaluationModel(context)
            let end = context.model.stateDict()
            XCTAssertGreaterThan(try distance(end.under("head"), start.under("head")), 0, part)
            if part == "head" {
                XCTAssertEqual(
                    try floats(end.under("body")), try floats(start.under("body")), "head fine-tuning leaves the body")
            } else {
                XCTAssertGreaterThan(try distance(end.under("body"), start.under("body")), 0)
            }
            XCTAssertLessThan(try toy.loss(context.model), before, part)
            XCTAssertNil(context.personal, "the composition reads the context and returns nothing")
        }
    }

    // MARK: - SCAFFOLD

    /// c_i+ = c_i - c + (x - y_i) / (K lr) and delta c_i = c_i+ - c_i, with K the local steps taken.
    func testScaffoldControlVariateUpdateRule() throws {
        let toy = try ToyProblem()
        let probe = try toy.network()
        let c = try randomState(like: probe.namedParameters, seed: 1)
        let ci = try randomState(like: probe.namedParameters, seed: 2)
        let model = try toy.network()
        let lr = 0.05
        let context = ClientTrainingContext(
            client: 0, round: 1, model: model, scratch: try toy.network(seed: 99), data: toy.data,
            global: try model.stateDict().copy(), personal: nil,
            settings: LocalHyperparameters(epochs: 2, batchSize: 8, learningRate: lr, momentum: 0.5, weightDecay: 1e-4),
            generator: RandomGenerator(seed: 5), payload: c, carried: ci)
        let report = try ScaffoldTrainer(parameters: Parameters()).train(context)
        XCTAssertEqual(report.steps, 10)
        let x = try floats(context.global), y = try floats(model.stateDict())
        let cv = try floats(c), civ = try floats(ci)
        let scale = Float(1 / (Double(report.steps) * lr))
        var expected: [Float] = []
        for i in 0..<x.count {
            let drift: Float = (x[i] - y[i]) * scale
            expected.append(civ[i] - cv[i] + drift)
        }
        let carried = try XCTUnwrap(report.carried)
        XCTAssertEqual(carried.names, probe.namedParameters.map(\.name))
        assertClose(try floats(carried), expected, tolerance: 1e-4)
        assertClose(try floats(report.upload), zip(expected, civ).map { $0 - $1 }, tolerance: 1e-4)
    }

    /// With c = c_i the correction vanishes: SCAFFOLD's local update is plain SGD; with c != c_i it is not.
    func testScaffoldCorrectionVanishesWhenTheVariatesAgree() throws {
        let toy = try ToyProblem()
        let probe = try toy.network()
        let same = try randomState(like: probe.namedParameters, seed: 3)
        func trained(payload: StateDict, carried: StateDict?) throws -> [Float] {
            let model = try toy.network()
            let context = ClientTrainingContext(
                client: 0, round: 1, model: model, scratch: try toy.network(seed: 99), data: toy.data,
                global: try model.stateDict().copy(), personal: nil,
                settings: LocalHyperparameters(
                    epochs: 2, batchSize: 8, learningRate: 0.1, momentum: 0, weightDecay: 1e-4),
                generator: RandomGenerator(seed: 5), payload: payload, carried: carried)
            _ = try ScaffoldTrainer(parameters: Parameters()).train(context)
            return try floats(model.stateDict())
        }
        let sgdContext = try toy.context(epochs: 2, lr: 0.1, momentum: 0)
        _ = try SGDTrainer(parameters: Parameters()).train(sgdContext)
        let sgd = try floats(sgdContext.model.stateDict())
        assertClose(try trained(payload: same, carried: same), sgd, tolerance: 1e-5)
        assertClose(try trained(payload: StateDict([]), carried: nil), sgd, tolerance: 1e-6)
        let corrected = try trained(payload: same, carried: randomState(like: probe.namedParameters, seed: 4))
        XCTAssertGreaterThan(zip(corrected, sgd).map { abs($0 - $1) }.max() ?? 0, 1e-3)
    }

    /// x <- x + lr_g mean(y_i - x); c <- c + (1/N) sum delta c_i, accumulated across rounds and saved.
    func testScaffoldServerUpdate() throws {
        let aggregator = try ScaffoldAggregator(parameters: Parameters())
        let global = StateDict([("w", try Tensor([Float(1), 1]))])
        try aggregator.start(FederationFacts(clients: 10, seed: 1, global: try global.copy(), localLearningRate: 0.1))
        XCTAssertTrue(try aggregator.payload(round: 1).isEmpty, "c is zero before the first aggregation")
        func update(_ client: Int, _ y: [Float], _ dc: [Float], samples: Int) throws -> ClientUpdate {
            ClientUpdate(
                client: client, state: StateDict([("w", try Tensor(y))]), samples: samples,
                upload: StateDict([("w", try Tensor(dc))]))
        }
        try apply(
            aggregator, global,
            [try update(0, [3, 1], [1, 2], samples: 1), try update(1, [1, 5], [3, -2], samples: 9)])
        XCTAssertEqual(try floats(global), [2, 3], "uniform mean of the client models (lr_g = 1)")
        XCTAssertEqual(try floats(aggregator.payload(round: 2)), [0.4, 0])
        try apply(aggregator, global, [try update(2, [2, 3], [1, 1], samples: 4)])
        XCTAssertEqual(try floats(aggregator.payload(round: 3)), [0.5, 0.1])
        // Exact resume: the saved state restores c and N.
        let restored = try ScaffoldAggregator(parameters: Parameters())
        try restored.restoreCarriedState(aggregator.saveCarriedState())
        XCTAssertEqual(try floats(restored.payload(round: 3)), [0.5, 0.1])
        try apply(
            restored, StateDict([("w", try Tensor([Float(0), 0]))]), [try update(3, [0, 0], [10, 0], samples: 1)])
        XCTAssertEqual(try floats(restored.payload(round: 4)), [1.5, 0.1])
        // A half-step server (lr_g = 0.5) moves x halfway to the mean.
        let half = try ScaffoldAggregator(parameters: Parameters(["server_lr": .double(0.5)]))
        try half.start(FederationFacts(clients: 2, seed: 1, global: global, localLearningRate: 0.1))
        let x = StateDict([("w", try Tensor([Float(0), 0]))])
        try apply(half, x, [try update(0, [2, 4], [0, 0], samples: 1)])
        XCTAssertEqual(try floats(x), [1, 2])
    }

    // MARK: - APFL

    /// A full-batch context: one step per epoch, so that one step can be checked by hand.
    func fullBatchContext(
        _ toy: ToyProblem, lr: Double, personal: StateDict? = nil, carried: StateDict? = nil,
        epochs: Int = 1
    ) throws -> ClientTrainingContext {
        let model = try toy.network()
        return ClientTrainingContext(
            client: 0, round: 1, model: model, scratch: try toy.network(seed: 99), data: toy.data,
            global: try model.stateDict().copy(), personal: personal,
            settings: LocalHyperparameters(
                epochs: epochs, batchSize: toy.data.count, learningRate: lr, momentum: 0, weightDecay: 0),
            generator: RandomGenerator(seed: 5), carried: carried)
    }

    /// The gradient of the toy loss at `state`, entry by entry (parameters only).
    func gradient(_ toy: ToyProblem, at state: [Float]) throws -> [Float] {
        let net = try toy.network()
        try net.stateDict().load(flat: Tensor(state))
        try Loss.crossEntropy(net.forward(toy.data.inputs), targets: toy.data.labels).backward()
        return try net.parameters.flatMap { try XCTUnwrap($0.grad).flattened().floats() }
    }

    /// One step by hand: v1 = v0 - lr alpha0 g, alpha1 = alpha0 - lr <v0 - w0, g>, g = grad f(alpha0 v0 + (1 - alpha0) w0).
    func testAPFLMixedModelAndAlphaGradient() throws {
        let toy = try ToyProblem()
        let lr = 0.1, alpha0 = 0.6
        let v0state = try toy.network(seed: 123).stateDict().copy()
        let context = try fullBatchContext(
            toy, lr: lr, personal: v0state, carried: StateDict([("alpha", try Tensor([Float(alpha0)]))]))
        let w0 = try floats(context.global), v0 = try floats(v0state)
        let mixed = zip(v0, w0).map { Float(alpha0) * $0 + Float(1 - alpha0) * $1 }
        let g = try gradient(toy, at: mixed)
        let report = try APFLTrainer(parameters: Parameters()).train(context)
        XCTAssertEqual(report.steps, 1)
        let v1 = try floats(XCTUnwrap(report.personal))
        assertClose(v1, zip(v0, g).map { $0 - Float(lr * alpha0) * $1 }, tolerance: 1e-5, "v1")
        let dot = zip(zip(v0, w0), g).reduce(0.0) { $0 + Double(($1.0.0 - $1.0.1) * $1.1) }
        let alpha1 = try XCTUnwrap(report.carried).tensors[0].item()
        XCTAssertEqual(alpha1, alpha0 - lr * dot, accuracy: 1e-5)
        XCTAssertNotEqual(alpha1, alpha0, accuracy: 1e-7)
        // w takes a plain SGD step on its own loss (the global update).
        let gw = try gradient(toy, at: w0)
        assertClose(
            try floats(context.model.stateDict()), zip(w0, gw).map { $0 - Float(lr) * $1 }, tolerance: 1e-5, "w1")
        // Fixed alpha stays put.
        let fixed = try fullBatchContext(toy, lr: lr, personal: v0state)
        let fixedReport = try APFLTrainer(parameters: Parameters(["adaptive": .bool(false)])).train(fixed)
        XCTAssertEqual(try XCTUnwrap(fixedReport.carried).tensors[0].item(), 0.75, accuracy: 1e-7)
    }

    /// Tested with alpha v + (1 - alpha) w_global; with the global model before the client's first round.
    func testAPFLEvaluatesTheMixture() throws {
        let toy = try ToyProblem()
        let v = try toy.network(seed: 123).stateDict().copy()
        let trainer = try APFLTrainer(parameters: Parameters())
        let context = try fullBatchContext(
            toy, lr: 0.1, personal: v, carried: StateDict([("alpha", try Tensor([Float(0.3)]))]))
        try context.model.load(v)
        try trainer.composeEvaluationModel(context)
        let expected = zip(try floats(v), try floats(context.global)).map { Float(0.3) * $0 + Float(0.7) * $1 }
        assertClose(try floats(context.model.stateDict()), expected, tolerance: 1e-6)
        let fresh = try fullBatchContext(toy, lr: 0.1)
        try trainer.composeEvaluationModel(fresh)
        XCTAssertEqual(try floats(fresh.model.stateDict()), try floats(fresh.global))
    }

    // MARK: - Per-FedAvg

    /// On a full batch (D = D' = D''), one meta-step: first-order w1 = w0 - beta grad f(w0 - alpha grad f(w0));
    /// Hessian-free w1 = w0 - beta (g - alpha H g), g = grad f(w0 - alpha grad f(w0)), H g by an
    /// independent central difference.
    func testPerFedAvgMetaGradientInBothVariants() throws {
        let toy = try ToyProblem()
        let alpha = 0.5, beta = 0.2
        let w0 = try floats(toy.network().stateDict())
        let g0 = try gradient(toy, at: w0)
        let inner = zip(w0, g0).map { $0 - Float(alpha) * $1 }
        let g = try gradient(toy, at: inner)
        let firstOrder = zip(w0, g).map { $0 - Float(beta) * $1 }
        let h = 1e-2
        let plus = try gradient(toy, at: zip(w0, g).map { $0 + Float(h) * $1 })
        let minus = try gradient(toy, at: zip(w0, g).map { $0 - Float(h) * $1 })
        let hg = zip(plus, minus).map { ($0 - $1) / Float(2 * h) }
        let hessianFree = (0..<w0.count).map { w0[$0] - Float(beta) * (g[$0] - Float(alpha) * hg[$0]) }

        for (variant, expected) in [("first-order", firstOrder), ("hessian-free", hessianFree)] {
            let context = try fullBatchContext(toy, lr: 0.01)
            let trainer = try PerFedAvgTrainer(
                parameters: Parameters([
                    "variant": .string(variant), "alpha": .double(alpha), "beta": .double(beta), "delta": .double(1e-3),
                ]))
            let report = try trainer.train(context)
            XCTAssertEqual(report.steps, 1, variant)
            assertClose(
                try floats(context.model.stateDict()), expected, tolerance: variant == "first-order" ? 1e-5 : 2e-3,
                variant)
        }
        // The Hessian term matters on this problem.
        XCTAssertGreaterThan(zip(firstOrder, hessianFree).map { abs($0 - $1) }.max() ?? 0, 1e-3)
    }

    /// Tested after one step w - alpha grad f(w; D) from the global model (D: one mini-batch, here the whole data).
    func testPerFedAvgPersonalisesWithOneStepAtTestTime() throws {
        let toy = try ToyProblem()
        let context = try fullBatchContext(toy, lr: 0.01)
        let w0 = try floats(context.global)
        try PerFedAvgTrainer(parameters: Parameters(["alpha": .double(0.3)])).composeEvaluationModel(context)
        let g0 = try gradient(toy, at: w0)
        assertClose(try floats(context.model.stateDict()), zip(w0, g0).map { $0 - Float(0.3) * $1 }, tolerance: 1e-5)
    }

    // MARK: - pFedMe

    /// With many inner steps, theta solves the inner problem: grad f(theta) + lambda (theta - w0) ~ 0;
    /// the local model then moves w1 = w0 - lr lambda (w0 - theta) and is what the client sends.
    func testPFedMeSolvesTheInnerProblemAndPullsTheLocalModel() throws {
        let toy = try ToyProblem()
        let lambda = 2.0, lr = 0.05
        let context = try fullBatchContext(toy, lr: lr)
        let w0 = try floats(context.global)
        let trainer = try PFedMeTrainer(
            parameters: Parameters([
                "lambda": .double(lambda), "inner_steps": .int(400), "personal_lr": .double(0.1),
            ]))
        let report = try trainer.train(context)
        XCTAssertEqual(report.steps, 1)
        let theta = try floats(XCTUnwrap(report.personal))
        let g = try gradient(toy, at: theta)
        let stationarity = zip(g, zip(theta, w0)).map { Double($0 + Float(lambda) * ($1.0 - $1.1)) }
        let residual = stationarity.map { $0 * $0 }.reduce(0, +).squareRoot()
        let start = try gradient(toy, at: w0).map { Double($0 * $0) }.reduce(0, +).squareRoot()
        XCTAssertLessThan(
            residual, 1e-3 * start, "theta is the proximal point (residual \(residual), |grad f(w0)| \(start))")
        XCTAssertGreaterThan(try distance(XCTUnwrap(report.personal), context.global), 0)
        let w1 = zip(w0, theta).map { $0 - Float(lr * lambda) * ($0 - $1) }
        assertClose(try floats(context.model.stateDict()), w1, tolerance: 1e-6)
    }

    /// Larger lambda keeps theta closer to the local model (the Moreau envelope's trade-off).
    func testPFedMeLargerLambdaKeepsThetaCloser() throws {
        let toy = try ToyProblem()
        var distances: [Double] = []
        for lambda in [0.5, 5.0, 50.0] {
            let context = try fullBatchContext(toy, lr: 0.001)
            let trainer = try PFedMeTrainer(
                parameters: Parameters([
                    "lambda": .double(lambda), "inner_steps": .int(50), "personal_lr": .double(0.01),
                ]))
            let report = try trainer.train(context)
            distances.append(try distance(XCTUnwrap(report.personal), context.global))
        }
        XCTAssertGreaterThan(distances[0], distances[1])
        XCTAssertGreaterThan(distances[1], distances[2])
    }

    // MARK: - L2GD

    /// Over many rounds the fraction of averaging steps among all L2GD steps is p; a round's local
    /// run has mean 1/p steps and its averaging run 1/(1 - p); the draws are a function of (seed, round).
    func testL2GDExpectedNumberOfAveragingSteps() throws {
        let p = 0.3
        let aggregator = try L2GDAggregator(parameters: Parameters(["p": .double(p), "lambda": .double(1)]))
        try aggregator.start(FederationFacts(clients: 4, seed: 7, global: StateDict([]), localLearningRate: 0.1))
        let rounds = 20_000
        var local = 0, averaging = 0
        for r in 1...rounds {
            let runs = aggregator.coinRuns(round: r)
            XCTAssertGreaterThanOrEqual(min(runs.local, runs.averaging), 1)
            local += runs.local
            averaging += runs.averaging
        }
        XCTAssertEqual(Double(averaging) / Double(local + averaging), p, accuracy: 0.01)
        XCTAssertEqual(Double(local) / Double(rounds), 1 / p, accuracy: 0.1)
        XCTAssertEqual(Double(averaging) / Double(rounds), 1 / (1 - p), accuracy: 0.03)
        let again = try L2GDAggregator(parameters: Parameters(["p": .double(p), "lambda": .double(1)]))
        try again.start(FederationFacts(clients: 4, seed: 7, global: StateDict([]), localLearningRate: 0.1))
        XCTAssertEqual(again.coinRuns(round: 123).local, aggregator.coinRuns(round: 123).local)
        XCTAssertEqual(try again.payload(round: 5).tensors[0].item(), Double(aggregator.coinRuns(round: 5).local))
        XCTAssertEqual(try again.payload(round: 5).tensors[1].item(), 1 / (1 - p), accuracy: 1e-6)
    }

    /// m averaging steps x <- x - theta (x - x_bar) give x_bar + (1 - theta)^m (x - x_bar); the global model is x_bar.
    func testL2GDAveragingStepPullsParticipantsTowardTheMean() throws {
        let aggregator = try L2GDAggregator(parameters: Parameters(["p": .double(0.5), "lambda": .double(2)]))
        try aggregator.start(FederationFacts(clients: 2, seed: 3, global: StateDict([]), localLearningRate: 0.1))
        let global = StateDict([("w", try Tensor([Float(0), 0]))])
        let a = StateDict([("w", try Tensor([Float(2), 0]))]), b = StateDict([("w", try Tensor([Float(0), 4]))])
        try apply(
            aggregator, global,
            [ClientUpdate(client: 0, state: a, samples: 1), ClientUpdate(client: 1, state: b, samples: 3)])
        XCTAssertEqual(try floats(global), [1, 2], "uniform mean")
        let round = (1...50).first { aggregator.coinRuns(round: $0).averaging > 1 }!
        let m = aggregator.coinRuns(round: round).averaging
        var x: [Float] = [2, 0]
        for _ in 0..<m { x = zip(x, [Float(1), 2]).map { $0 - 0.4 * ($0 - $1) } }  // theta = 0.1 * 2 / 0.5
        assertClose(
            try floats(aggregator.refreshed(personal: a, client: 0, round: round, global: global)), x, tolerance: 1e-6)
        // theta > 1 would overshoot the mean: refused at the start.
        let tooStrong = try L2GDAggregator(parameters: Parameters(["p": .double(0.1), "lambda": .double(20)]))
        XCTAssertThrowsError(
            try tooStrong.start(FederationFacts(clients: 2, seed: 1, global: StateDict([]), localLearningRate: 0.01))
        ) {
            XCTAssertTrue("\($0)".contains("exceeds 1"), "\($0)")
        }
    }

    /// The client takes exactly the K local steps the server drew, at lr / (1 - p); without the payload it refuses.
    func testL2GDTrainerTakesTheDrawnNumberOfLocalSteps() throws {
        let toy = try ToyProblem()
        let model = try toy.network()
        let payload = StateDict([("local_steps", try Tensor([Float(7)])), ("step_scale", try Tensor([Float(2)]))])
        let context = ClientTrainingContext(
            client: 0, round: 1, model: model, scratch: try toy.network(seed: 99), data: toy.data,
            global: try model.stateDict().copy(),
            personal: nil, settings: LocalHyperparameters(epochs: 1, batchSize: 8, learningRate: 0.05),
            generator: RandomGenerator(seed: 5),
            payload: payload)
        let before = try toy.loss(model)
        XCTAssertEqual(try L2GDTrainer(parameters: Parameters()).train(context).steps, 7)
        XCTAssertLessThan(try toy.loss(model), before)
        XCTAssertThrowsError(try L2GDTrainer(parameters: Parameters()).train(toy.context())) {
            XCTAssertTrue("\($0)".contains("l2gd aggregator's round payload"), "\($0)")
        }
    }
}
