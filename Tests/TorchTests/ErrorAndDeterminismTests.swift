import Foundation
import XCTest

@testable import Torch

final class ErrorTests: XCTestCase {
    func testConv2dOnFlatInput() throws {
        let g = RandomGenerator(seed: 1)
        let weight = try Tensor.randn([6, 1, 5, 5], generator: g)
        XCTAssertThrowsError(try F.conv2d(Tensor.zeros([10, 784]), weight: weight, bias: nil)) { error in
            XCTAssertTrue(error is TorchError)
            XCTAssertEqual("\(error)", "conv2d: expected a 4-d input [N, C, H, W], got [10, 784]")
            XCTAssertEqual((error as? TorchError)?.operation, "conv2d")
        }
        // The same through a layer.
        let conv = try Conv2d(1, 6, kernel: 5, generator: g)
        XCTAssertThrowsError(try conv(Tensor.zeros([10, 784]))) { error in
            XCTAssertEqual("\(error)", "conv2d: expected a 4-d input [N, C, H, W], got [10, 784]")
        }
        XCTAssertThrowsError(try conv(Tensor.zeros([2, 3, 28, 28]))) { error in
            XCTAssertEqual("\(error)", "conv2d: input has 3 channels [2, 3, 28, 28] but weight [6, 1, 5, 5] expects 1")
        }
        // Kernel larger than the input, and malformed weights: errors, not crashes.
        XCTAssertThrowsError(try conv(Tensor.zeros([1, 1, 3, 3])))
        XCTAssertThrowsError(try F.conv2d(Tensor.zeros([1, 1, 8, 8]), weight: Tensor.zeros([6]), bias: nil))
        XCTAssertThrowsError(try F.conv2d(Tensor.zeros([1, 1, 8, 8]), weight: weight, bias: Tensor.zeros([5])))
    }

    func testMatmulShapeMismatch() throws {
        XCTAssertThrowsError(try Tensor.zeros([2, 3]).matmul(Tensor.zeros([4, 5]))) { error in
            let text = "\(error)"
            XCTAssertEqual((error as? TorchError)?.operation, "matmul")
            XCTAssertTrue(text.hasPrefix("matmul: "), text)
            XCTAssertTrue(text.contains("[2, 3]") && text.contains("[4, 5]"), text)
            XCTAssertFalse(text.contains("Exception raised from"), "no C++ backtrace: \(text)")
        }
        XCTAssertThrowsError(try Tensor.zeros([2, 3, 4]).matmul(Tensor.zeros([3, 4])))
        XCTAssertThrowsError(try Tensor.zeros([]).matmul(Tensor.zeros([3])))
    }

    func testLinearAndOtherShapeErrors() throws {
        XCTAssertThrowsError(try F.linear(Tensor.zeros([10, 784]), weight: Tensor.zeros([10, 100]), bias: nil)) {
            error in
            XCTAssertEqual(
                "\(error)", "linear: input [10, 784] does not match weight [10, 100]: expected last input dimension 100"
            )
        }
        XCTAssertThrowsError(try F.lstm(Tensor.zeros([2, 3]), parameters: [], layers: 1)) { error in
            XCTAssertTrue("\(error)".hasPrefix("lstm: expected a 3-d input"), "\(error)")
        }
        XCTAssertThrowsError(try F.lstm(Tensor.zeros([2, 3, 4]), parameters: [Tensor.zeros([8, 4])], layers: 1)) {
            error in
            XCTAssertTrue("\(error)".contains("lstm expects 4 parameters per layer"), "\(error)")
        }
        XCTAssertThrowsError(
            try F.batchNorm(
                Tensor.zeros([4]), weight: nil, bias: nil, runningMean: nil, runningVar: nil,
                training: true))
        XCTAssertThrowsError(
            try F.batchNorm(
                Tensor.zeros([4, 3]), weight: Tensor.ones([2]), bias: nil, runningMean: nil,
                runningVar: nil, training: true))
        XCTAssertThrowsError(try F.embedding(Tensor([0, 7]), weight: Tensor.zeros([5, 2])))
        XCTAssertThrowsError(try F.embedding(Tensor([Float(0)]), weight: Tensor.zeros([5, 2])))
        XCTAssertThrowsError(try F.maxPool2d(Tensor.zeros([1, 1, 1, 1]), kernel: 3))
        XCTAssertThrowsError(try Tensor.zeros([2, 2]).item()) { error in
            XCTAssertEqual((error as? TorchError)?.operation, "item")
        }
        XCTAssertThrowsError(try Tensor.zeros([2, 2]).sum(dims: [2]))
        XCTAssertThrowsError(try Tensor.zeros([2, 2]).max(dim: 5))
        XCTAssertThrowsError(try Tensor.zeros([2, 2]).permuted([0]))
        XCTAssertThrowsError(try Tensor.zeros([2, 2]).backward())  // not a scalar
        XCTAssertThrowsError(try Tensor.zeros([]).backward())  // does not require grad
        XCTAssertThrowsError(try Tensor.zeros([2]).gather(dim: 0, Tensor([Float(0)])))
        // The error keeps working after a failure (thread-local message is replaced, not appended).
        XCTAssertThrowsError(try Tensor.zeros([3]).reshaped([2])) { error in
            XCTAssertTrue("\(error)".hasPrefix("reshape: "), "\(error)")
            XCTAssertTrue("\(error)".hasSuffix("(operands: [3])"), "\(error)")
        }
    }

    func testErrorsOnWorkerThreads() throws {
        // Each thread reads its own error message.
        final class Box: @unchecked Sendable {
            let lock = NSLock()
            var messages: [String] = []
            func append(_ s: String) { lock.lock(); messages.append(s); lock.unlock() }
        }
        let box = Box()
        DispatchQueue.concurrentPerform(iterations: 4) { i in
            do {
                _ = try Tensor.zeros([2, i + 3]).matmul(Tensor.zeros([i + 7, 2]))
                box.append("no error")
            } catch { box.append("\(error)") }
        }
        let messages = box.messages
        XCTAssertEqual(messages.count, 4)
        for i in 0..<4 {
            XCTAssertEqual(messages.filter { $0.contains("[2, \(i + 3)], [\(i + 7), 2]") }.count, 1, "\(messages)")
        }
    }
}

final class DeterminismTests: XCTestCase {
    func testSameSeedSameSamples() throws {
        let a = try Tensor.randn([100], generator: RandomGenerator(seed: 42)).floats()
        let b = try Tensor.randn([100], generator: RandomGenerator(seed: 42)).floats()
        XCTAssertEqual(a, b)
        let c = try Tensor.randn([100], generator: RandomGenerator(seed: 43)).floats()
        XCTAssertNotEqual(a, c)
        // Roughly standard normal.
        let mean = a.reduce(0, +) / 100
        XCTAssertLessThan(Swift.abs(mean), 0.4)
    }

    func testStreamsAdvanceAndReseed() throws {
        let g = RandomGenerator(seed: 7)
        let first = try Tensor.randn([10], generator: g).floats()
        let second = try Tensor.randn([10], generator: g).floats()
        XCTAssertNotEqual(first, second)
        g.reseed(7)
        XCTAssertEqual(try Tensor.randn([10], generator: g).floats(), first)
        // Generators are independent of each other and of the global one.
        let h = RandomGenerator(seed: 7)
        _ = try Tensor.randn([1000], generator: RandomGenerator(seed: 99))
        XCTAssertEqual(try Tensor.randn([10], generator: h).floats(), first)
    }

    func testOtherRandomOps() throws {
        func draw(_ seed: UInt64) throws -> [[Float]] {
            let g = RandomGenerator(seed: seed)
            let u = try Tensor.rand([50], generator: g).floats()
            let i = try Tensor.randint(3, 9, [50], generator: g).floats()
            let p = try Tensor.randperm(20, generator: g).floats()
            let bern = try Tensor.full([50], 0.3).bernoulli(generator: g).floats()
            let t = try Tensor.zeros([50])
            try t.uniform_(-2, -1, generator: g)
            let n = try Tensor.zeros([50])
            try n.normal_(mean: 10, std: 0.1, generator: g)
            return [u, i, p, bern, try t.floats(), try n.floats()]
        }
        let a = try draw(11), b = try draw(11), c = try draw(12)
        XCTAssertEqual(a, b)
        XCTAssertNotEqual(a, c)
        XCTAssertTrue(a[0].allSatisfy { $0 >= 0 && $0 < 1 })
        XCTAssertTrue(a[1].allSatisfy { $0 >= 3 && $0 < 9 && $0 == $0.rounded() })
        XCTAssertEqual(a[2].sorted(), (0..<20).map(Float.init))
        XCTAssertTrue(a[3].allSatisfy { $0 == 0 || $0 == 1 })
        XCTAssertTrue(a[4].allSatisfy { $0 >= -2 && $0 < -1 })
        XCTAssertTrue(a[5].allSatisfy { Swift.abs($0 - 10) < 1 })
    }

    func testSeededModelsAreIdentical() throws {
        func make(_ seed: UInt64) throws -> [Float] {
            let g = RandomGenerator(seed: seed)
            let net = try Network(
                body: [Conv2d(1, 2, kernel: 3, generator: g), Flatten()], head: [Linear(8, 2, generator: g)],
                generator: g)
            return try net.stateDict().flattened().floats()
        }
        XCTAssertEqual(try make(5), try make(5))
        XCTAssertNotEqual(try make(5), try make(6))
    }

    func testThreadSetting() throws {
        let previous = TorchThreads.current
        TorchThreads.set(2)
        XCTAssertEqual(TorchThreads.current, 2)
        TorchThreads.set(0)  // clamps to 1
        XCTAssertEqual(TorchThreads.current, 1)
        TorchThreads.set(previous)
    }
}

/// Clients train on worker threads: each must get the same result as when run alone.
final class ConcurrencyTests: XCTestCase {
    static func trainClient(seed: UInt64) throws -> [Float] {
        TorchThreads.set(1)
        let g = RandomGenerator(seed: seed)
        let net = try Network(
            body: [
                Conv2d(1, 4, kernel: 3, generator: g), Activation.relu, Flatten(),
                Dropout(0.2, generator: g),
            ],
            head: [Linear(4 * 4 * 4, 3, generator: g)], generator: g)
        let x = try Tensor.randn([8, 1, 6, 6], generator: g)
        let y = try Tensor.randint(0, 3, [8], generator: g)
        let sgd = try SGD(net.parameters, learningRate: 0.1, momentum: 0.9)
        for _ in 0..<5 {
            try sgd.zeroGrad()
            try Loss.crossEntropy(net(x), targets: y).backward()
            try sgd.step()
        }
        return try net.stateDict().flattened().floats()
    }

    func testParallelClientsMatchSequential() throws {
        let seeds: [UInt64] = [1, 2, 3, 4]
        let sequential = try seeds.map { try Self.trainClient(seed: $0) }
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var values: [UInt64: [Float]] = [:]
            var errors: [String] = []
        }
        let results = Results()
        DispatchQueue.concurrentPerform(iterations: seeds.count) { i in
            do {
                let v = try Self.trainClient(seed: seeds[i])
                results.lock.lock(); results.values[seeds[i]] = v; results.lock.unlock()
            } catch {
                results.lock.lock(); results.errors.append("\(error)"); results.lock.unlock()
            }
        }
        XCTAssertEqual(results.errors, [])
        for (i, seed) in seeds.enumerated() {
            XCTAssertEqual(results.values[seed], sequential[i], "client \(seed)")
        }
    }

    func testGradModeIsPerThread() throws {
        final class Flag: @unchecked Sendable { var value = false }
        let w = try Tensor([Float(1), 2]).requiringGrad()
        try withoutGrad {
            XCTAssertFalse(try (w * 2).requiresGrad)
            let other = Flag()
            let done = DispatchSemaphore(value: 0)
            let worker = Thread {
                other.value = (try? (w * 2).requiresGrad) ?? false
                done.signal()
            }
            worker.start()
            done.wait()
            XCTAssertTrue(other.value, "withoutGrad on one thread must not switch gradients off on another")
        }
        XCTAssertTrue(try (w * 2).requiresGrad)
    }
}
