import XCTest

@testable import Torch

/// `F.maxPool2d` runs through libtorch's channels-last kernel (ctorch.cpp `ft_max_pool2d`); its
/// values and gradients must be exactly those of a plain max pool: each window's first maximum
/// (row-major) is the one that is chosen and receives the gradient, ties included.
final class MaxPoolTests: XCTestCase {
    /// A plain max pool of [n, c, h, w] (no padding): maxima and, per input element, the gradient
    /// of sum(upstream * output).
    func naivePool(
        _ x: [Float], _ shape: [Int], kernel k: Int, stride s: Int, upstream: [Float]
    ) -> (values: [Float], gradient: [Float]) {
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        let oh = (h - k) / s + 1, ow = (w - k) / s + 1
        var values = [Float](repeating: 0, count: n * c * oh * ow)
        var gradient = [Float](repeating: 0, count: x.count)
        for plane in 0..<(n * c) {
            for i in 0..<oh {
                for j in 0..<ow {
                    var best = -Float.infinity, at = -1
                    for di in 0..<k {
                        for dj in 0..<k {
                            let index = plane * h * w + (i * s + di) * w + (j * s + dj)
                            if x[index] > best { best = x[index]; at = index }
                        }
                    }
                    let out = plane * oh * ow + i * ow + j
                    values[out] = best
                    gradient[at] += upstream[out]
                }
            }
        }
        return (values, gradient)
    }

    func testMatchesPlainMaxPoolWithTies() throws {
        var random = TestRandom(31)
        for (shape, kernel, stride) in [([3, 4, 8, 6], 2, 2), ([2, 3, 7, 7], 3, 2), ([1, 2, 5, 5], 2, 1)] {
            let count = shape.reduce(1, *)
            // ReLU-like inputs: a third of them are 0, so many windows tie (all-zero windows too).
            let x = (0..<count).map { _ -> Float in
                let v = Float(random.uniform(-1, 1))
                return v < -0.33 ? 0 : v
            }
            let oh = (shape[2] - kernel) / stride + 1, ow = (shape[3] - kernel) / stride + 1
            let upstream = (0..<(shape[0] * shape[1] * oh * ow)).map { _ in Float(random.uniform(0.5, 1.5)) }
            let expected = naivePool(x, shape, kernel: kernel, stride: stride, upstream: upstream)
            let label = "shape \(shape) kernel \(kernel) stride \(stride)"

            let input = try Tensor(x, shape: shape).requiringGrad()
            let pooled = try F.maxPool2d(input, kernel: kernel, stride: stride)
            XCTAssertEqual(pooled.shape, [shape[0], shape[1], oh, ow], label)
            XCTAssertEqual(try pooled.floats(), expected.values, label)
            try (pooled * Tensor(upstream, shape: pooled.shape)).sum().backward()
            let gradient = try XCTUnwrap(input.grad, label)
            // Overlapping windows (stride < kernel) add gradients in an order that may differ.
            for (got, want) in zip(try gradient.floats(), expected.gradient) {
                XCTAssertEqual(got, want, accuracy: stride < kernel ? 1e-6 : 0, label)
            }

            let withoutGradients = try withoutGrad { try F.maxPool2d(Tensor(x, shape: shape), kernel: kernel, stride: stride) }
            XCTAssertEqual(try withoutGradients.floats(), expected.values, "\(label), no grad")
            XCTAssertEqual(withoutGradients.shape, pooled.shape)
        }
    }

    func testUnbatchedInputStillPools() throws {
        let x = try Tensor([1, 5, 3, 2, 0, 4, 7, 6, 8, 9, 1, 1, 2, 2, 3, 0] as [Float], shape: [1, 4, 4])
        XCTAssertEqual(try F.maxPool2d(x, kernel: 2).floats(), [5, 7, 9, 3])
    }
}
