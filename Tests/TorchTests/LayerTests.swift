import Foundation
import XCTest

@testable import Torch

final class LayerTests: XCTestCase {
    func makeCNN(generator g: RandomGenerator) throws -> Network {
        // 3x16x16 -> conv3 14 -> pool 7 -> conv3 5 -> pool 2 -> 16*2*2 = 64 -> 10
        try Network(
            body: [
                Conv2d(3, 8, kernel: 3, generator: g), Activation.relu, Pool2d(.max, kernel: 2),
                Conv2d(8, 16, kernel: 3, generator: g), Activation.relu, Pool2d(.max, kernel: 2), Flatten(),
            ],
            head: [Linear(64, 10, generator: g)], generator: g)
    }

    func testSmallCNNMemorisesRandomLabels() throws {
        let g = RandomGenerator(seed: 1234)
        let net = try makeCNN(generator: g)
        let x = try Tensor.randn([64, 3, 16, 16], generator: g)
        let y = try Tensor.randint(0, 10, [64], generator: g)
        let optimiser = try SGD(net.parameters, learningRate: 0.05, momentum: 0.9)
        func accuracyNow() throws -> Double {
            try withoutGrad { try net(x).argmax(dim: 1).eq(y).to(.float32).mean().item() }
        }
        XCTAssertLessThan(try accuracyNow(), 0.5, "random labels start near chance")
        var accuracy = 0.0
        var steps = 0
        let start = Date()
        while steps < 400 {
            try optimiser.zeroGrad()
            let logits = try net(x)
            let loss = try Loss.crossEntropy(logits, targets: y)
            try loss.backward()
            try optimiser.step()
            steps += 1
            if steps % 10 == 0 {
                accuracy = try accuracyNow()
                if accuracy == 1 { break }
            }
        }
        let seconds = Date().timeIntervalSince(start)
        XCTAssertEqual(accuracy, 1, "training accuracy after \(steps) steps")
        XCTAssertLessThan(seconds, 10, "took \(seconds) s for \(steps) steps")
    }

    func testNetworkStateNames() throws {
        let g = RandomGenerator(seed: 1)
        let net = try makeCNN(generator: g)
        XCTAssertEqual(
            net.stateDict().names,
            ["body.0.weight", "body.0.bias", "body.3.weight", "body.3.bias", "head.0.weight", "head.0.bias"])
        XCTAssertEqual(net.parameterCount, 8 * 3 * 9 + 8 + 16 * 8 * 9 + 16 + 64 * 10 + 10)
        let features = try net.features(Tensor.zeros([2, 3, 16, 16]))
        XCTAssertEqual(features.shape, [2, 64])
        XCTAssertEqual(try net(Tensor.zeros([2, 3, 16, 16])).shape, [2, 10])

        let bnNet = try Network(
            body: [Linear(4, 3, generator: g), BatchNorm(3), Activation.relu],
            head: [Dropout(0.5, generator: g), Linear(3, 2, bias: false, generator: g)], generator: g)
        XCTAssertEqual(
            bnNet.namedParameters.map(\.name),
            ["body.0.weight", "body.0.bias", "body.1.weight", "body.1.bias", "head.1.weight"])
        XCTAssertEqual(bnNet.namedBuffers.map(\.name), ["body.1.running_mean", "body.1.running_var"])
        XCTAssertEqual(bnNet.stateDict().names.count, 7)
        XCTAssertEqual(bnNet.stateDict().under("head").names, ["head.1.weight"])
    }

    func testEmbeddingEncoderSplit() throws {
        let g = RandomGenerator(seed: 2)
        let net = try Network(
            body: [
                Embedding(vocabulary: 10, dimension: 4, generator: g),
                LSTM(inputs: 4, hidden: 5, layers: 2, generator: g),
            ],
            head: [Linear(5, 3, generator: g)], generator: g, encoderLayers: 1)
        let tokens = try Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
        let embedded = try net.encode(tokens)
        XCTAssertEqual(embedded.shape, [2, 3, 4])
        let direct = try net(tokens)
        XCTAssertEqual(direct.shape, [2, 3])
        assertClose(try net.forward(embedded: embedded).floats(), try direct.floats().map(Double.init), tolerance: 1e-6)
        XCTAssertEqual(
            net.namedParameters.map(\.name),
            [
                "body.0.weight",
                "body.1.weight_ih_l0", "body.1.weight_hh_l0", "body.1.bias_ih_l0", "body.1.bias_hh_l0",
                "body.1.weight_ih_l1", "body.1.weight_hh_l1", "body.1.bias_ih_l1", "body.1.bias_hh_l1",
                "head.0.weight", "head.0.bias",
            ])
        let sequence = try LSTM(inputs: 4, hidden: 5, returnsSequence: true, generator: g)
        XCTAssertEqual(try sequence(embedded).shape, [2, 3, 5])
    }

    func testBatchNormRunningStatistics() throws {
        let bn = try BatchNorm(2, momentum: 0.1)
        let rows: [[Double]] = [[1, 10], [2, 20], [3, 60], [6, 30]]
        let x = try Tensor(rows.flatMap { $0.map(Float.init) }, shape: [4, 2])
        let y = try bn(x)
        // Training: normalised with the batch statistics (biased variance).
        for c in 0..<2 {
            let column = rows.map { $0[c] }
            let mean = column.reduce(0, +) / 4
            let biased = column.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 4
            let unbiased = biased * 4 / 3
            let expected = column.map { ($0 - mean) / (biased + 1e-5).squareRoot() }
            assertClose(try y.select(dim: 1, c).floats(), expected, tolerance: 1e-4, "train output channel \(c)")
            // Running stats: (1 - m) * old + m * batch (unbiased variance), as torch.
            XCTAssertEqual(Double(try bn.runningMean.floats()[c]), 0.1 * mean, accuracy: 1e-4)
            XCTAssertEqual(Double(try bn.runningVar.floats()[c]), 0.9 + 0.1 * unbiased, accuracy: 1e-3)
        }
        // Eval: uses the running statistics and leaves them unchanged.
        let meanBefore = try bn.runningMean.floats(), varBefore = try bn.runningVar.floats()
        try withoutGrad {
            try bn.weight.fill_(2); try bn.bias.fill_(0.5)
        }
        bn.setTraining(false)
        let z = try bn(x)
        XCTAssertEqual(try bn.runningMean.floats(), meanBefore)
        XCTAssertEqual(try bn.runningVar.floats(), varBefore)
        for c in 0..<2 {
            let expected = rows.map {
                (($0[c] - Double(meanBefore[c])) / (Double(varBefore[c]) + 1e-5).squareRoot()) * 2 + 0.5
            }
            assertClose(try z.select(dim: 1, c).floats(), expected, tolerance: 1e-4, "eval output channel \(c)")
        }
    }

    /// torch's `affine=False`: no parameters and no saved weight or bias, only normalisation.
    func testBatchNormWithoutAffineParameters() throws {
        let bn = try BatchNorm(2, affine: false)
        XCTAssertTrue(bn.parameters.isEmpty)
        XCTAssertEqual(bn.stateDict().names, ["running_mean", "running_var"])
        let rows: [[Double]] = [[1, 10], [2, 20], [3, 60], [6, 30]]
        let y = try bn(Tensor(rows.flatMap { $0.map(Float.init) }, shape: [4, 2]))
        for c in 0..<2 {
            let column = rows.map { $0[c] }
            let mean = column.reduce(0, +) / 4
            let biased = column.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 4
            assertClose(try y.select(dim: 1, c).floats(), column.map { ($0 - mean) / (biased + 1e-5).squareRoot() },
                        tolerance: 1e-4, "channel \(c)")
        }
    }

    func testBatchNorm2dRunningStatistics() throws {
        let bn = try BatchNorm(3, momentum: 0.5)
        let g = RandomGenerator(seed: 3)
        let x = try Tensor.randn([4, 3, 2, 2], generator: g) * 2 + 1
        _ = try bn(x)
        let values = try x.permuted([1, 0, 2, 3]).reshaped([3, -1])
        let mean = try values.mean(dims: [1]).floats()
        let unbiased = try values.variance(dims: [1]).floats()
        assertClose(try bn.runningMean.floats(), mean.map { 0.5 * Double($0) }, tolerance: 1e-5)
        assertClose(try bn.runningVar.floats(), unbiased.map { 0.5 + 0.5 * Double($0) }, tolerance: 1e-4)
        bn.setTraining(false)
        let out = try bn(x)
        let expected = try
            ((x - bn.runningMean.reshaped([1, 3, 1, 1])) / (bn.runningVar.reshaped([1, 3, 1, 1]) + 1e-5).sqrt())
            .floats()
        assertClose(try out.floats(), expected.map(Double.init), tolerance: 1e-5)
    }

    func testDropoutTrainAndEval() throws {
        let g = RandomGenerator(seed: 4)
        let dropout = Dropout(0.5, generator: g)
        let x = try Tensor.ones([1000])
        let y = try dropout(x).floats()
        XCTAssertTrue(y.allSatisfy { $0 == 0 || $0 == 2 }, "inverted dropout scales kept values by 1/(1-p)")
        let kept = y.filter { $0 == 2 }.count
        XCTAssertTrue((400...600).contains(kept), "kept \(kept) of 1000")
        // Setting training on a container reaches the dropout layer.
        let net = Network(body: [dropout], head: [], generator: g)
        net.setTraining(false)
        XCTAssertEqual(try net(x).floats(), try x.floats())
        net.setTraining(true)
        XCTAssertNotEqual(try net(x).floats(), try x.floats())
        XCTAssertThrowsError(try F.dropout(x, p: 1, training: true, generator: g))
        XCTAssertEqual(try F.dropout(x, p: 0, training: true, generator: g).floats(), try x.floats())
    }

    func testLayerLoadAndZeroGrad() throws {
        let g = RandomGenerator(seed: 5)
        let a = try Linear(3, 2, generator: g)
        let b = try Linear(3, 2, generator: g)
        XCTAssertNotEqual(try a.weight.floats(), try b.weight.floats())
        try b.load(a.stateDict())
        XCTAssertEqual(try a.weight.floats(), try b.weight.floats())
        XCTAssertEqual(try a.bias!.floats(), try b.bias!.floats())
        XCTAssertTrue(b.weight.requiresGrad, "loading keeps parameters trainable")
        try b(Tensor.ones([1, 3])).sum().backward()
        XCTAssertNotNil(b.weight.grad)
        try b.zeroGrad()
        XCTAssertNil(b.weight.grad)
        XCTAssertNil(b.bias!.grad)
    }

    func testInitialisationBounds() throws {
        let g = RandomGenerator(seed: 6)
        let conv = try Conv2d(4, 8, kernel: 3, generator: g)
        let bound = Float(1 / (4.0 * 9).squareRoot())
        XCTAssertTrue(try conv.weight.floats().allSatisfy { Swift.abs($0) <= bound })
        XCTAssertTrue(try conv.bias!.floats().allSatisfy { Swift.abs($0) <= bound })
        let linear = try Linear(100, 10, generator: g)
        XCTAssertTrue(try linear.weight.floats().allSatisfy { Swift.abs($0) <= 0.1 })
        XCTAssertGreaterThan(try linear.weight.abs().max().item(), 0.09)
    }

    func testPoolingAndReshapeLayers() throws {
        let x = try Tensor((0..<16).map(Float.init), shape: [1, 1, 4, 4])
        try assertClose(Pool2d(.max, kernel: 2)(x), [5, 7, 13, 15], shape: [1, 1, 2, 2])
        try assertClose(Pool2d(.average, kernel: 2)(x), [2.5, 4.5, 10.5, 12.5], shape: [1, 1, 2, 2])
        try assertClose(Pool2d(.max, kernel: 2, stride: 1)(x), [5, 6, 7, 9, 10, 11, 13, 14, 15], shape: [1, 1, 3, 3])
        XCTAssertEqual(try Reshape([4, 4])(x.reshaped([1, 16])).shape, [1, 4, 4])
        XCTAssertEqual(try Flatten()(x).shape, [1, 16])
    }
}
