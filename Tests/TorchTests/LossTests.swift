import Foundation
import XCTest

@testable import Torch

/// Loss values against numbers computed by hand (in Double).
final class LossValueTests: XCTestCase {
    func testCrossEntropyHandComputed() throws {
        let logits = try Tensor([Float(1), 2, 3], shape: [1, 3])
        let loss = try Loss.crossEntropy(logits, targets: Tensor([2])).item()
        let expected = Foundation.log(Foundation.exp(1.0) + Foundation.exp(2) + Foundation.exp(3)) - 3
        XCTAssertEqual(loss, expected, accuracy: 1e-6)
        XCTAssertEqual(expected, 0.40760596, accuracy: 1e-7)
    }

    func testCrossEntropyReductions() throws {
        let rows: [[Double]] = [[1, 2, 3], [0.5, -1, 2], [0, 0, 0]]
        let targets = [0, 2, 1]
        let perRow = zip(rows, targets).map { row, t in Foundation.log(row.map(Foundation.exp).reduce(0, +)) - row[t] }
        let logits = try Tensor(rows.flatMap { $0.map(Float.init) }, shape: [3, 3])
        let t = try Tensor(targets)
        try assertClose(Loss.crossEntropy(logits, targets: t, reduction: .none), perRow, shape: [3], tolerance: 1e-5)
        XCTAssertEqual(
            try Loss.crossEntropy(logits, targets: t, reduction: .sum).item(), perRow.reduce(0, +), accuracy: 1e-5)
        XCTAssertEqual(try Loss.crossEntropy(logits, targets: t).item(), perRow.reduce(0, +) / 3, accuracy: 1e-5)
        // nll of log-softmax is cross-entropy.
        XCTAssertEqual(
            try Loss.nll(F.logSoftmax(logits, dim: 1), targets: t).item(), perRow.reduce(0, +) / 3, accuracy: 1e-5)
        // Label smoothing eps: (1 - eps) * CE + eps * mean_c(-log p_c).
        let eps = 0.1
        let smoothed =
            rows.enumerated().map { i, row -> Double in
                let lse = Foundation.log(row.map(Foundation.exp).reduce(0, +))
                let uniform = row.map { lse - $0 }.reduce(0, +) / 3
                return (1 - eps) * perRow[i] + eps * uniform
            }.reduce(0, +) / 3
        XCTAssertEqual(try Loss.crossEntropy(logits, targets: t, labelSmoothing: eps).item(), smoothed, accuracy: 1e-5)
    }

    func testDistillationKLHandComputed() throws {
        let student: [[Double]] = [[1, 2, 3], [0.5, -0.5, 1.5]]
        let teacher: [[Double]] = [[3, 1, 0], [0, 2, -1]]
        func softmax(_ row: [Double], _ t: Double) -> [Double] {
            let e = row.map { Foundation.exp($0 / t) }
            let z = e.reduce(0, +)
            return e.map { $0 / z }
        }
        for temperature in [1.0, 2.0, 5.0] {
            var kl = 0.0
            for (s, t) in zip(student, teacher) {
                let p = softmax(t, temperature), q = softmax(s, temperature)
                kl += zip(p, q).map { $0 * Foundation.log($0 / $1) }.reduce(0, +)
            }
            let expected = temperature * temperature * kl / 2
            let value = try Loss.distillationKL(
                student: Tensor(student.flatMap { $0.map(Float.init) }, shape: [2, 3]),
                teacher: Tensor(teacher.flatMap { $0.map(Float.init) }, shape: [2, 3]),
                temperature: temperature
            ).item()
            XCTAssertEqual(value, expected, accuracy: 1e-5, "T = \(temperature)")
        }
        // A single row at T = 2 with numbers written out: teacher [3, 1, 0], student [1, 2, 3].
        let p = softmax([3, 1, 0], 2), q = softmax([1, 2, 3], 2)
        let byHand = 4 * zip(p, q).map { $0 * (Foundation.log($0) - Foundation.log($1)) }.reduce(0, +)
        let one = try Loss.distillationKL(
            student: Tensor([Float(1), 2, 3], shape: [1, 3]),
            teacher: Tensor([Float(3), 1, 0], shape: [1, 3]), temperature: 2
        ).item()
        XCTAssertEqual(one, byHand, accuracy: 1e-5)
        // Identical logits: zero.
        let same = try Tensor([Float(1), 2, 3], shape: [1, 3])
        XCTAssertEqual(try Loss.distillationKL(student: same, teacher: same, temperature: 3).item(), 0, accuracy: 1e-6)
    }

    func testKLDivergenceAndRegressionLosses() throws {
        let p = [0.2, 0.3, 0.5], q = [0.4, 0.4, 0.2]
        let kl = zip(p, q).map { $0 * Foundation.log($0 / $1) }.reduce(0, +)
        let value = try Loss.klDivergence(
            logP: Tensor(p.map { Float(Foundation.log($0)) }, shape: [1, 3]),
            logQ: Tensor(q.map { Float(Foundation.log($0)) }, shape: [1, 3])
        ).item()
        XCTAssertEqual(value, kl, accuracy: 1e-6)

        let a = try Tensor([Float(1), 2, 3, 4], shape: [2, 2])
        let b = try Tensor([Float(0), 2, 5, 3], shape: [2, 2])
        XCTAssertEqual(try Loss.mse(a, b).item(), (1 + 0 + 4 + 1) / 4, accuracy: 1e-6)
        XCTAssertEqual(try Loss.mse(a, b, reduction: .sum).item(), 6, accuracy: 1e-6)
        try assertClose(Loss.mse(a, b, reduction: .none), [1, 0, 4, 1], shape: [2, 2])
        XCTAssertEqual(try Loss.l1(a, b).item(), (1 + 0 + 2 + 1) / 4, accuracy: 1e-6)
        XCTAssertEqual(try Loss.l1(a, b, reduction: .sum).item(), 4, accuracy: 1e-6)
    }

    func testLossShapeErrors() throws {
        let logits = try Tensor.zeros([2, 3])
        XCTAssertThrowsError(try Loss.crossEntropy(logits, targets: Tensor([0, 1, 2]))) { error in
            XCTAssertEqual("\(error)", "cross_entropy: expected logits [N, C] and targets [N], got [2, 3] and [3]")
        }
        XCTAssertThrowsError(try Loss.crossEntropy(logits, targets: Tensor([Float(0), 1]))) { error in
            XCTAssertEqual("\(error)", "cross_entropy: targets must be int64 class ids, got float32")
        }
        XCTAssertThrowsError(try Loss.crossEntropy(logits, targets: Tensor([0, 3])))  // class out of range
        XCTAssertThrowsError(try Loss.distillationKL(student: logits, teacher: Tensor.zeros([2, 4])))
        XCTAssertThrowsError(try Loss.mse(logits, Tensor.zeros([3, 3])))
    }
}
