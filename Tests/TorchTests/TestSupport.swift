import Foundation
import XCTest

@testable import Torch

/// Element-wise |actual - expected| <= tolerance, with a message naming the first mismatch.
func assertClose(
    _ actual: [Float], _ expected: [Double], tolerance: Double = 1e-5, _ message: String = "",
    file: StaticString = #filePath, line: UInt = #line
) {
    guard actual.count == expected.count else {
        XCTFail("\(message): \(actual.count) values, expected \(expected.count)", file: file, line: line)
        return
    }
    for (i, (a, e)) in zip(actual, expected).enumerated() where !(Swift.abs(Double(a) - e) <= tolerance) {
        XCTFail(
            "\(message): element \(i) is \(a), expected \(e) (tolerance \(tolerance)); all: \(actual)", file: file,
            line: line)
        return
    }
}

func assertClose(
    _ actual: Tensor, _ expected: [Double], shape: [Int]? = nil, tolerance: Double = 1e-5, _ message: String = "",
    file: StaticString = #filePath, line: UInt = #line
) throws {
    if let shape { XCTAssertEqual(actual.shape, shape, "\(message): shape", file: file, line: line) }
    assertClose(try actual.floats(), expected, tolerance: tolerance, message, file: file, line: line)
}

/// Deterministic pseudo-random doubles in [lo, hi) (SplitMix64), independent of torch's generators.
struct TestRandom {
    var state: UInt64
    init(_ seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform(_ lo: Double = 0, _ hi: Double = 1) -> Double {
        lo + (hi - lo) * Double(next() >> 11) / Double(1 << 53)
    }
    mutating func floats(_ n: Int, _ lo: Double = -1, _ hi: Double = 1) -> [Float] {
        (0..<n).map { _ in Float(uniform(lo, hi)) }
    }
    /// Values with |v| in [gap, 1 + gap): away from kinks at 0 (relu, abs, l1).
    mutating func awayFromZero(_ n: Int, gap: Double = 0.2) -> [Float] {
        (0..<n).map { _ in
            let m = uniform(gap, 1 + gap)
            return Float(next() & 1 == 0 ? m : -m)
        }
    }
    /// A shuffled, evenly spaced sequence: distinct values `spacing` apart (for max / max-pool).
    mutating func distinct(_ n: Int, spacing: Double = 0.1) -> [Float] {
        var values = (0..<n).map { Float(Double($0) * spacing - Double(n) * spacing / 2) }
        for i in stride(from: n - 1, to: 0, by: -1) {
            let j = Int(next() % UInt64(i + 1))
            values.swapAt(i, j)
        }
        return values
    }
}

/// One differentiable input of a gradient check.
struct GradInput {
    var values: [Float]
    var shape: [Int]
    init(_ values: [Float], _ shape: [Int]) {
        precondition(values.count == shape.reduce(1, *), "values do not fill \(shape)")
        self.values = values
        self.shape = shape
    }
    init(random shape: [Int], seed: UInt64, lo: Double = -1, hi: Double = 1) {
        var r = TestRandom(seed)
        self.init(r.floats(shape.reduce(1, *), lo, hi), shape)
    }
}

/// Compares autograd's gradients with central finite differences.
///
/// `f` maps the inputs to a tensor of any shape; the checked scalar is sum_j w_j * f_j with
/// fixed pseudo-random weights w (so that e.g. softmax or batch-norm outputs, whose plain sum
/// is constant, still give non-trivial gradients). The forward values are read back as float32
/// and combined in Double; the step is the exact float32 distance between x+eps and x-eps.
func checkGradients(
    _ name: String, _ inputs: [GradInput], eps: Double = 1e-2, atol: Double = 2e-3, rtol: Double = 1e-2,
    file: StaticString = #filePath, line: UInt = #line, _ f: ([Tensor]) throws -> Tensor
) throws {
    let failures = try gradientMismatches(inputs, eps: eps, atol: atol, rtol: rtol, f)
    if !failures.isEmpty {
        XCTFail(
            "\(name): \(failures.count) gradient mismatches:\n" + failures.prefix(8).joined(separator: "\n"),
            file: file, line: line)
    }
}

/// The elements where autograd and central differences disagree (empty when they agree).
func gradientMismatches(
    _ inputs: [GradInput], eps: Double = 1e-2, atol: Double = 2e-3, rtol: Double = 1e-2,
    _ f: ([Tensor]) throws -> Tensor
) throws -> [String] {
    // Analytic gradients.
    let leaves = try inputs.map { try Tensor($0.values, shape: $0.shape).requiringGrad() }
    let out = try f(leaves)
    guard out.dtype == .float32 else { return ["output is \(out.dtype), expected float32"] }
    var rng = TestRandom(0xC0FFEE)
    let weights: [Double] = (0..<out.count).map { _ in
        let w = rng.uniform(0.5, 1.5)
        return rng.next() & 1 == 0 ? w : -w
    }
    let weightTensor = try Tensor(weights.map { Float($0) }, shape: out.shape)
    try (out * weightTensor).sum().backward()
    let analytic: [[Float]] = try leaves.enumerated().map { i, leaf in
        try leaf.grad?.floats() ?? [Float](repeating: 0, count: inputs[i].values.count)
    }

    func objective(_ perturbed: [GradInput]) throws -> Double {
        try withoutGrad {
            let ts = try perturbed.map { try Tensor($0.values, shape: $0.shape) }
            let values = try f(ts).floats()
            precondition(values.count == weights.count, "output size changed")
            return zip(values, weights).reduce(0) { $0 + Double($1.0) * $1.1 }
        }
    }

    var failures: [String] = []
    for i in inputs.indices {
        guard analytic[i].count == inputs[i].values.count else {
            failures.append(
                "input \(i): gradient has \(analytic[i].count) elements, expected \(inputs[i].values.count)")
            continue
        }
        for k in inputs[i].values.indices {
            var plus = inputs, minus = inputs
            let x = inputs[i].values[k]
            plus[i].values[k] = Float(Double(x) + eps)
            minus[i].values[k] = Float(Double(x) - eps)
            let step = Double(plus[i].values[k]) - Double(minus[i].values[k])
            let numeric = (try objective(plus) - objective(minus)) / step
            let a = Double(analytic[i][k])
            if !(Swift.abs(a - numeric) <= atol + rtol * Swift.abs(numeric)) {
                failures.append("input \(i) element \(k): autograd \(a), finite difference \(numeric)")
            }
        }
    }
    return failures
}
