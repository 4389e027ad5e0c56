import Aggregators
import FedKit
import Methods
import Torch
import XCTest

final class AggregatorTests: XCTestCase {
    /// A state with a body weight, a body buffer (batch-norm running mean) and a head weight,
    /// every value `v` (and `v + offset` per position for the weight, so positions differ).
    func state(_ v: Float) throws -> StateDict {
        StateDict([
            ("body.0.weight", try Tensor([v, v + 1, v + 2, v + 3], shape: [2, 2])),
            ("body.1.running_mean", try Tensor([v * 10, v * 20])),
            ("head.0.weight", try Tensor([v, -v])),
        ])
    }

    func aggregator(_ parameters: [String: ParameterValue] = [:]) throws -> WeightedAverage {
        try WeightedAverage.make(Parameters(parameters))
    }

    /// Aggregates and writes the result into `global`, as the engine does.
    func apply(_ aggregator: some AggregatorPlugin, to global: StateDict, _ updates: [ClientUpdate]) throws {
        try global.update(from: aggregator.aggregate(updates, global: global).state)
    }

    func updates(_ values: [Float], samples: [Int]) throws -> [ClientUpdate] {
        try zip(values, samples).enumerated().map {
            ClientUpdate(client: $0.offset, state: try state($0.element.0), samples: $0.element.1)
        }
    }

    func assertValues(_ tensor: Tensor?, _ expected: [Float], file: StaticString = #filePath, line: UInt = #line) throws
    {
        let values = try XCTUnwrap(tensor, file: file, line: line).floats()
        XCTAssertEqual(values.count, expected.count, file: file, line: line)
        for (a, b) in zip(values, expected) { XCTAssertEqual(a, b, accuracy: 1e-5, file: file, line: line) }
    }

    func testSampleWeightedMeanOfParametersAndBuffers() throws {
        let global = try state(0)
        let aggregate = try aggregator()
        XCTAssertTrue(aggregate.updatesGlobalModel)
        try apply(aggregate, to: global, updates([1, 2, 4], samples: [1, 2, 5]))
        let mean: Float = (1 * 1 + 2 * 2 + 4 * 5) / 8  // 3.125
        try assertValues(global["body.0.weight"], [mean, mean + 1, mean + 2, mean + 3])
        try assertValues(global["body.1.running_mean"], [mean * 10, mean * 20])
        try assertValues(global["head.0.weight"], [mean, -mean])
    }

    func testAggregationReturnsNewValuesAndLeavesTheGlobalStateAlone() throws {
        let global = try state(0)
        let result = try aggregator().aggregate(try updates([2], samples: [3]), global: global)
        try assertValues(result.state["body.0.weight"], [2, 3, 4, 5])
        try assertValues(global["body.0.weight"], [0, 1, 2, 3])
        XCTAssertTrue(result.metrics.isEmpty)
    }

    func testUniformWeighting() throws {
        let global = try state(0)
        try apply(aggregator(["weighting": .string("uniform")]), to: global, updates([1, 2, 6], samples: [1, 2, 500]))
        try assertValues(global["head.0.weight"], [3, -3])
    }

    func testBodyScopeLeavesTheHeadUntouched() throws {
        let global = try state(100)
        let aggregate = try aggregator(["scope": .string("body")])
        try apply(aggregate, to: global, updates([1, 3], samples: [1, 1]))
        try assertValues(global["body.0.weight"], [2, 3, 4, 5])
        try assertValues(global["body.1.running_mean"], [20, 40])
        try assertValues(global["head.0.weight"], [100, -100])
        XCTAssertEqual(aggregate.communicated(global).names, ["body.0.weight", "body.1.running_mean"])
        XCTAssertEqual(try aggregator().communicated(global).names.count, 3)
    }

    func testMismatchedUpdatesAreRejected() throws {
        let global = try state(0)
        let odd = ClientUpdate(
            client: 7, state: StateDict([("body.0.weight", try Tensor([1, 2, 3, 4], shape: [2, 2]))]), samples: 1)
        XCTAssertThrowsError(try apply(aggregator(), to: global, [odd])) { error in
            XCTAssertTrue("\(error)".contains("client 7"), "\(error)")
        }
        XCTAssertThrowsError(try apply(aggregator(), to: global, updates([1], samples: [0])))
    }

    func testNoUpdatesLeaveTheGlobalModelUnchanged() throws {
        let global = try state(5)
        try apply(aggregator(), to: global, [])
        try assertValues(global["head.0.weight"], [5, -5])
    }

    func testNoneNeverChangesTheGlobalModel() throws {
        let none = try NoAggregation.make()
        XCTAssertFalse(none.updatesGlobalModel)
        let global = try state(5)
        try apply(none, to: global, updates([1, 2], samples: [1, 1]))
        XCTAssertEqual(try global.flattened().floats(), try state(5).flattened().floats())
        XCTAssertTrue(none.communicated(global).isEmpty)
    }

    func testDescriptors() {
        XCTAssertEqual(
            Array(AggregatorCatalog.plugins.map { $0.descriptor.name }.prefix(2)), ["weighted-average", "none"])
    }

    /// The presets this module's plugins compose into name registered plugins and the right flags.
    func testMethodPresets() throws {
        let presets = Dictionary(uniqueKeysWithValues: try MethodPresets.all().map { ($0.name, $0) })
        let expected:
            [String: (trainer: String, aggregator: String, scope: String?, personal: String, start: String?)] = [
                "fedavg": ("sgd", "weighted-average", "all", "none", nil),
                "fedprox": ("prox", "weighted-average", "all", "none", nil),
                "local": ("sgd", "none", nil, "model", "personal"),
                "fedper": ("sgd", "weighted-average", "body", "head", "global-body"),
                "fedrep": ("head-then-body", "weighted-average", "body", "head", "global-body"),
                "ditto": ("ditto", "weighted-average", "all", "model", "global"),
            ]
        for (name, e) in expected {
            let preset = try XCTUnwrap(presets[name], name)
            XCTAssertFalse(preset.summary.isEmpty, name)
            XCTAssertEqual(preset.node["trainer"]?["name"]?.scalarValue, e.trainer, name)
            XCTAssertEqual(preset.node["aggregator"]?["name"]?.scalarValue, e.aggregator, name)
            XCTAssertEqual(preset.node["aggregator"]?["scope"]?.scalarValue, e.scope, name)
            XCTAssertEqual(preset.node["personal"]?.scalarValue, e.personal, name)
            XCTAssertEqual(preset.node["local_start"]?.scalarValue, e.start, name)
        }
        XCTAssertEqual(presets["fedprox"]?.node["trainer"]?["mu"]?.scalarValue, "0.01")
        XCTAssertEqual(presets["ditto"]?.node["trainer"]?["lambda"]?.scalarValue, "1")
    }
}
