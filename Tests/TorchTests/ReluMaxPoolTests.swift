import XCTest

@testable import Torch

/// `F.reluMaxPool2d` (max_pool.cpp) must give exactly the values and gradients of
/// `F.maxPool2d(F.relu(x))`, and `Sequential` must use it for every ReLU followed by max pooling.
final class ReluMaxPoolTests: XCTestCase {
    /// Values, input gradient of sum(upstream * out), and the output shape, through `op`.
    func run(_ op: (Tensor) throws -> Tensor, _ x: [Float], _ shape: [Int], upstream seed: UInt64)
        throws -> (values: [Float], gradient: [Float], shape: [Int])
    {
        let input = try Tensor(x, shape: shape).requiringGrad()
        let out = try op(input)
        var random = TestRandom(seed)
        let upstream = (0..<out.shape.reduce(1, *)).map { _ in Float(random.uniform(0.5, 1.5)) }
        try (out * Tensor(upstream, shape: out.shape)).sum().backward()
        return (try out.floats(), try XCTUnwrap(input.grad).floats(), out.shape)
    }

    /// Both kernel sets: the AVX-512 ones (where the CPU has them) and the portable ones.
    func testBitIdenticalToReluThenMaxPool() throws {
        try checkBitIdenticalToReluThenMaxPool()
        let wide = F.setWidePoolingKernels(false)
        defer { F.setWidePoolingKernels(wide) }
        try checkBitIdenticalToReluThenMaxPool()
        try checkNaNPropagates()
    }

    func checkBitIdenticalToReluThenMaxPool() throws {
        var random = TestRandom(7)
        // 2x2 (the fast path) with output rows of 3, 7, 14 (cnn-fmnist's), 16 and 20 (one and
        // two vectors of 16), 3x3, odd sizes that drop a row and a column, a 1x1 window.
        let shapes = [
            ([3, 4, 8, 6], 2), ([2, 3, 7, 9], 2), ([2, 3, 14, 14], 2), ([1, 2, 28, 28], 2), ([1, 2, 4, 32], 2),
            ([1, 2, 5, 41], 2), ([2, 2, 9, 7], 3), ([1, 2, 3, 3], 1),
        ]
        for (shape, kernel) in shapes {
            let count = shape.reduce(1, *)
            // Many exact ties and zeros: a third of the values are 0, some windows are all negative.
            let x = (0..<count).map { i -> Float in
                let v = Float(random.uniform(-1, 1))
                return v < -0.33 ? 0 : (i % 7 == 0 ? 0.25 : v)
            }
            let label = "shape \(shape) kernel \(kernel)"
            let fused = try run({ try F.reluMaxPool2d($0, kernel: kernel) }, x, shape, upstream: 3)
            let plain = try run({ try F.maxPool2d(F.relu($0), kernel: kernel) }, x, shape, upstream: 3)
            XCTAssertEqual(fused.shape, plain.shape, label)
            XCTAssertEqual(fused.values, plain.values, label)
            XCTAssertEqual(fused.gradient, plain.gradient, label)
            XCTAssertTrue(fused.values.allSatisfy { $0 >= 0 }, label)

            let noGrad = try withoutGrad { try F.reluMaxPool2d(Tensor(x, shape: shape), kernel: kernel) }
            XCTAssertEqual(try noGrad.floats(), plain.values, "\(label), no grad")
        }
    }

    func testAllNegativeWindowsPassNoGradient() throws {
        let x: [Float] = [-1, -2, -3, -4, 5, -1, 2, 5]  // two windows: all negative, then a tie at 5
        let fused = try run({ try F.reluMaxPool2d($0, kernel: 2) }, x, [1, 2, 2, 2], upstream: 1)
        XCTAssertEqual(fused.values, [0, 5])
        // The tie goes to the first 5 (row-major), as at::max_pool2d picks.
        XCTAssertEqual(fused.gradient.enumerated().filter { $0.element != 0 }.map(\.offset), [4])
    }

    func testOverlappingWindowsAndPaddingTakeTheTwoOps() throws {
        var random = TestRandom(11)
        let shape = [2, 3, 7, 7]
        let x = random.floats(shape.reduce(1, *))
        for (kernel, stride, padding) in [(3, 2, 0), (2, 2, 1), (3, 1, 1)] {
            let label = "kernel \(kernel) stride \(stride) padding \(padding)"
            let fused = try run({ try F.reluMaxPool2d($0, kernel: kernel, stride: stride, padding: padding) }, x, shape, upstream: 5)
            let plain = try run({ try F.maxPool2d(F.relu($0), kernel: kernel, stride: stride, padding: padding) }, x, shape, upstream: 5)
            XCTAssertEqual(fused.values, plain.values, label)
            XCTAssertEqual(fused.gradient, plain.gradient, label)
        }
    }

    /// NaN in some windows (the 2x2 kernel redoes such a row by the generic scan), in the first
    /// and in later rows of a plane, one window with two NaNs.
    func testNaNPropagatesAsInTheTwoOps() throws { try checkNaNPropagates() }

    func checkNaNPropagates() throws {
        var random = TestRandom(5)
        for (shape, kernel) in [([2, 3, 6, 8], 2), ([1, 2, 9, 9], 3), ([1, 2, 6, 40], 2)] {
            var x = random.floats(shape.reduce(1, *))
            for index in [1, 3, 2 * shape[3] + 5, 4 * shape[3] + 4, 4 * shape[3] + 5, x.count - 1] { x[index] = .nan }
            let fused = try run({ try F.reluMaxPool2d($0, kernel: kernel) }, x, shape, upstream: 2)
            let plain = try run({ try F.maxPool2d(F.relu($0), kernel: kernel) }, x, shape, upstream: 2)
            XCTAssertEqual(fused.values.map(\.bitPattern), plain.values.map(\.bitPattern), "shape \(shape)")
            XCTAssertEqual(fused.gradient.map(\.bitPattern), plain.gradient.map(\.bitPattern), "shape \(shape)")
            XCTAssertTrue(fused.values.contains { $0.isNaN })
        }
    }

    /// A network with conv - ReLU - pool blocks gives the same output and parameter gradients as
    /// the same layers applied one by one (which never fuses).
    func testSequentialFusesReluThenMaxPool() throws {
        let generator = RandomGenerator(seed: 3)
        let layers: [any Layer] = [
            try Conv2d(1, 4, kernel: 3, padding: 1, generator: generator), Activation.relu, Pool2d(.max, kernel: 2),
            try Conv2d(4, 6, kernel: 3, padding: 1, generator: generator), Activation.relu, Pool2d(.max, kernel: 2),
            Flatten(), try Linear(6 * 2 * 2, 3, generator: generator),
        ]
        let sequential = Sequential(layers)
        var random = TestRandom(9)
        let x = try Tensor(random.floats(5 * 1 * 8 * 8), shape: [5, 1, 8, 8])
        let parameters = sequential.parameters

        let fused = try sequential.forward(x)
        try fused.sum().backward()
        let fusedGradients = try parameters.map { try XCTUnwrap($0.grad).floats() }
        for p in parameters { try p.zeroGrad() }

        var y = x
        for layer in layers { y = try layer.forward(y) }
        try y.sum().backward()
        XCTAssertEqual(try fused.floats(), try y.floats())
        XCTAssertEqual(fusedGradients, try parameters.map { try XCTUnwrap($0.grad).floats() })
    }
}
