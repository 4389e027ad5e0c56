import Aggregators
import BuiltinPlugins
import Config
import Datasets
import FedKit
import FedKitTesting
import Partitioners
import Torch
import Trainers
import XCTest

/// A second type that claims the built-in name `sgd`.
struct ImpostorTrainer: TrainerPlugin {
    static let descriptor = PluginDescriptor(kind: .trainer, name: "sgd", summary: "test only: a taken name")
    init(parameters: Parameters) throws {}
    func train(_ context: ClientTrainingContext) throws -> LocalTrainingReport {
        LocalTrainingReport(trainLoss: 0, steps: 0)
    }
}

/// The parameter mechanism and the registry's rules (docs/plugins.md §2-3).
final class PluginSurfaceTests: XCTestCase {
    func testASecondPluginWithATakenNameIsRefusedNamingBoth() throws {
        var registry = try BuiltinPlugins.registry()
        XCTAssertThrowsError(try registry.register(ImpostorTrainer.self)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("trainer 'sgd' is registered twice"), text)
            XCTAssertTrue(text.contains("SGDTrainer") && text.contains("ImpostorTrainer"), text)
        }
        XCTAssertThrowsError(try registry.register(method: registry.methods["fedavg"]!)) { error in
            XCTAssertTrue("\(error)".contains("method preset 'fedavg' is registered twice"), "\(error)")
        }
    }

    func testMakeValidatesAndFillsDefaultsLikeTheRegistry() throws {
        // Defaults filled: the declared default arrives without being given.
        XCTAssertEqual(try ProxTrainer.make().mu, 0.01)
        // Ranges, unknown names and required keys are checked before init.
        XCTAssertThrowsError(try ProxTrainer.make(Parameters().setting(ProxTrainer.mu, 0))) { error in
            XCTAssertEqual("\(error)", "trainer 'prox': mu must be a number > 0, got 0")
        }
        XCTAssertThrowsError(try ProxTrainer.make(Parameters(["muu": .double(1)]))) { error in
            XCTAssertTrue(
                "\(error)".contains("trainer 'prox' has no parameter 'muu'; declared: mu (did you mean 'mu'?)"),
                "\(error)")
        }
        XCTAssertThrowsError(try DirichletPartitionerFixture.make(Parameters())) { error in
            XCTAssertTrue("\(error)".contains("alpha is required"), "\(error)")
        }
        // The registry builds through the same path.
        let registry = try BuiltinPlugins.registry()
        let choice = PluginChoice(kind: .trainer, name: "prox", parameters: Parameters(["mu": .double(-1)]))
        XCTAssertThrowsError(try registry.make(choice, as: (any TrainerPlugin).self)) { error in
            XCTAssertTrue("\(error)".contains("mu must be a number > 0, got -1"), "\(error)")
        }
    }

    func testChoicesComeFromCaseIterableEnums() throws {
        let spec = WeightedAverage.descriptor.parameters.first { $0.name == "scope" }
        XCTAssertEqual(spec?.type, .string(choices: WeightedAverage.Scope.allCases.map(\.rawValue)))
        let body = try WeightedAverage.make(Parameters().setting(WeightedAverage.scope, .body))
        XCTAssertEqual(body.scope, .body)
        XCTAssertEqual(try WeightedAverage.make().weighting, .samples)
        XCTAssertThrowsError(try WeightedAverage.make(Parameters(["scope": .string("head")]))) { error in
            XCTAssertTrue("\(error)".contains("scope must be one of: all, body, top; got \"head\""), "\(error)")
        }
    }

    /// A check across parameters (`validate()`) is a configuration error at the plugin's mapping.
    func testValidateHookIsAConfigurationError() throws {
        let yaml = TwoRoundRun.yaml(method: "fedavg").replacingOccurrences(
            of: "size_min: 10, size_max: 80", with: "size_min: 90, size_max: 80")
        let loader = ExperimentLoader(registry: try BuiltinPlugins.registry())
        XCTAssertThrowsError(try loader.resolve(YAMLParser.parse(string: yaml, fileName: "v.yaml"), file: "v.yaml")) {
            error in
            XCTAssertTrue("\(error)".contains("v.yaml:3:"), "\(error)")
            XCTAssertTrue("\(error)".contains("synthetic: size_max (80) must be >= size_min (90)"), "\(error)")
        }
    }

    func testTopLevelAndMethodKeysAreDeclaredAndListed() throws {
        let md = YAMLReference.markdown(try BuiltinPlugins.registry())
        for spec in Sections.topLevel + Sections.method {
            XCTAssertTrue(md.contains("| `\(spec.name)` | \(spec.type.summary) | \(spec.defaultText) |"), spec.name)
        }
        XCTAssertEqual(Sections.personal.spec.type, .string(choices: ["none", "head", "model", "unshared"]))
    }

    func testFixedTeachersHarness() throws {
        let harness = try FixedTeachers()
        XCTAssertEqual(harness.context.teachers.map(\.classCounts), [[20, 0], [0, 20]])
        XCTAssertNotEqual(
            try harness.context.teachers[0].state.flattened().floats(),
            try harness.context.teachers[1].state.flattened().floats())
        XCTAssertEqual(harness.context.inputShape, [2])
    }
}

/// `dirichlet`, whose alpha has no default (a required parameter).
typealias DirichletPartitionerFixture = Partitioners.DirichletPartitioner

/// manifest.json's commit is the one embedded at build time (BuildCommitPlugin).
final class BuildCommitTests: XCTestCase {
    func testTheEmbeddedCommitIsAHashOrUnknown() throws {
        let commit = Provenance.gitCommit()
        let hash = commit.split(separator: "+", maxSplits: 1).first.map(String.init) ?? ""
        let suffix = commit.dropFirst(hash.count)
        XCTAssertTrue(commit == "unknown" || (hash.count == 40 && hash.allSatisfy(\.isHexDigit)), commit)
        XCTAssertTrue(["", "+dirty", "+archive", "+unknown-status"].contains(String(suffix)), commit)
    }

    /// In a git checkout the embedded commit is the checkout's HEAD (the build that made this test
    /// binary ran after the last commit): a stale embedding is what this catches.
    func testTheEmbeddedCommitIsTheCheckoutsHead() throws {
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "-C", package.path, "rev-parse", "HEAD"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { throw XCTSkip("no git on this machine") }
        let head = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        process.waitUntilExit()
        guard process.terminationStatus == 0, head.count == 40 else {
            throw XCTSkip("\(package.path) is not a git checkout (a source archive)")
        }
        let commit = Provenance.gitCommit()
        XCTAssertEqual(String(commit.prefix(40)), head, "embedded \(commit); rebuild after committing")
    }
}
