import Foundation
import XCTest

@testable import Torch

/// Finite-difference checks of autograd for every differentiable operation FedKit uses.
final class GradientTests: XCTestCase {
    /// The checker itself must catch a wrong gradient (here: a factor treated as a constant).
    func testCheckerDetectsWrongGradients() throws {
        let x = GradInput(random: [2, 3], seed: 99, lo: 0.5, hi: 1.5)
        let wrong = try gradientMismatches([x]) { try $0[0] * $0[0].detached() }
        XCTAssertEqual(wrong.count, 6, "\(wrong)")
        XCTAssertTrue(try gradientMismatches([x]) { try $0[0] * $0[0] }.isEmpty)
        // A gradient off by 3 % is caught too.
        let scaled = try gradientMismatches([x]) { try $0[0] * 0.97 + $0[0].detached() * 0.03 }
        XCTAssertFalse(scaled.isEmpty)
    }

    // MARK: Element-wise arithmetic (with broadcasting)

    func testAddSubMulDiv() throws {
        let a = GradInput(random: [2, 3], seed: 1)
        let b = GradInput(random: [3], seed: 2)
        let positive = GradInput(random: [2, 1], seed: 3, lo: 0.5, hi: 2)
        try checkGradients("add", [a, b]) { try $0[0] + $0[1] }
        try checkGradients("sub", [a, b]) { try $0[0] - $0[1] }
        try checkGradients("mul", [a, b]) { try $0[0] * $0[1] }
        try checkGradients("div", [a, positive]) { try $0[0] / $0[1] }
        try checkGradients("scalar ops", [a]) { try (2 - $0[0] * 3 + 1) / 4 }
        try checkGradients("scalar / tensor", [positive]) { try 2 / $0[0] }
        try checkGradients("neg", [a]) { try -$0[0] }
    }

    func testPowExpLogSqrtAbsSquare() throws {
        let x = GradInput(random: [2, 3], seed: 4)
        let positive = GradInput(random: [2, 3], seed: 5, lo: 0.5, hi: 2)
        var r = TestRandom(6)
        let signed = GradInput(r.awayFromZero(6), [2, 3])
        try checkGradients("pow 3", [x]) { try $0[0].pow(3) }
        try checkGradients("pow 2.5", [positive]) { try $0[0].pow(2.5) }
        try checkGradients("exp", [x]) { try $0[0].exp() }
        try checkGradients("log", [positive]) { try $0[0].log() }
        try checkGradients("sqrt", [positive]) { try $0[0].sqrt() }
        try checkGradients("abs", [signed]) { try $0[0].abs() }
        try checkGradients("square", [x]) { try $0[0].square() }
        try checkGradients("reciprocal", [positive]) { try $0[0].reciprocal() }
        try checkGradients("clamp", [signed]) { try $0[0].clamp(min: -0.5, max: 0.5) }
    }

    // MARK: Reductions and products

    func testSumMean() throws {
        let x = GradInput(random: [2, 3, 2], seed: 7)
        try checkGradients("sum", [x]) { try $0[0].sum() }
        try checkGradients("sum dims", [x]) { try $0[0].sum(dims: [0, 2]) }
        try checkGradients("sum keepDim", [x]) { try $0[0].sum(dims: [1], keepDim: true) }
        try checkGradients("mean", [x]) { try $0[0].mean() }
        try checkGradients("mean dims", [x]) { try $0[0].mean(dims: [1]) }
        try checkGradients("logsumexp", [x]) { try $0[0].logSumExp(dims: [2]) }
        var r = TestRandom(8)
        let distinct = GradInput(r.distinct(12), [3, 4])
        try checkGradients("max dim", [distinct]) { try $0[0].max(dim: 1) }
        try checkGradients("min dim", [distinct]) { try $0[0].min(dim: 0) }
    }

    func testMatmul() throws {
        let a = GradInput(random: [2, 3], seed: 9)
        let b = GradInput(random: [3, 4], seed: 10)
        let batched = GradInput(random: [2, 2, 3], seed: 11)
        let v = GradInput(random: [3], seed: 12)
        try checkGradients("matmul 2d", [a, b]) { try $0[0].matmul($0[1]) }
        try checkGradients("matmul batched", [batched, b]) { try $0[0].matmul($0[1]) }
        try checkGradients("matmul vector", [a, v]) { try $0[0].matmul($0[1]) }
    }

    /// L1 runs FedKit's own kernels (pairwise_l1.cpp), L2 at::cdist. Values are spaced 0.1 apart
    /// so that no difference a_i - b_j changes sign within the finite-difference step; rows of 19
    /// cover one 16-lane block and a tail.
    func testPairwiseDistances() throws {
        var r = TestRandom(31)
        let values = r.distinct(7 * 19)
        let a = GradInput(Array(values[..<76]), [4, 19])
        let b = GradInput(Array(values[76...]), [3, 19])
        try checkGradients("l1", [a, b]) { try $0[0].pairwiseDistances($0[1], p: 1) }
        try checkGradients("l1 of a matrix with itself", [a]) { try $0[0].pairwiseDistances($0[0], p: 1) }
        try checkGradients("l2", [a, b]) { try $0[0].pairwiseDistances($0[1]) }
    }

    func testBatchedMatrixProducts() throws {
        let a = GradInput(random: [3, 2, 4], seed: 91)
        let b = GradInput(random: [3, 4, 5], seed: 92)
        let bias = GradInput(random: [3, 1, 5], seed: 93)
        try checkGradients("bmm", [a, b]) { try F.bmm($0[0], $0[1]) }
        try checkGradients("baddbmm", [bias, a, b]) { try F.baddbmm($0[0], $0[1], $0[2]) }
        // A transposed (strided) right operand, as stacked linear layers pass their weights.
        let w = GradInput(random: [3, 5, 4], seed: 94)
        try checkGradients("baddbmm transposed", [bias, a, w]) { try F.baddbmm($0[0], $0[1], $0[2].transposed(1, 2)) }
    }

    // MARK: Layers

    func testLinear() throws {
        let x = GradInput(random: [3, 4], seed: 13)
        let w = GradInput(random: [2, 4], seed: 14)
        let b = GradInput(random: [2], seed: 15)
        try checkGradients("linear", [x, w, b]) { try F.linear($0[0], weight: $0[1], bias: $0[2]) }
        try checkGradients("linear without bias", [x, w]) { try F.linear($0[0], weight: $0[1], bias: nil) }
        let x3 = GradInput(random: [2, 2, 4], seed: 16)
        try checkGradients("linear 3-d", [x3, w, b]) { try F.linear($0[0], weight: $0[1], bias: $0[2]) }
    }

    func testConv2d() throws {
        let x = GradInput(random: [2, 2, 5, 5], seed: 17)
        let w = GradInput(random: [3, 2, 3, 3], seed: 18)
        let b = GradInput(random: [3], seed: 19)
        try checkGradients("conv2d", [x, w, b]) { try F.conv2d($0[0], weight: $0[1], bias: $0[2]) }
        try checkGradients("conv2d stride 2 padding 1", [x, w, b]) {
            try F.conv2d($0[0], weight: $0[1], bias: $0[2], stride: 2, padding: 1)
        }
        let wg = GradInput(random: [2, 1, 2, 2], seed: 20)
        try checkGradients("conv2d groups 2, no bias", [x, wg]) {
            try F.conv2d($0[0], weight: $0[1], bias: nil, padding: 1, groups: 2)
        }
    }

    func testPooling() throws {
        var r = TestRandom(21)
        let x = GradInput(r.distinct(2 * 2 * 4 * 4), [2, 2, 4, 4])
        try checkGradients("maxPool2d", [x]) { try F.maxPool2d($0[0], kernel: 2) }
        try checkGradients("maxPool2d stride 1 padding 1", [x]) {
            try F.maxPool2d($0[0], kernel: 3, stride: 1, padding: 1)
        }
        let y = GradInput(random: [1, 2, 5, 5], seed: 22)
        try checkGradients("avgPool2d", [y]) { try F.avgPool2d($0[0], kernel: 2) }
        try checkGradients("avgPool2d stride 2 padding 1", [y]) {
            try F.avgPool2d($0[0], kernel: 3, stride: 2, padding: 1)
        }
        try checkGradients("adaptiveAvgPool2d", [y]) { try F.adaptiveAvgPool2d($0[0], height: 2, width: 2) }
    }

    func testActivations() throws {
        var r = TestRandom(23)
        let x = GradInput(r.awayFromZero(12), [3, 4])
        try checkGradients("relu", [x]) { try F.relu($0[0]) }
        try checkGradients("leakyRelu", [x]) { try F.leakyRelu($0[0], slope: 0.1) }
        try checkGradients("tanh", [x]) { try F.tanh($0[0]) }
        try checkGradients("sigmoid", [x]) { try F.sigmoid($0[0]) }
    }

    func testDropoutWithSeededMask() throws {
        let x = GradInput(random: [4, 5], seed: 24)
        // A fresh generator with one seed for every evaluation gives the same mask each time.
        let sample = try F.dropout(
            Tensor(x.values, shape: x.shape), p: 0.4, training: true, generator: RandomGenerator(seed: 5))
        let zeros = try sample.floats().filter { $0 == 0 }.count
        XCTAssertGreaterThan(zeros, 0, "dropout dropped nothing")
        XCTAssertLessThan(zeros, 20, "dropout dropped everything")
        try checkGradients("dropout", [x]) {
            try F.dropout($0[0], p: 0.4, training: true, generator: RandomGenerator(seed: 5))
        }
    }

    func testBatchNormTraining() throws {
        let w = GradInput(random: [3], seed: 25, lo: 0.5, hi: 1.5)
        let b = GradInput(random: [3], seed: 26)
        let x1 = GradInput(random: [6, 3], seed: 27, lo: -2, hi: 2)
        try checkGradients("batchNorm 1d", [x1, w, b], atol: 5e-3) {
            try F.batchNorm($0[0], weight: $0[1], bias: $0[2], runningMean: nil, runningVar: nil, training: true)
        }
        try checkGradients("batchNorm 1d with running stats", [x1, w, b], atol: 5e-3) {
            try F.batchNorm(
                $0[0], weight: $0[1], bias: $0[2], runningMean: Tensor.zeros([3]), runningVar: Tensor.ones([3]),
                training: true)
        }
        let x2 = GradInput(random: [2, 3, 2, 2], seed: 28, lo: -2, hi: 2)
        try checkGradients("batchNorm 2d", [x2, w, b], atol: 5e-3) {
            try F.batchNorm($0[0], weight: $0[1], bias: $0[2], runningMean: nil, runningVar: nil, training: true)
        }
        try checkGradients("batchNorm eval", [x2, w, b]) {
            try F.batchNorm(
                $0[0], weight: $0[1], bias: $0[2], runningMean: Tensor([Float(0.1), -0.2, 0.3]),
                runningVar: Tensor([Float(1.5), 0.8, 1.2]), training: false)
        }
    }

    func testEmbedding() throws {
        let w = GradInput(random: [5, 3], seed: 29)
        let indices = try Tensor([0, 2, 4, 2, 2, 1], shape: [2, 3])  // repeated rows accumulate
        try checkGradients("embedding", [w]) { try F.embedding(indices, weight: $0[0]) }
    }

    func testLSTM() throws {
        let hidden = 2
        func params(_ layer: Int, inputs: Int) -> [GradInput] {
            let s = UInt64(40 + 4 * layer)
            return [
                GradInput(random: [4 * hidden, inputs], seed: s, lo: -0.7, hi: 0.7),
                GradInput(random: [4 * hidden, hidden], seed: s + 1, lo: -0.7, hi: 0.7),
                GradInput(random: [4 * hidden], seed: s + 2, lo: -0.7, hi: 0.7),
                GradInput(random: [4 * hidden], seed: s + 3, lo: -0.7, hi: 0.7),
            ]
        }
        let x = GradInput(random: [2, 3, 3], seed: 30)
        func joined(_ r: (output: Tensor, h: Tensor, c: Tensor)) throws -> Tensor {
            try Tensor.cat([r.output.reshaped([-1]), r.h.reshaped([-1]), r.c.reshaped([-1])])
        }
        try checkGradients("lstm 1 layer", [x] + params(0, inputs: 3)) {
            try joined(F.lstm($0[0], parameters: Array($0[1...]), layers: 1))
        }
        let h0 = GradInput(random: [2, 2, hidden], seed: 31)
        let c0 = GradInput(random: [2, 2, hidden], seed: 32)
        try checkGradients(
            "lstm 2 layers with initial state", [x, h0, c0] + params(0, inputs: 3) + params(1, inputs: hidden)
        ) {
            try joined(F.lstm($0[0], parameters: Array($0[3...]), layers: 2, initial: ($0[1], $0[2])))
        }
    }

    func testSoftmaxes() throws {
        let x = GradInput(random: [3, 4], seed: 33, lo: -2, hi: 2)
        try checkGradients("logSoftmax", [x]) { try F.logSoftmax($0[0], dim: 1) }
        try checkGradients("logSoftmax dim 0", [x]) { try F.logSoftmax($0[0], dim: 0) }
        try checkGradients("softmax", [x]) { try F.softmax($0[0], dim: -1) }
        try checkGradients("softmax dim 0", [x]) { try F.softmax($0[0], dim: 0) }
    }

    // MARK: Losses

    func testClassificationLosses() throws {
        let logits = GradInput(random: [4, 3], seed: 34, lo: -2, hi: 2)
        let targets = try Tensor([2, 0, 1, 2])
        try checkGradients("crossEntropy", [logits]) { try Loss.crossEntropy($0[0], targets: targets) }
        try checkGradients("crossEntropy sum", [logits]) {
            try Loss.crossEntropy($0[0], targets: targets, reduction: .sum)
        }
        try checkGradients("crossEntropy none", [logits]) {
            try Loss.crossEntropy($0[0], targets: targets, reduction: .none)
        }
        try checkGradients("crossEntropy label smoothing", [logits]) {
            try Loss.crossEntropy($0[0], targets: targets, labelSmoothing: 0.1)
        }
        try checkGradients("nll", [logits]) { try Loss.nll(F.logSoftmax($0[0], dim: 1), targets: targets) }
    }

    func testDistillationLosses() throws {
        let student = GradInput(random: [3, 4], seed: 35, lo: -2, hi: 2)
        let teacherValues = GradInput(random: [3, 4], seed: 36, lo: -2, hi: 2)
        let teacher = try Tensor(teacherValues.values, shape: teacherValues.shape)
        for t in [1.0, 2.0, 4.0] {
            try checkGradients("distillationKL T=\(t)", [student]) {
                try Loss.distillationKL(student: $0[0], teacher: teacher, temperature: t)
            }
        }
        // The teacher is a constant: no gradient reaches it.
        let s = try Tensor(student.values, shape: student.shape).requiringGrad()
        let tg = try Tensor(teacherValues.values, shape: teacherValues.shape).requiringGrad()
        try Loss.distillationKL(student: s, teacher: tg, temperature: 2).backward()
        XCTAssertNil(tg.grad)
        XCTAssertNotNil(s.grad)

        try checkGradients("klDivergence", [teacherValues, student]) {
            try Loss.klDivergence(logP: F.logSoftmax($0[0], dim: 1), logQ: F.logSoftmax($0[1], dim: 1))
        }
    }

    func testRegressionLosses() throws {
        let a = GradInput(random: [2, 3], seed: 37)
        var r = TestRandom(38)
        let offsets = r.awayFromZero(6)
        let b = GradInput(zip(a.values, offsets).map { $0 + $1 }, [2, 3])  // |a - b| >= 0.2
        for reduction in [Reduction.mean, .sum, .none] {
            try checkGradients("mse \(reduction)", [a, b]) { try Loss.mse($0[0], $0[1], reduction: reduction) }
            try checkGradients("l1 \(reduction)", [a, b]) { try Loss.l1($0[0], $0[1], reduction: reduction) }
        }
    }

    // MARK: Shape and indexing

    func testShapeOps() throws {
        let x = GradInput(random: [3, 4], seed: 39)
        try checkGradients("slice", [x]) { try $0[0].slice(dim: 1, 1..<4, step: 2) }
        try checkGradients("select", [x]) { try $0[0].select(dim: 0, 1) }
        try checkGradients("indexSelect", [x]) { try $0[0].indexSelect(dim: 0, Tensor([2, 0, 2])) }
        try checkGradients("rows", [x]) { try $0[0].rows([1, 1]) }
        try checkGradients("gather", [x]) { try $0[0].gather(dim: 1, Tensor([3, 0, 0, 1, 2, 2], shape: [3, 2])) }
        try checkGradients("reshape", [x]) {
            try $0[0].reshaped([2, 6]) * Tensor((0..<12).map { Float($0) }, shape: [2, 6])
        }
        try checkGradients("view", [x]) { try $0[0].view([6, 2]) }
        try checkGradients("permute", [x]) { try $0[0].reshaped([3, 2, 2]).permuted([2, 0, 1]).contiguous() }
        try checkGradients("transpose", [x]) { try $0[0].transposed(0, 1).matmul($0[0]) }
        try checkGradients("expand", [GradInput(random: [3, 1], seed: 40)]) { try $0[0].expanded(to: [3, 4]) }
        try checkGradients("squeeze/unsqueeze", [GradInput(random: [3, 1], seed: 41)]) {
            try $0[0].squeezed(1).unsqueezed(0).square()
        }
        try checkGradients("flatten", [GradInput(random: [2, 2, 2], seed: 42)]) { try $0[0].flattened(from: 1).exp() }
        let y = GradInput(random: [2, 4], seed: 43)
        try checkGradients("cat", [x, y]) { try Tensor.cat([$0[0], $0[1], $0[0]], dim: 0) }
        try checkGradients("stack", [y, y]) { try Tensor.stack([$0[0], $0[1] * 2], dim: 1) }
        var r = TestRandom(47)
        let signed = GradInput(r.awayFromZero(12), [3, 4])
        try checkGradients("where", [signed, x]) { try $0[0].replacing(where: $0[0].gt(0), with: $0[1].square()) }
    }

    // MARK: Composite

    func testSmallNetworkEndToEnd() throws {
        let x = GradInput(random: [2, 1, 4, 4], seed: 44)
        let w1 = GradInput(random: [2, 1, 3, 3], seed: 45)
        let w2 = GradInput(random: [3, 2], seed: 46)
        let targets = try Tensor([1, 2])
        try checkGradients("conv-tanh-avgpool-linear-ce", [x, w1, w2]) {
            let h = try F.avgPool2d(F.tanh(F.conv2d($0[0], weight: $0[1], bias: nil, padding: 1)), kernel: 4)
            return try Loss.crossEntropy(F.linear(h.flattened(from: 1), weight: $0[2], bias: nil), targets: targets)
        }
    }

    func testWithoutGradRecordsNothing() throws {
        let w = try Tensor([Float(1), 2]).requiringGrad()
        XCTAssertTrue(w.requiresGrad)
        let y = try withoutGrad { try w * 2 }
        XCTAssertFalse(y.requiresGrad)
        XCTAssertTrue(try (w * 2).requiresGrad)
        XCTAssertFalse(try w.detached().requiresGrad)
        // Gradients accumulate until dropped.
        try (w * 3).sum().backward()
        try (w * 3).sum().backward()
        XCTAssertEqual(try w.grad?.floats(), [6, 6])
        try w.zeroGrad()
        XCTAssertNil(w.grad)
        // backward with an explicit upstream gradient.
        try (w * w).backward(Tensor([Float(1), 0.5]))
        XCTAssertEqual(try w.grad?.floats(), [2, 2])
    }
}
