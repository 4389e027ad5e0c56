import BuiltinPlugins
import Config
import FedKit
import FedKitTesting
import Foundation
import Torch
import Trainers
import XCTest

/// docs/plugins.md's worked example (`TrimmedMean`, in PluginGuideExample.swift) compiles, is
/// the code the guide shows, registers, validates in an experiment and aggregates correctly.
final class PluginGuideTests: XCTestCase {
    static let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let guidePath = ExperimentCorpus.packageRoot.appendingPathComponent("docs/plugins.md").path
    static let examplePath = here.appendingPathComponent("PluginGuideExample.swift").path

    /// The fenced blocks of the guide with the given info string (```swift, ```yaml).
    static func blocks(_ language: String) throws -> [String] {
        let text = try String(contentsOfFile: guidePath, encoding: .utf8)
        var blocks: [String] = []
        var current: [Substring]?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if current == nil, line == "```" + language {
                current = []
            } else if current != nil, line == "```" {
                blocks.append(current!.joined(separator: "\n") + "\n")
                current = nil
            } else {
                current?.append(line)
            }
        }
        return blocks
    }

    /// The guide's block that starts with `prefix`.
    static func block(_ language: String, startingWith prefix: String) throws -> String {
        guard let block = try blocks(language).first(where: { $0.hasPrefix(prefix) }) else {
            throw PluginError("docs/plugins.md has no ```\(language) block starting with '\(prefix)'")
        }
        return block
    }

    static let trainerExamplePath = here.appendingPathComponent("PluginGuideTrainerExample.swift").path

    func testGuideShowsTheCompiledExamplesVerbatim() throws {
        let examples = try [Self.examplePath, Self.trainerExamplePath].map {
            try String(contentsOfFile: $0, encoding: .utf8)
        }
        let swift = try Self.blocks("swift")
        XCTAssertEqual(swift.count, 2, "docs/plugins.md should have exactly two ```swift blocks: the compiled examples")
        for (block, (example, file)) in zip(
            swift, zip(examples, ["PluginGuideExample.swift", "PluginGuideTrainerExample.swift"]))
        {
            XCTAssertEqual(
                block, example,
                """
                a ```swift block of docs/plugins.md differs from Tests/FedKitTests/\(file); \
                the two must hold the same text (edit one, copy it to the other)
                """)
        }
    }

    /// The trainer example: a gradient above max_norm is scaled to it, one below is left alone.
    func testTrainerExampleClipsTheGradientNorm() throws {
        func clipped(_ maxNorm: Double) throws -> [Float] {
            let p = try Tensor([Float(0), 0], shape: [2]).requiringGrad()
            try (p * Tensor([Float(3), 4], shape: [2])).sum().backward()  // gradient (3, 4), norm 5
            try ClippedSGDTrainer.make(Parameters().setting(ClippedSGDTrainer.maxNorm, maxNorm)).clip([p])
            return try XCTUnwrap(p.grad).floats()
        }
        let one = try clipped(1)
        XCTAssertEqual(one[0], 0.6, accuracy: 1e-6)
        XCTAssertEqual(one[1], 0.8, accuracy: 1e-6)
        XCTAssertEqual(try clipped(10), [3, 4])
        XCTAssertThrowsError(try ClippedSGDTrainer.make(Parameters().setting(ClippedSGDTrainer.maxNorm, 0)))
    }

    /// On the toy problem: with a bound no gradient reaches it trains exactly as `sgd`; a tight
    /// bound still lowers the loss but moves the model less.
    func testTrainerExampleTrainsLikeSGDUnlessClipped() throws {
        let toy = try ToyProblem()
        func trained(_ trainer: any TrainerPlugin) throws -> (model: StateDict, report: LocalTrainingReport) {
            let context = try toy.context(epochs: 5)
            let report = try trainer.train(context)
            return (try context.model.stateDict().copy(), report)
        }
        let start = try toy.network().stateDict().copy()
        let sgd = try trained(SGDTrainer.make())
        let loose = try trained(ClippedSGDTrainer.make(Parameters().setting(ClippedSGDTrainer.maxNorm, 1e9)))
        XCTAssertEqual(try loose.model.flattened().floats(), try sgd.model.flattened().floats())
        XCTAssertEqual(loose.report.steps, 5 * 5)  // 5 epochs of 40 samples in batches of 8
        let tight = try trained(ClippedSGDTrainer.make(Parameters().setting(ClippedSGDTrainer.maxNorm, 0.01)))
        XCTAssertLessThan(try distance(tight.model, start), try distance(sgd.model, start))
        let tightNetwork = try toy.network()
        try tightNetwork.load(tight.model)
        XCTAssertLessThan(try toy.loss(tightNetwork), try toy.loss(toy.network()))
    }

    /// Both examples registered beside the built-ins and run by the engine for two rounds.
    func testBothExamplesRunTwoRoundsInTheEngine() throws {
        var registry = try registry()
        try registry.register(ClippedSGDTrainer.self)
        let trimmed = try TwoRoundRun.records(registry: registry, method: "fedavg-trimmed")
        XCTAssertEqual(trimmed.map(\.round), [1, 2])
        // 3 clients per round, trim 0.2: floor(0.6) = 0 dropped per side.
        XCTAssertEqual(trimmed.map { $0.server["trimmed_mean.dropped_per_side"] }, [0, 0])
        let clipped = try TwoRoundRun.records(
            registry: registry,
            method: "{ name: fedavg, label: fedavg-clipped, trainer: { name: clipped-sgd, max_norm: 5 } }")
        XCTAssertEqual(clipped.count, 2)
        XCTAssertTrue(clipped.allSatisfy { ($0.globalAccuracy ?? -1) >= 0 && $0.trainLoss.isFinite })
    }

    func presetText() throws -> String {
        try Self.block("yaml", startingWith: "# FedAvg with a coordinate-wise trimmed mean")
    }

    func registry() throws -> PluginRegistry {
        var registry = try BuiltinPlugins.registry()
        try registry.register(TrimmedMean.self)
        try registry.register(method: MethodPreset(yaml: presetText(), file: "fedavg-trimmed.yaml"))
        return registry
    }

    func write(_ text: String) throws -> String {
        let path = try ExperimentCorpus.temporaryFolder(self).appendingPathComponent("robust.yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testTheGuidesExperimentValidates() throws {
        let registry = try registry()
        XCTAssertEqual(registry.descriptor(.aggregator, "trimmed-mean"), TrimmedMean.descriptor)
        XCTAssertEqual(
            registry.methods["fedavg-trimmed"]?.summary,
            "local SGD from the global model, coordinate-wise trimmed mean of the client models")
        let path = try write(try Self.block("yaml", startingWith: "name: robust-fmnist"))
        let spec = try ExperimentLoader(registry: registry).load(file: path)
        XCTAssertEqual(spec.methods.map(\.label), ["fedavg", "fedavg-trimmed", "fedprox-trimmed"])
        XCTAssertEqual(spec.methods.map(\.aggregator.name), ["weighted-average", "trimmed-mean", "trimmed-mean"])
        XCTAssertEqual(spec.methods[1].aggregator.parameters[TrimmedMean.trim], 0.2)
        XCTAssertEqual(spec.methods[2].aggregator.parameters[TrimmedMean.trim], 0.1)
        XCTAssertEqual(spec.methods[2].trainer.name, "prox")
        // The resolved experiment shows the plugin with its parameters.
        let shown = try YAMLParser.parse(string: YAMLEmitter.emit(spec.resolved), fileName: "<shown>")
        XCTAssertEqual(shown["methods"]?.items?[1]["aggregator"]?["name"]?.scalarValue, "trimmed-mean")
        XCTAssertEqual(shown["methods"]?.items?[1]["aggregator"]?["trim"]?.scalarValue, "0.2")
        // The default applies when the file gives none.
        let defaults = try write(
            ExperimentCorpus.validExperiment.replacingOccurrences(
                of: "methods: [fedavg]", with: "methods: [{ name: fedavg, aggregator: { name: trimmed-mean } }]"))
        XCTAssertEqual(
            try ExperimentLoader(registry: registry).load(file: defaults).methods[0].aggregator.parameters[
                TrimmedMean.trim], 0.1)
    }

    func testTheDeclarationIsEnforced() throws {
        let loader = ExperimentLoader(registry: try registry())
        let cases: [(String, String)] = [
            (
                "{ name: trimmed-mean, trim: 0.6 }",
                ":7:67: methods[0].aggregator.trim must be a number in [0, 0.45], got 0.6"
            ),
            (
                "{ name: trimmed-mean, trim: -0.1 }",
                ":7:67: methods[0].aggregator.trim must be a number in [0, 0.45], got -0.1"
            ),
            (
                "{ name: trimmed-mean, trim: lots }",
                ":7:67: methods[0].aggregator.trim must be a number in [0, 0.45], got \"lots\""
            ),
            (
                "{ name: trimmed-mean, trimm: 0.1 }",
                ":7:61: unknown key 'trimm' in methods[0].aggregator (aggregator 'trimmed-mean'); valid keys: name, trim (did you mean 'trim'?)"
            ),
            (
                "{ name: trimed-mean }",
                ":7:47: unknown aggregator 'trimed-mean' in methods[0].aggregator; available: l2gd, none, scaffold, trimmed-mean, weighted-average (did you mean 'trimmed-mean'?)"
            ),
        ]
        for (aggregator, expected) in cases {
            let path = try write(
                ExperimentCorpus.validExperiment.replacingOccurrences(
                    of: "methods: [fedavg]", with: "methods: [{ name: fedavg, aggregator: \(aggregator) }]"))
            XCTAssertThrowsError(try loader.load(file: path), aggregator) { error in
                let first = ExperimentCorpus.firstLine(of: error)
                XCTAssertEqual(first, path + expected)
            }
        }
        XCTAssertThrowsError(try TrimmedMean.make(Parameters().setting(TrimmedMean.trim, 0.5))) { error in
            XCTAssertTrue("\(error)".contains("trim must be a number in [0, 0.45], got 0.5"), "\(error)")
        }
    }

    func state(_ weight: [Float], _ bias: [Float]) throws -> StateDict { try AggregatorHarness.state(weight, bias) }

    /// The plugin built as the registry builds it.
    func trimmed(_ trim: Double) throws -> TrimmedMean {
        try TrimmedMean.make(Parameters().setting(TrimmedMean.trim, trim))
    }

    /// The table of docs/plugins.md, by hand.
    func testAggregatesTheGuidesExampleByHand() throws {
        let values: [(Float, Float, Float)] = [(1, 10, 0), (2, 20, 0), (3, 30, 0), (4, 40, 0), (100, -1000, 50)]
        // Reported sample counts differ: the trimmed mean ignores them.
        let updates = try values.enumerated().map { i, v in
            ClientUpdate(client: i, state: try state([v.0, v.1], [v.2]), samples: 10 * (i + 1))
        }
        let global = try state([0, 0], [0])
        let weight = try XCTUnwrap(global["body.0.weight"])
        try AggregatorHarness.apply(trimmed(0.2), to: global, updates)
        XCTAssertEqual(try weight.floats(), [3, 20], "written into the live global tensors")
        XCTAssertEqual(try global["head.0.bias"]?.floats(), [0])

        // trim 0: the plain mean. trim 0.1 of 5 clients drops floor(0.5) = 0 per side: also the plain mean.
        for trim in [0, 0.1] {
            let plain = try state([0, 0], [0])
            try AggregatorHarness.apply(trimmed(trim), to: plain, updates)
            XCTAssertEqual(try plain["body.0.weight"]?.floats(), [22, -180], "trim \(trim)")
            XCTAssertEqual(try plain["head.0.bias"]?.floats(), [10], "trim \(trim)")
        }
        // 10 clients, trim 0.45: 4 dropped per side, the middle two averaged (the median).
        let ten = try (0..<10).map {
            ClientUpdate(client: $0, state: try state([Float($0 * $0), -Float($0)], [7]), samples: 1)
        }
        let median = try state([0, 0], [0])
        try AggregatorHarness.apply(trimmed(0.45), to: median, ten)
        XCTAssertEqual(try median["body.0.weight"]?.floats(), [(16 + 25) / 2, -4.5])
        XCTAssertEqual(try median["head.0.bias"]?.floats(), [7])
    }

    func testEdgeCases() throws {
        let global = try state([5, 6], [7])
        try AggregatorHarness.apply(trimmed(0.2), to: global, [])
        XCTAssertEqual(try global.flattened().floats(), [5, 6, 7], "no updates: unchanged")
        try AggregatorHarness.apply(
            trimmed(0.45), to: global, [ClientUpdate(client: 3, state: try state([1, 2], [3]), samples: 1)])
        XCTAssertEqual(try global.flattened().floats(), [1, 2, 3], "one client: its model")
        let odd = ClientUpdate(client: 9, state: StateDict([("body.0.weight", try Tensor([Float(1), 2]))]), samples: 1)
        XCTAssertThrowsError(try AggregatorHarness.apply(trimmed(0), to: global, [odd])) { error in
            XCTAssertTrue("\(error)".contains("client 9"), "\(error)")
        }
        XCTAssertTrue(try trimmed(0).updatesGlobalModel)
        XCTAssertEqual(try trimmed(0).communicated(global).names, global.names)
    }

    /// Through the registry, the way the engine builds it from a resolved experiment.
    func testTheRegistryBuildsItFromTheExperiment() throws {
        let registry = try registry()
        let path = try write(try Self.block("yaml", startingWith: "name: robust-fmnist"))
        let spec = try ExperimentLoader(registry: registry).load(file: path)
        let aggregator = try registry.make(spec.methods[1].aggregator, as: (any AggregatorPlugin).self)
        XCTAssertEqual((aggregator as? TrimmedMean)?.trim, 0.2)
        let updates = try [(1, 10, 0), (2, 20, 0), (3, 30, 0), (4, 40, 0), (100, -1000, 50)].enumerated().map { i, v in
            ClientUpdate(client: i, state: try state([Float(v.0), Float(v.1)], [Float(v.2)]), samples: 1)
        }
        let global = try state([0, 0], [0])
        let result = try aggregator.aggregate(updates, global: global)
        XCTAssertEqual(try result.state.flattened().floats(), [3, 20, 0])
    }

    func testListingsShowIt() throws {
        let md = YAMLReference.markdown(try registry())
        XCTAssertTrue(
            md.contains(
                "### `trimmed-mean`\n\ncoordinate-wise trimmed mean of the client models (robust to outlying clients)"))
        XCTAssertTrue(
            md.contains(
                "| `trim` | number in [0, 0.45] | 0.1 | fraction of the clients dropped at each end, per coordinate (0: plain mean) |"
            ))
        XCTAssertTrue(md.contains("| `fedavg-trimmed` |"))
    }
}
