import Foundation
import XCTest

@testable import Torch

final class StateDictTests: XCTestCase {
    func makeNet(seed: UInt64) throws -> Network {
        let g = RandomGenerator(seed: seed)
        return try Network(
            body: [Linear(3, 4, generator: g), BatchNorm(4), Activation.relu],
            head: [Linear(4, 2, generator: g)], generator: g)
    }

    func testFlattenedAndLoadFlatRoundTrip() throws {
        let net = try makeNet(seed: 1)
        let state = net.stateDict()
        XCTAssertEqual(
            state.names,
            [
                "body.0.weight", "body.0.bias", "body.1.weight", "body.1.bias", "head.0.weight",
                "head.0.bias", "body.1.running_mean", "body.1.running_var",
            ])
        XCTAssertEqual(state.scalarCount, 12 + 4 + 4 + 4 + 8 + 2 + 4 + 4)
        let flat = try state.flattened()
        XCTAssertEqual(flat.shape, [state.scalarCount])
        XCTAssertFalse(flat.requiresGrad)
        let expected = try state.tensors.flatMap { try $0.floats() }
        XCTAssertEqual(try flat.floats(), expected)

        // Scatter a modified vector back: the model's own tensors change in place.
        let doubled = try flat * 2 + 1
        try state.load(flat: doubled)
        XCTAssertEqual(try net.stateDict().flattened().floats(), try doubled.floats())
        XCTAssertTrue(net.head.layers[0].localParameters[0].tensor.requiresGrad)
        // Round trip into a second model.
        let other = try makeNet(seed: 2)
        XCTAssertNotEqual(try other.stateDict().flattened().floats(), try doubled.floats())
        try other.stateDict().load(flat: net.stateDict().flattened())
        XCTAssertEqual(try other.stateDict().flattened().floats(), try doubled.floats())

        // Wrong sizes are errors that name both counts.
        XCTAssertThrowsError(try state.load(flat: Tensor.zeros([5]))) { error in
            XCTAssertTrue(
                "\(error)".contains("flat vector has 5 elements, the tensors need \(state.scalarCount)"), "\(error)")
        }
        XCTAssertThrowsError(try state.load(flat: Tensor.zeros([2, state.scalarCount / 2])))
        XCTAssertEqual(try StateDict([]).flattened().shape, [0])
    }

    func testCopyIsASnapshot() throws {
        let net = try makeNet(seed: 3)
        let snapshot = try net.stateDict().copy()
        let before = try snapshot.flattened().floats()
        try withoutGrad { for p in net.parameters { try p.fill_(0) } }
        XCTAssertEqual(try snapshot.flattened().floats(), before)
        XCTAssertFalse(snapshot["body.0.weight"]!.requiresGrad)
        try net.load(snapshot)
        XCTAssertEqual(try net.stateDict().flattened().floats(), before)
    }

    func testCopyValuesStrictMismatches() throws {
        let net = try makeNet(seed: 4)
        let state = net.stateDict()
        let missing = state.filter { $0 != "head.0.bias" }
        XCTAssertThrowsError(try state.copyValues(from: missing, strict: true)) { error in
            XCTAssertEqual("\(error)", "load_state_dict: missing keys [\"head.0.bias\"], unexpected keys []")
        }
        let extra = StateDict(
            missing.entries + [("head.0.bias", try Tensor.zeros([2])), ("extra", try Tensor.zeros([1]))])
        XCTAssertThrowsError(try state.copyValues(from: extra, strict: true)) { error in
            XCTAssertEqual("\(error)", "load_state_dict: missing keys [], unexpected keys [\"extra\"]")
        }
        // Non-strict: missing entries keep their values, unexpected ones are ignored.
        let bias = try state["head.0.bias"]!.floats()
        let zeros = StateDict(
            try missing.entries.map { ($0.name, try $0.tensor.zerosLike()) } + [("extra", try Tensor.zeros([1]))])
        try state.copyValues(from: zeros, strict: false)
        XCTAssertEqual(try state["head.0.bias"]!.floats(), bias)
        XCTAssertEqual(try state["head.0.weight"]!.floats(), [Float](repeating: 0, count: 8))
        // Shape mismatches are errors even when not strict.
        let wrongShape = StateDict([("head.0.bias", try Tensor.zeros([3]))])
        XCTAssertThrowsError(try state.copyValues(from: wrongShape, strict: false)) { error in
            XCTAssertEqual("\(error)", "load_state_dict: head.0.bias: expected shape [2], got [3]")
        }
        XCTAssertThrowsError(try net.load(missing))  // Layer.load is strict by default
        XCTAssertNoThrow(try net.load(missing, strict: false))
    }

    func testSubscriptFilterUnder() throws {
        let state = try makeNet(seed: 5).stateDict()
        XCTAssertEqual(state["body.0.weight"]?.shape, [4, 3])
        XCTAssertNil(state["nope"])
        XCTAssertEqual(state.under("head").names, ["head.0.weight", "head.0.bias"])
        XCTAssertEqual(
            state.under("body.1").names, ["body.1.weight", "body.1.bias", "body.1.running_mean", "body.1.running_var"])
        XCTAssertTrue(state.filter { _ in false }.isEmpty)
    }
}
