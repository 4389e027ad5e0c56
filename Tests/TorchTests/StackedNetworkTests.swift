import Foundation
import XCTest
@testable import Torch

/// Stacked networks and the stacked SGD step against the same networks run one by one.
final class StackedNetworkTests: XCTestCase {
    /// A small CNN with every stackable layer: reshape, conv (padding, stride), activations, pooling,
    /// flatten, linear with and without bias, dropout 0.
    func cnn(seed: UInt64) throws -> Network {
        let g = RandomGenerator(seed: seed)
        return Network(
            body: [Reshape([1, 8, 8]), try Conv2d(1, 3, kernel: 3, padding: 1, generator: g), Activation.relu,
                   Pool2d(.max, kernel: 2), try Conv2d(3, 4, kernel: 3, stride: 2, padding: 1, bias: false, generator: g),
                   Activation(.tanh), Pool2d(.average, kernel: 2), Flatten(), try Linear(4, 6, generator: g),
                   Activation(.leakyRelu(0.1)), Dropout(0, generator: g)],
            head: [try Linear(6, 3, bias: false, generator: g)], generator: g)
    }

    func mlp(seed: UInt64) throws -> Network {
        let g = RandomGenerator(seed: seed)
        return Network(body: [Flatten(), try Linear(10, 7, generator: g), Activation.relu],
                       head: [try Linear(7, 4, generator: g)], generator: g)
    }

    func inputs(_ shape: [Int], seed: UInt64) throws -> Tensor {
        var r = TestRandom(seed)
        return try Tensor(r.floats(shape.reduce(1, *)), shape: shape)
    }

    func maxDifference(_ a: Tensor, _ b: Tensor) throws -> Double {
        XCTAssertEqual(a.shape, b.shape)
        return zip(try a.floats(), try b.floats()).map { Double(Swift.abs($0 - $1)) }.max() ?? 0
    }

    func testForwardMatchesEachNetwork() throws {
        for (name, make, sample) in [("cnn", cnn, [64]), ("mlp", mlp, [2, 5])] as [(String, (UInt64) throws -> Network, [Int])] {
            let networks = try (0..<4).map { try make(UInt64(10 + $0)) }
            let stack = try StackedNetwork(template: networks[0], count: 4)
            try stack.load(networks.map { $0.stateDict() })
            let x = try inputs([4, 5] + sample, seed: 3)
            let all = try stack.forward(x, rows: 0..<4)
            XCTAssertEqual(all.shape[0...1], [4, 5], name)
            for k in 0..<4 {
                let expected = try networks[k].forward(x.select(dim: 0, k))
                XCTAssertLessThan(try maxDifference(all.select(dim: 0, k), expected), 1e-5, "\(name) slot \(k)")
            }
            // A sub-range of slots uses those slots' weights.
            let tail = try stack.forward(x.slice(1..<3), rows: 1..<3)
            for k in 1..<3 {
                let expected = try networks[k].forward(x.select(dim: 0, k))
                XCTAssertLessThan(try maxDifference(tail.select(dim: 0, k - 1), expected), 1e-5, "\(name) rows 1..<3, slot \(k)")
            }
            let features = try stack.features(x, rows: 0..<4)
            XCTAssertLessThan(try maxDifference(features.select(dim: 0, 2), networks[2].features(x.select(dim: 0, 2))), 1e-5)
        }
    }

    func testStatesRoundTrip() throws {
        let networks = try (0..<3).map { try cnn(seed: UInt64(20 + $0)) }
        let stack = try StackedNetwork(template: networks[0], count: 3)
        try stack.load(networks.map { $0.stateDict() })
        for k in 0..<3 {
            let state = try stack.state(of: k)
            XCTAssertEqual(state.names, networks[k].stateDict().names)
            XCTAssertEqual(try state.flattened().floats(), try networks[k].stateDict().flattened().floats())
        }
        // One slot replaced; a head-only state with strict: false leaves the body.
        try stack.load(networks[0].stateDict(), into: 2)
        XCTAssertEqual(try stack.state(of: 2).flattened().floats(), try networks[0].stateDict().flattened().floats())
        try stack.load(networks[1].stateDict().under("head"), into: 2, strict: false)
        XCTAssertEqual(try stack.state(of: 2).under("head").flattened().floats(), try networks[1].stateDict().under("head").flattened().floats())
        XCTAssertEqual(try stack.state(of: 2).under("body").flattened().floats(), try networks[0].stateDict().under("body").flattened().floats())
    }

    func testBadStatesAndLayersAreNamed() throws {
        let net = try mlp(seed: 1)
        let stack = try StackedNetwork(template: net, count: 2)
        XCTAssertThrowsError(try stack.load([net.stateDict()])) { XCTAssertTrue("\($0)".contains("1 states for a stack of 2"), "\($0)") }
        XCTAssertThrowsError(try stack.load(net.stateDict().filter { $0 != "head.0.bias" }, into: 0)) {
            XCTAssertTrue("\($0)".contains("no entry head.0.bias"), "\($0)")
        }
        XCTAssertThrowsError(try stack.load(try mlp(seed: 1).stateDict(), into: 2)) { XCTAssertTrue("\($0)".contains("slot 2"), "\($0)") }
        let other = try cnn(seed: 1)
        XCTAssertThrowsError(try stack.load(other.stateDict(), into: 0, strict: false)) { XCTAssertTrue("\($0)".contains("shape") || "\($0)".contains("unexpected"), "\($0)") }
        let g = RandomGenerator(seed: 1)
        let lstm = Network(body: [try LSTM(inputs: 3, hidden: 4, layers: 1, generator: g)], head: [try Linear(4, 2, generator: g)], generator: g)
        XCTAssertEqual(StackedNetwork.unsupportedLayer(in: lstm), "layer LSTM")
        let dropout = Network(body: [Flatten(), Dropout(0.5, generator: g)], head: [try Linear(4, 2, generator: g)], generator: g)
        XCTAssertTrue(StackedNetwork.unsupportedLayer(in: dropout)?.contains("dropout with probability 0.5") == true)
        XCTAssertNil(StackedNetwork.unsupportedLayer(in: try cnn(seed: 1)))
        XCTAssertThrowsError(try StackedNetwork(template: lstm, count: 2)) { XCTAssertTrue("\($0)".contains("cannot be stacked: layer LSTM"), "\($0)") }
        XCTAssertThrowsError(try F.bmm(Tensor.zeros([2, 3, 4]), Tensor.zeros([3, 4, 5]))) { XCTAssertTrue("\($0)".contains("[B, n, m]"), "\($0)") }
    }

    /// K networks trained with SGD (momentum, weight decay on weights only) on their own batches,
    /// the stack stepping only the slots that still have a batch: same weights as one by one.
    func testStackedSGDMatchesSGDWithSlotsDroppingOut() throws {
        let batchCounts = [4, 3, 3, 1]  // slots sorted by how long their data lasts
        let batchSizes = [[5, 5, 5, 2], [5, 5, 3], [5, 5, 3], [4]]
        let networks = try (0..<4).map { try cnn(seed: UInt64(30 + $0)) }
        let stack = try StackedNetwork(template: networks[0], count: 4)
        try stack.load(networks.map { $0.stateDict() })
        func batch(_ k: Int, _ t: Int) throws -> (Tensor, Tensor) {
            let n = batchSizes[k][t]
            let labels = try Tensor((0..<n).map { ($0 * 7 + k + t) % 3 })
            return (try inputs([n, 64], seed: UInt64(100 * k + t)), labels)
        }
        // One by one.
        for (k, net) in networks.enumerated() {
            let sgd = try SGD(ParameterGroup.decayingWeightsOnly(net.parameters, weightDecay: 0.01), learningRate: 0.1, momentum: 0.9)
            for t in 0..<batchCounts[k] {
                try sgd.zeroGrad()
                let (x, y) = try batch(k, t)
                try Loss.crossEntropy(net.forward(x), targets: y).backward()
                try sgd.step()
            }
        }
        // Stacked: slots with a batch at step t form a prefix; equal batch sizes run together.
        let sgd = try StackedSGD(decayingWeightsOnly: stack.parameters.map(\.tensor), weightDecay: 0.01, learningRate: 0.1, momentum: 0.9)
        for t in 0..<batchCounts.max()! {
            let active = batchCounts.filter { $0 > t }.count
            try sgd.zeroGrad()
            var total: Tensor?
            var ranges: [Range<Int>] = []
            var start = 0
            while start < active {
                var end = start + 1
                while end < active, batchSizes[end][t] == batchSizes[start][t] { end += 1 }
                let parts = try (start..<end).map { try batch($0, t) }
                let logits = try stack.forward(Tensor.stack(parts.map(\.0)), rows: start..<end)
                let s = logits.shape
                let perSlot = try Loss.crossEntropy(logits.reshaped([s[0] * s[1], s[2]]), targets: Tensor.stack(parts.map(\.1)).reshaped([-1]),
                                                    reduction: .none).reshaped([s[0], s[1]]).mean(dims: [1])
                total = try total.map { try $0 + perSlot.sum() } ?? perSlot.sum()
                ranges.append(start..<end)
                start = end
            }
            try total!.backward()
            // Each range's gradients are in the parameters its forward pass used.
            for rows in ranges {
                let rowParameters = try stack.parameters(rows: rows)
                try sgd.step(rows: rows, parameters: rowParameters)
                for p in rowParameters { try p.zeroGrad() }
            }
        }
        for k in 0..<4 {
            let diff = try maxDifference(stack.state(of: k).flattened(), networks[k].stateDict().flattened())
            XCTAssertLessThan(diff, 1e-5, "slot \(k) after \(batchCounts[k]) steps")
        }
    }
}
