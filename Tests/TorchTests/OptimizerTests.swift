import Foundation
import XCTest

@testable import Torch

/// Optimisers against hand-computed updates with torch.optim's definitions.
final class OptimizerTests: XCTestCase {
    /// loss = sum(c * p + 0.5 * p^2), so grad = c + p.
    let c: [Double] = [0.5, -1, 2]
    let start: [Double] = [1, -2, 0.25]

    func gradient(_ p: [Double]) -> [Double] { zip(c, p).map { $0 + $1 } }

    func lossAndBackward(_ p: Tensor) throws {
        let ct = try Tensor(c.map(Float.init))
        try (ct * p + p.square() * 0.5).sum().backward()
    }

    func run(_ optimiser: Optimizer, _ p: Tensor, steps: Int) throws -> [[Float]] {
        var trajectory: [[Float]] = []
        for _ in 0..<steps {
            try optimiser.zeroGrad()
            try lossAndBackward(p)
            try optimiser.step()
            trajectory.append(try p.floats())
        }
        return trajectory
    }

    func testSGDMomentumWeightDecayByHand() throws {
        // lr 0.1, momentum 0.9, weight decay 0.01; first step: buf = d (no dampening applied).
        let p = try Tensor(start.map(Float.init)).requiringGrad()
        let sgd = try SGD([p], learningRate: 0.1, momentum: 0.9, weightDecay: 0.01)
        let steps = try run(sgd, p, steps: 3)
        // Step 1 written out for the first element: g = 0.5 + 1 = 1.5, d = 1.5 + 0.01 * 1 = 1.51, p = 1 - 0.151.
        XCTAssertEqual(Double(steps[0][0]), 0.849, accuracy: 1e-6)
        var x = start, buf = [Double](repeating: 0, count: 3)
        for step in 0..<3 {
            let d = zip(gradient(x), x).map { $0 + 0.01 * $1 }
            buf = step == 0 ? d : zip(buf, d).map { 0.9 * $0 + $1 }
            x = zip(x, buf).map { $0 - 0.1 * $1 }
            assertClose(steps[step], x, tolerance: 1e-5, "SGD step \(step + 1)")
        }
    }

    func testSGDDampeningNesterovAndPlain() throws {
        // Dampening 0.3 (not applied on the first step, as torch) and Nesterov.
        do {
            let p = try Tensor(start.map(Float.init)).requiringGrad()
            let sgd = try SGD([ParameterGroup([p], weightDecay: 0)], learningRate: 0.05, momentum: 0.8, dampening: 0.3)
            let steps = try run(sgd, p, steps: 3)
            var x = start, buf = [Double](repeating: 0, count: 3)
            for step in 0..<3 {
                let g = gradient(x)
                buf = step == 0 ? g : zip(buf, g).map { 0.8 * $0 + 0.7 * $1 }
                x = zip(x, buf).map { $0 - 0.05 * $1 }
                assertClose(steps[step], x, tolerance: 1e-5, "dampened SGD step \(step + 1)")
            }
        }
        do {
            let p = try Tensor(start.map(Float.init)).requiringGrad()
            let sgd = try SGD(
                [ParameterGroup([p], weightDecay: 0.1)], learningRate: 0.05, momentum: 0.9, nesterov: true)
            let steps = try run(sgd, p, steps: 3)
            var x = start, buf = [Double](repeating: 0, count: 3)
            for step in 0..<3 {
                let d = zip(gradient(x), x).map { $0 + 0.1 * $1 }
                buf = step == 0 ? d : zip(buf, d).map { 0.9 * $0 + $1 }
                let update = zip(d, buf).map { $0 + 0.9 * $1 }
                x = zip(x, update).map { $0 - 0.05 * $1 }
                assertClose(steps[step], x, tolerance: 1e-5, "Nesterov SGD step \(step + 1)")
            }
        }
        do {
            let p = try Tensor(start.map(Float.init)).requiringGrad()
            let sgd = try SGD([p], learningRate: 0.1)
            let steps = try run(sgd, p, steps: 2)
            var x = start
            for step in 0..<2 {
                x = zip(x, gradient(x)).map { $0 - 0.1 * $1 }
                assertClose(steps[step], x, tolerance: 1e-6, "plain SGD step \(step + 1)")
            }
        }
    }

    func testSGDParameterGroupsAndMissingGradients() throws {
        let w = try Tensor([Float(1), 2], shape: [1, 2]).requiringGrad()
        let b = try Tensor([Float(1)]).requiringGrad()
        let unused = try Tensor([Float(5)]).requiringGrad()
        let groups = ParameterGroup.decayingWeightsOnly([w, b], weightDecay: 0.5) + [ParameterGroup([unused])]
        XCTAssertEqual(groups[0].parameters.count, 1)
        XCTAssertEqual(groups[1].parameters.count, 1)
        let sgd = try SGD(groups, learningRate: 0.1)
        try (w.sum() + b.sum()).backward()
        try sgd.step()
        // w: g = 1 + 0.5 w; b: g = 1 (no decay); unused: no gradient, unchanged.
        assertClose(try w.floats(), [1 - 0.1 * 1.5, 2 - 0.1 * 2], tolerance: 1e-6)
        assertClose(try b.floats(), [0.9], tolerance: 1e-6)
        XCTAssertEqual(try unused.floats(), [5])
        XCTAssertEqual(sgd.parameters.count, 3)
        XCTAssertTrue(w.requiresGrad, "parameters stay leaves that require grad")
    }

    /// torch.optim.Adam / AdamW written out in Double.
    func adamReference(
        steps: Int, lr: Double, beta1: Double, beta2: Double, eps: Double, weightDecay: Double,
        decoupled: Bool
    ) -> [[Double]] {
        var x = start
        var m = [Double](repeating: 0, count: 3), v = m
        var out: [[Double]] = []
        for t in 1...steps {
            var g = gradient(x)
            if weightDecay != 0 {
                if decoupled {
                    x = x.map { $0 * (1 - lr * weightDecay) }
                } else {
                    g = zip(g, x).map { $0 + weightDecay * $1 }
                }
            }
            m = zip(m, g).map { beta1 * $0 + (1 - beta1) * $1 }
            v = zip(v, g).map { beta2 * $0 + (1 - beta2) * $1 * $1 }
            let bc1 = 1 - Foundation.pow(beta1, Double(t)), bc2 = 1 - Foundation.pow(beta2, Double(t))
            for i in 0..<3 {
                let denom = (v[i].squareRoot() / bc2.squareRoot()) + eps
                x[i] -= lr / bc1 * m[i] / denom
            }
            out.append(x)
        }
        return out
    }

    func testAdamByHand() throws {
        let p = try Tensor(start.map(Float.init)).requiringGrad()
        let adam = try Adam([ParameterGroup([p])], learningRate: 0.1)
        let steps = try run(adam, p, steps: 2)
        // The first Adam step moves each coordinate by lr * sign(grad) (bias-corrected m / sqrt(v) = g / |g|).
        let g0 = gradient(start)
        assertClose(steps[0], zip(start, g0).map { $0 - 0.1 * ($1 > 0 ? 1 : -1) }, tolerance: 1e-6, "Adam step 1")
        let reference = adamReference(
            steps: 2, lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false)
        assertClose(steps[1], reference[1], tolerance: 1e-5, "Adam step 2")
    }

    func testAdamL2AndAdamWDecoupled() throws {
        for decoupled in [false, true] {
            let p = try Tensor(start.map(Float.init)).requiringGrad()
            let adam = try Adam(
                [ParameterGroup([p], weightDecay: 0.2)], learningRate: 0.05, beta1: 0.8, beta2: 0.99,
                eps: 1e-6, decoupledWeightDecay: decoupled)
            let steps = try run(adam, p, steps: 3)
            let reference = adamReference(
                steps: 3, lr: 0.05, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.2,
                decoupled: decoupled)
            for s in 0..<3 {
                assertClose(steps[s], reference[s], tolerance: 1e-5, "\(decoupled ? "AdamW" : "Adam L2") step \(s + 1)")
            }
        }
        // AdamW step 1 for the first element by hand: p = 1 * (1 - 0.05 * 0.2) = 0.99, then - 0.05 * sign(g).
        let p = try Tensor(start.map(Float.init)).requiringGrad()
        let adamW = try Adam([ParameterGroup([p], weightDecay: 0.2)], learningRate: 0.05, decoupledWeightDecay: true)
        _ = try run(adamW, p, steps: 1)
        XCTAssertEqual(Double(try p.floats()[0]), 0.99 - 0.05, accuracy: 1e-6)
    }

    func testOptimiserStepRecordsNoGraph() throws {
        let p = try Tensor([Float(1), 2]).requiringGrad()
        let sgd = try SGD([p], learningRate: 0.1, momentum: 0.9)
        try (p * p).sum().backward()
        try sgd.step()
        // Still a leaf: a further backward gives a fresh gradient without touching the update.
        try sgd.zeroGrad()
        try (p * 3).sum().backward()
        XCTAssertEqual(try p.grad?.floats(), [3, 3])
        let adam = try Adam([ParameterGroup([p])])
        try adam.step()
        try adam.zeroGrad()
        try (p * 2).sum().backward()
        XCTAssertEqual(try p.grad?.floats(), [2, 2])
    }
}
