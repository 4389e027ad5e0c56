import XCTest

@testable import Torch

final class TensorCreationTests: XCTestCase {
    func testFloatRoundTrip() throws {
        let t = try Tensor([1.5, -2, 3.25, 0, 5, 6], shape: [2, 3])
        XCTAssertEqual(t.shape, [2, 3])
        XCTAssertEqual(t.rank, 2)
        XCTAssertEqual(t.count, 6)
        XCTAssertEqual(t.dtype, .float32)
        XCTAssertEqual(try t.floats(), [1.5, -2, 3.25, 0, 5, 6])
        XCTAssertEqual(try t.ints(), [1, -2, 3, 0, 5, 6])
    }

    func testIntRoundTrip() throws {
        let t = try Tensor([3, -4, Int(Int32.max) + 10, 0], shape: [2, 2])
        XCTAssertEqual(t.dtype, .int64)
        XCTAssertEqual(t.shape, [2, 2])
        XCTAssertEqual(try t.ints(), [3, -4, Int(Int32.max) + 10, 0])
        XCTAssertEqual(try t.floats(), [3, -4, Float(Int(Int32.max) + 10), 0])
    }

    func testOneDimensionalAndScalar() throws {
        let f = try Tensor([Float(1), 2, 3])
        XCTAssertEqual(f.shape, [3])
        let i = try Tensor([7, 8])
        XCTAssertEqual(i.dtype, .int64)
        let s = try Tensor(scalar: 2.5)
        XCTAssertEqual(s.shape, [])
        XCTAssertEqual(s.count, 1)
        XCTAssertEqual(try s.item(), 2.5)
    }

    func testEmptyTensor() throws {
        let t = try Tensor([Float](), shape: [0, 3])
        XCTAssertEqual(t.shape, [0, 3])
        XCTAssertEqual(try t.floats(), [])
    }

    func testBytesWithScale() throws {
        let t = try Tensor(bytes: [0, 51, 255, 102], shape: [2, 2], scale: 1 / 255)
        assertClose(try t.floats(), [0, 0.2, 1, 0.4], tolerance: 1e-6)
    }

    func testFullZerosOnesArange() throws {
        XCTAssertEqual(try Tensor.full([2, 2], 3.5).floats(), [3.5, 3.5, 3.5, 3.5])
        XCTAssertEqual(try Tensor.zeros([3]).floats(), [0, 0, 0])
        XCTAssertEqual(try Tensor.ones([2], dtype: .int64).ints(), [1, 1])
        XCTAssertEqual(try Tensor.ones([2], dtype: .int64).dtype, .int64)
        XCTAssertEqual(try Tensor.zeros([2], dtype: .bool).dtype, .bool)
        XCTAssertEqual(try Tensor.arange(4).ints(), [0, 1, 2, 3])
        XCTAssertEqual(try Tensor.arange(3, dtype: .float32).floats(), [0, 1, 2])
        let z = try Tensor([Float(1), 2], shape: [1, 2]).zerosLike()
        XCTAssertEqual(z.shape, [1, 2])
        XCTAssertEqual(try z.floats(), [0, 0])
    }

    func testDTypeConversion() throws {
        let f = try Tensor([Float(1.7), -1.2, 0])
        XCTAssertEqual(try f.to(.int64).ints(), [1, -1, 0])
        XCTAssertEqual(try f.to(.bool).ints(), [1, 1, 0])
        XCTAssertEqual(try Tensor([1, 0, 2]).to(.float32).floats(), [1, 0, 2])
        XCTAssertEqual(try Tensor([2, 0, 1]).oneHot(classes: 3).ints(), [0, 0, 1, 1, 0, 0, 0, 1, 0])
    }

    func testValueCountMismatchThrows() {
        XCTAssertThrowsError(try Tensor([Float(1), 2, 3], shape: [2, 2])) { error in
            XCTAssertEqual("\(error)", "tensor: 3 values do not fill shape [2, 2]")
        }
        XCTAssertThrowsError(try Tensor([1, 2], shape: [3]))
        XCTAssertThrowsError(try Tensor(bytes: [1, 2], shape: [3], scale: 1))
    }

    func testWithUnsafeFloatsAndDescription() throws {
        let t = try Tensor([Float(1), 2, 3, 4], shape: [2, 2])
        XCTAssertEqual(try t.withUnsafeFloats { Array($0) }, [1, 2, 3, 4])
        XCTAssertThrowsError(try t.transposed(0, 1).withUnsafeFloats { _ in () })
        XCTAssertThrowsError(try Tensor([1, 2]).withUnsafeFloats { _ in () })
        XCTAssertEqual(t.description, "Tensor(float32, [2, 2]: [1, 2, 3, 4])")
    }

    func testCloneOwnsStorageAndCopyInPlace() throws {
        let a = try Tensor([Float(1), 2, 3])
        let b = try a.clone()
        try a.fill_(9)
        XCTAssertEqual(try b.floats(), [1, 2, 3])
        try b.copy_(a)
        XCTAssertEqual(try b.floats(), [9, 9, 9])
        try b.add_(try Tensor([Float(1), 2, 3]), alpha: 2)
        XCTAssertEqual(try b.floats(), [11, 13, 15])
        try b.mul_(0.5)
        XCTAssertEqual(try b.floats(), [5.5, 6.5, 7.5])
        // copy_ broadcasts.
        try b.copy_(try Tensor(scalar: 4))
        XCTAssertEqual(try b.floats(), [4, 4, 4])
    }
}

final class TensorShapeTests: XCTestCase {
    let m = try! Tensor((0..<6).map(Float.init), shape: [2, 3])  // [[0,1,2],[3,4,5]]

    func testReshapeAndView() throws {
        let r = try m.reshaped([3, -1])
        XCTAssertEqual(r.shape, [3, 2])
        XCTAssertEqual(try r.floats(), [0, 1, 2, 3, 4, 5])
        let v = try m.view([6])
        XCTAssertEqual(v.shape, [6])
        let fresh = try Tensor((0..<6).map(Float.init), shape: [2, 3])
        XCTAssertThrowsError(try fresh.transposed(0, 1).view([6]))
        XCTAssertEqual(try fresh.transposed(0, 1).reshaped([6]).floats(), [0, 3, 1, 4, 2, 5])
        XCTAssertThrowsError(try fresh.reshaped([4, 2]))
    }

    func testViewSharesStorage() throws {
        let a = try Tensor((0..<6).map(Float.init), shape: [2, 3])
        let v = try a.view([3, 2])
        try v.fill_(7)
        XCTAssertEqual(try a.floats(), [7, 7, 7, 7, 7, 7])
    }

    func testPermuteTransposeContiguous() throws {
        let t = try Tensor((0..<24).map(Float.init), shape: [2, 3, 4])
        let p = try t.permuted([2, 0, 1])
        XCTAssertEqual(p.shape, [4, 2, 3])
        // p[i, j, k] = t[j, k, i] = 12j + 4k + i
        let pv = try p.contiguous().floats()
        var expected: [Double] = []
        for i in 0..<4 { for j in 0..<2 { for k in 0..<3 { expected.append(Double(12 * j + 4 * k + i)) } } }
        assertClose(pv, expected)
        let tr = try m.transposed(0, 1)
        XCTAssertEqual(tr.shape, [3, 2])
        XCTAssertEqual(try tr.floats(), [0, 3, 1, 4, 2, 5])
        XCTAssertEqual(try m.transposed(-1, -2).shape, [3, 2])
    }

    func testSliceSelect() throws {
        let t = try Tensor((0..<10).map(Float.init))
        XCTAssertEqual(try t.slice(2..<8, step: 2).floats(), [2, 4, 6])
        XCTAssertEqual(try m.slice(dim: 1, 1..<3).floats(), [1, 2, 4, 5])
        XCTAssertEqual(try m.slice(dim: 1, 1..<3).shape, [2, 2])
        XCTAssertEqual(try m.select(dim: 0, 1).floats(), [3, 4, 5])
        XCTAssertEqual(try m.select(dim: 1, 2).floats(), [2, 5])
        XCTAssertEqual(try m.select(dim: 1, -1).floats(), [2, 5])
        XCTAssertThrowsError(try m.select(dim: 0, 2))
    }

    func testIndexSelectRowsGather() throws {
        XCTAssertEqual(try m.indexSelect(dim: 1, Tensor([2, 0, 2])).floats(), [2, 0, 2, 5, 3, 5])
        let rows = try m.rows([1, 1, 0])
        XCTAssertEqual(rows.shape, [3, 3])
        XCTAssertEqual(try rows.floats(), [3, 4, 5, 3, 4, 5, 0, 1, 2])
        let g = try m.gather(dim: 1, Tensor([2, 0, 1, 1], shape: [2, 2]))
        XCTAssertEqual(try g.floats(), [2, 0, 4, 4])
        XCTAssertThrowsError(try m.rows([5]))
        XCTAssertEqual(try m.maskedSelect(m.gt(2.5)).floats(), [3, 4, 5])
    }

    func testCatStack() throws {
        let a = try Tensor([Float(1), 2], shape: [1, 2])
        let b = try Tensor([Float(3), 4, 5, 6], shape: [2, 2])
        let c = try Tensor.cat([a, b], dim: 0)
        XCTAssertEqual(c.shape, [3, 2])
        XCTAssertEqual(try c.floats(), [1, 2, 3, 4, 5, 6])
        let d = try Tensor.cat([b, b], dim: 1)
        XCTAssertEqual(d.shape, [2, 4])
        XCTAssertEqual(try d.floats(), [3, 4, 3, 4, 5, 6, 5, 6])
        let s = try Tensor.stack([a.squeezed(0), a.squeezed(0) * 2], dim: 1)
        XCTAssertEqual(s.shape, [2, 2])
        XCTAssertEqual(try s.floats(), [1, 2, 2, 4])
        XCTAssertThrowsError(try Tensor.stack([a, b]))
        XCTAssertThrowsError(try Tensor.cat([]))
    }

    func testExpandSqueezeUnsqueezeFlatten() throws {
        let col = try Tensor([Float(1), 2], shape: [2, 1])
        let e = try col.expanded(to: [2, 3])
        XCTAssertEqual(e.shape, [2, 3])
        XCTAssertEqual(try e.floats(), [1, 1, 1, 2, 2, 2])
        XCTAssertEqual(try col.squeezed(1).shape, [2])
        XCTAssertEqual(try col.squeezed(0).shape, [2, 1])  // not size 1: unchanged, as in torch
        XCTAssertEqual(try col.unsqueezed(0).shape, [1, 2, 1])
        XCTAssertEqual(try col.unsqueezed(-1).shape, [2, 1, 1])
        let t = try Tensor.zeros([2, 3, 4, 5])
        XCTAssertEqual(try t.flattened(from: 1).shape, [2, 60])
        XCTAssertEqual(try t.flattened().shape, [120])
        XCTAssertEqual(try t.flattened(from: 1, to: 2).shape, [2, 12, 5])
        XCTAssertThrowsError(try col.expanded(to: [3, 3]))
    }
}

final class TensorArithmeticTests: XCTestCase {
    func testBroadcastingArithmetic() throws {
        let a = try Tensor([Float(1), 2, 3, 4, 5, 6], shape: [2, 3])
        let row = try Tensor([Float(10), 20, 30])
        let col = try Tensor([Float(2), 4], shape: [2, 1])
        try assertClose(a + row, [11, 22, 33, 14, 25, 36], shape: [2, 3])
        try assertClose(a - col, [-1, 0, 1, 0, 1, 2], shape: [2, 3])
        try assertClose(a * col, [2, 4, 6, 16, 20, 24], shape: [2, 3])
        try assertClose(a / col, [0.5, 1, 1.5, 1, 1.25, 1.5], shape: [2, 3])
        try assertClose(row + col, [12, 22, 32, 14, 24, 34], shape: [2, 3])
        XCTAssertThrowsError(try a + Tensor([Float(1), 2]))
    }

    func testScalarArithmetic() throws {
        let a = try Tensor([Float(1), 2, 4])
        try assertClose(a + 1, [2, 3, 5])
        try assertClose(1 + a, [2, 3, 5])
        try assertClose(a - 1, [0, 1, 3])
        try assertClose(1 - a, [0, -1, -3])
        try assertClose(a * 3, [3, 6, 12])
        try assertClose(3 * a, [3, 6, 12])
        try assertClose(a / 2, [0.5, 1, 2])
        try assertClose(2 / a, [2, 1, 0.5])
        try assertClose(-a, [-1, -2, -4])
        try assertClose(a.pow(2), [1, 4, 16])
        try assertClose(a.pow(0.5), [1, 2.0.squareRoot(), 2], tolerance: 1e-6)
        // Integer tensors stay integer with integral scalars.
        let i = try Tensor([1, 2, 3])
        XCTAssertEqual(try (i + 1).dtype, .int64)
        XCTAssertEqual(try (i + 1).ints(), [2, 3, 4])
        XCTAssertEqual(try (i * 2).ints(), [2, 4, 6])
        XCTAssertEqual(try (i * 2).dtype, .int64)
        XCTAssertEqual(try (i - 1).dtype, .int64)
        XCTAssertEqual(try (10 - i).ints(), [9, 8, 7])
        XCTAssertEqual(try (10 - i).dtype, .int64)
        XCTAssertEqual(try i.pow(2).ints(), [1, 4, 9])
        XCTAssertEqual(try i.pow(2).dtype, .int64)
        // Fractional scalars and true division promote to float32, as in Python.
        XCTAssertEqual(try (i + 0.5).dtype, .float32)
        try assertClose(i + 0.5, [1.5, 2.5, 3.5])
        try assertClose(i / 2, [0.5, 1, 1.5])
        XCTAssertEqual(try (i / 2).dtype, .float32)
    }

    func testUnaryMath() throws {
        let x = try Tensor([Float(-2), -0.5, 0.25, 1])
        try assertClose(x.abs(), [2, 0.5, 0.25, 1])
        try assertClose(x.square(), [4, 0.25, 0.0625, 1])
        try assertClose(x.sign(), [-1, -1, 1, 1])
        try assertClose(x.floor(), [-2, -1, 0, 1])
        try assertClose(x.reciprocal(), [-0.5, -2, 4, 1])
        try assertClose(x.exp(), [-2, -0.5, 0.25, 1].map(Foundation.exp), tolerance: 1e-6)
        try assertClose(x.abs().log(), [2, 0.5, 0.25, 1].map(Foundation.log), tolerance: 1e-6)
        try assertClose(x.abs().sqrt(), [2, 0.5, 0.25, 1].map { $0.squareRoot() }, tolerance: 1e-6)
        try assertClose(x.clamp(min: -1, max: 0.5), [-1, -0.5, 0.25, 0.5])
        try assertClose(F.relu(x), [0, 0, 0.25, 1])
        try assertClose(F.leakyRelu(x, slope: 0.1), [-0.2, -0.05, 0.25, 1], tolerance: 1e-6)
        try assertClose(F.tanh(x), [-2, -0.5, 0.25, 1].map(Foundation.tanh), tolerance: 1e-6)
        try assertClose(F.sigmoid(x), [-2, -0.5, 0.25, 1].map { 1 / (1 + Foundation.exp(-$0)) }, tolerance: 1e-6)
        try assertClose(x.maximum(Tensor([Float(0), 0, 0, 0])), [0, 0, 0.25, 1])
        try assertClose(x.minimum(Tensor([Float(0), 0, 0, 0])), [-2, -0.5, 0, 0])
    }

    func testFiniteChecks() throws {
        let x = try Tensor([Float(1), .nan, .infinity, -2])
        XCTAssertEqual(try x.isFinite().ints(), [1, 0, 0, 1])
        XCTAssertFalse(try x.allFinite())
        XCTAssertTrue(try Tensor([Float(1), 2]).allFinite())
        XCTAssertTrue(try (Tensor([Float(1), 0]) / 0).isFinite().logicalNot().all().item() != 0)
    }

    func testReductions() throws {
        let t = try Tensor([Float(1), 5, 3, 4, 2, 6], shape: [2, 3])
        XCTAssertEqual(try t.sum().item(), 21)
        XCTAssertEqual(try t.mean().item(), 3.5)
        try assertClose(t.sum(dims: [0]), [5, 7, 9], shape: [3])
        try assertClose(t.sum(dims: [1]), [9, 12], shape: [2])
        try assertClose(t.sum(dims: [1], keepDim: true), [9, 12], shape: [2, 1])
        try assertClose(t.sum(dims: [0, 1]), [21], shape: [])
        try assertClose(t.mean(dims: [0]), [2.5, 3.5, 4.5], shape: [3])
        try assertClose(t.mean(dims: [-1], keepDim: true), [3, 4], shape: [2, 1])
        XCTAssertEqual(try t.max().item(), 6)
        XCTAssertEqual(try t.min().item(), 1)
        try assertClose(t.max(dim: 1), [5, 6], shape: [2])
        try assertClose(t.min(dim: 0), [1, 2, 3], shape: [3])
        try assertClose(t.max(dim: 0, keepDim: true), [4, 5, 6], shape: [1, 3])
        XCTAssertEqual(try t.argmax(dim: 1).ints(), [1, 2])
        XCTAssertEqual(try t.argmax(dim: 1).dtype, .int64)
        XCTAssertEqual(try t.argmin(dim: 0).ints(), [0, 1, 0])
        XCTAssertEqual(try t.argmax(dim: 0, keepDim: true).shape, [1, 3])
        // Unbiased variance of [1, 5, 3]: mean 3, squares 4 + 4 + 0 = 8, / 2 = 4.
        try assertClose(t.variance(dims: [1]), [4, 4], shape: [2])
        try assertClose(
            t.logSumExp(dims: [1]),
            [
                Foundation.log(Foundation.exp(1.0) + Foundation.exp(5) + Foundation.exp(3)),
                Foundation.log(Foundation.exp(4.0) + Foundation.exp(2) + Foundation.exp(6)),
            ], tolerance: 1e-5)
        XCTAssertEqual(try t.gt(2.5).all().item(), 0)
        XCTAssertEqual(try t.gt(0.5).all().item(), 1)
        XCTAssertEqual(try t.gt(5.5).any().item(), 1)
    }

    func testComparisons() throws {
        let a = try Tensor([Float(1), 2, 3])
        let b = try Tensor([Float(3), 2, 1])
        XCTAssertEqual(try a.eq(b).ints(), [0, 1, 0])
        XCTAssertEqual(try a.eq(b).dtype, .bool)
        XCTAssertEqual(try a.ne(b).ints(), [1, 0, 1])
        XCTAssertEqual(try a.lt(b).ints(), [1, 0, 0])
        XCTAssertEqual(try a.le(b).ints(), [1, 1, 0])
        XCTAssertEqual(try a.gt(b).ints(), [0, 0, 1])
        XCTAssertEqual(try a.ge(b).ints(), [0, 1, 1])
        XCTAssertEqual(try a.eq(2).ints(), [0, 1, 0])
        XCTAssertEqual(try a.lt(2).ints(), [1, 0, 0])
        XCTAssertEqual(try a.gt(2).ints(), [0, 0, 1])
        XCTAssertEqual(try a.gt(2).logicalAnd(b.lt(2)).ints(), [0, 0, 1])
        XCTAssertEqual(try a.lt(2).logicalNot().ints(), [0, 1, 1])
        // Integer comparisons with broadcasting.
        XCTAssertEqual(try Tensor([1, 2, 3]).eq(Tensor([2])).ints(), [0, 1, 0])
        try assertClose(a.replacing(where: a.gt(1.5), with: b), [1, 2, 1])
    }

    func testMatmul() throws {
        let a = try Tensor([Float(1), 2, 3, 4, 5, 6], shape: [2, 3])
        let b = try Tensor([Float(7), 8, 9, 10, 11, 12], shape: [3, 2])
        // [[1*7+2*9+3*11, 1*8+2*10+3*12], [4*7+5*9+6*11, 4*8+5*10+6*12]]
        try assertClose(a.matmul(b), [58, 64, 139, 154], shape: [2, 2])
        try assertClose(a.matmul(Tensor([Float(1), 0, -1])), [-2, -2], shape: [2])
        let batch = try Tensor.stack([a, a * 2])
        try assertClose(batch.matmul(b), [58, 64, 139, 154, 116, 128, 278, 308], shape: [2, 2, 2])
    }

    func testNormsAndDistances() throws {
        let a = try Tensor([Float(3), 4])
        XCTAssertEqual(try a.norm().item(), 5, accuracy: 1e-6)
        XCTAssertEqual(try a.norm(p: 1).item(), 7, accuracy: 1e-6)
        let x = try Tensor([Float(0), 0, 1, 1], shape: [2, 2])
        let y = try Tensor([Float(3), 4], shape: [1, 2])
        try assertClose(x.pairwiseDistances(y), [5, (4.0 + 9.0).squareRoot()], shape: [2, 1], tolerance: 1e-5)
    }

    /// The L1 kernels (pairwise_l1.cpp) against the same distances composed of element-wise ops:
    /// values, both gradients, and the same bits whatever the thread count.
    func testPairwiseL1MatchesComposedOps() throws {
        var r = TestRandom(41)
        let a = try Tensor(r.floats(37 * 70), shape: [37, 70]).requiringGrad()
        let b = try Tensor(r.floats(29 * 70), shape: [29, 70]).requiringGrad()
        let upstream = try Tensor(r.floats(37 * 29), shape: [37, 29])
        func run(_ f: (Tensor, Tensor) throws -> Tensor) throws -> (Tensor, Tensor, Tensor) {
            for p in [a, b] { try p.zeroGrad() }
            let d = try f(a, b)
            try (d * upstream).sum().backward()
            return (try d.detached(), try XCTUnwrap(a.grad).clone(), try XCTUnwrap(b.grad).clone())
        }
        let fast = try run { try $0.pairwiseDistances($1, p: 1) }
        let composed = try run { try ($0.unsqueezed(1) - $1.unsqueezed(0)).abs().sum(dims: [2]) }
        for (x, y) in [(fast.0, composed.0), (fast.1, composed.1), (fast.2, composed.2)] {
            XCTAssertEqual(x.shape, y.shape)
            XCTAssertLessThan(try (x - y).abs().max().item(), 1e-4)
        }
        // A matrix against itself takes the symmetric path (half the distances, one gradient pass).
        let square = try Tensor(r.floats(37 * 37), shape: [37, 37])
        func runSelf(_ f: (Tensor) throws -> Tensor) throws -> (Tensor, Tensor) {
            try a.zeroGrad()
            let d = try f(a)
            try (d * square).sum().backward()
            return (try d.detached(), try XCTUnwrap(a.grad).clone())
        }
        let selfFast = try runSelf { try $0.pairwiseDistances($0, p: 1) }
        let selfComposed = try runSelf { try ($0.unsqueezed(1) - $0.unsqueezed(0)).abs().sum(dims: [2]) }
        XCTAssertLessThan(try (selfFast.0 - selfComposed.0).abs().max().item(), 1e-4)
        XCTAssertLessThan(try (selfFast.1 - selfComposed.1).abs().max().item(), 1e-4)
        XCTAssertEqual(try selfFast.0.floats(), try selfFast.0.transposed(0, 1).contiguous().floats())
        let threads = TorchThreads.current
        defer { TorchThreads.set(threads) }
        TorchThreads.set(threads == 1 ? 2 : 1)
        let other = try run { try $0.pairwiseDistances($1, p: 1) }
        for (x, y) in [(fast.0, other.0), (fast.1, other.1), (fast.2, other.2)] {
            XCTAssertEqual(try x.floats(), try y.floats())
        }
    }

    func testSoftmaxValues() throws {
        let x = try Tensor([Float(1), 2, 3], shape: [1, 3])
        let z = Foundation.exp(1.0) + Foundation.exp(2) + Foundation.exp(3)
        try assertClose(F.softmax(x), [1, 2, 3].map { Foundation.exp($0) / z }, tolerance: 1e-6)
        try assertClose(F.logSoftmax(x, dim: 1), [1, 2, 3].map { $0 - Foundation.log(z) }, tolerance: 1e-5)
    }
}
