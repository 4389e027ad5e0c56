import BuiltinPlugins
import Config
import FedKit
import Foundation
import Partitioners
import XCTest

/// Partition files (`from-file`, `exp partition --out`, `local_test: from-partition`).
final class PartitionFileTests: XCTestCase {
    static let sample = PartitionFile(
        pool: .trainTest,
        clients: [
            .init(id: "a", train: [0, 5, 2], test: [7]),
            .init(id: "b", train: [1, 3]),
            .init(id: "c 3", train: [4], test: [6, 8]),
        ])

    func testJSONAndCSVRoundTrip() throws {
        let file = Self.sample
        XCTAssertEqual(try PartitionFile.parseJSON(Data(file.jsonText.utf8), path: "p.json", pool: nil), file)
        XCTAssertEqual(try PartitionFile.parseJSON(Data(file.jsonText.utf8), path: "p.json", pool: .trainTest), file)
        XCTAssertEqual(try PartitionFile.parseCSV(file.csvText, path: "p.csv", pool: .trainTest), file)
        // The flwr layout keeps the training lists only.
        let flwr = try PartitionFile.parseJSON(Data(file.flwrText.utf8), path: "p.json", pool: .trainTest)
        XCTAssertEqual(flwr.clients.map(\.train), file.clients.map(\.train))
        XCTAssertEqual(flwr.clients.map(\.id), ["0", "1", "2"])
        XCTAssertFalse(flwr.hasTestIndices)
        // Files on disk, chosen by extension.
        let dir = try DataTestSupport.temporaryDirectory("fedkit-partfile")
        try DataTestSupport.write(file.jsonText, to: "\(dir)/p.json")
        try DataTestSupport.write(file.csvText, to: "\(dir)/p.csv")
        XCTAssertEqual(try PartitionFile.read(path: "\(dir)/p.json", pool: nil), file)
        XCTAssertEqual(try PartitionFile.read(path: "\(dir)/p.csv", pool: .trainTest), file)
        XCTAssertNoThrow(try file.validate(poolSize: 9, path: "p.json"))
    }

    func testBadFiles() throws {
        func check(_ file: PartitionFile, poolSize: Int, _ expected: String, line: UInt = #line) {
            XCTAssertThrowsError(try file.validate(poolSize: poolSize, path: "bad.json"), line: line) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error)", line: line)
                XCTAssertTrue("\(error)".contains("bad.json"), "\(error)", line: line)
            }
        }
        check(
            Self.sample, poolSize: 8,
            "client 'c 3' test[1] = 8 is outside the train+test pool (0..<8)")
        check(
            PartitionFile(pool: .train, clients: [.init(id: "0", train: [0, 1]), .init(id: "1", train: [2, -1])]),
            poolSize: 5,
            "client '1' train[1] = -1 is outside the train pool (0..<5)")
        check(
            PartitionFile(
                pool: .train, clients: [.init(id: "0", train: [0, 1], test: [3]), .init(id: "1", train: [2, 3])]),
            poolSize: 5,
            "sample 3 is given twice: client '0' test and client '1' train")
        check(
            PartitionFile(pool: .train, clients: [.init(id: "0", train: [0]), .init(id: "1", train: [], test: [1])]),
            poolSize: 5,
            "client '1' (entry 1) has no training samples")
        check(
            PartitionFile(pool: .train, clients: [.init(id: "0", train: [0]), .init(id: "0", train: [1])]), poolSize: 5,
            "client id '0' appears twice")

        func parseError(
            _ text: String, csv: Bool = false, pool: SamplePool? = nil, _ expected: String, line: UInt = #line
        ) {
            XCTAssertThrowsError(
                try csv
                    ? PartitionFile.parseCSV(text, path: "bad.csv", pool: pool ?? .train)
                    : PartitionFile.parseJSON(Data(text.utf8), path: "bad.json", pool: pool), line: line
            ) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(error)", line: line)
            }
        }
        parseError(#"{"clients": [{"train": [1, 2.5]}]}"#, "clients[0].train[1] is 2.5, not an integer index")
        parseError(
            #"{"pool": "train", "clients": [{"train": [1]}]}"#, pool: .trainTest,
            "declares pool 'train' but partition.pool is 'train+test'")
        parseError(#"{"pool": "all", "clients": []}"#, "pool must be one of train, test, train+test")
        parseError(#"{"clients": [{"train": [1], "tset": [2]}]}"#, "unknown key 'tset'")
        parseError(#"{"clients": [{"train": [1]}"#, "is not valid JSON")
        parseError(
            "client,split,index\n0,train,1\n0,valid,2\n", csv: true,
            "bad.csv:3: split must be train or test, got 'valid'")
        parseError("client,split,index\n0,train,x\n", csv: true, "bad.csv:2: index 'x' is not an integer")
        parseError("id,index\n", csv: true, "bad.csv:1: the header must be client,split,index")
    }

    static func yaml(partition: String, localTest: String, output: String) -> String {
        """
        name: partfile
        seeds: [3]
        output: "\(output)"
        dataset: { name: synthetic, users: 8, features: 6, classes: 3, size_min: 12, size_max: 30 }
        partition: \(partition)
        model: { name: mlp, hidden: [4] }
        federation: { rounds: 1, fraction: 1.0, local_epochs: 1, batch_size: 8, workers: 1 }
        eval: { local_test: \(localTest), holdout_fraction: 0.25 }
        methods: [fedavg]
        """
    }

    /// `exp partition --out` writes a file that `from-file` reads back to the same clients, with the
    /// same training and test samples (`local_test: from-partition`).
    func testExportedPartitionReadsBackIdentically() throws {
        let dir = try DataTestSupport.temporaryDirectory("fedkit-partexport")
        let original = Self.yaml(
            partition: "{ name: dirichlet, alpha: 0.5, clients: 5, min_size: 4 }", localTest: "holdout", output: dir)
        try DataTestSupport.write(original, to: "\(dir)/original.yaml")
        let result = try ExpTool.run(["partition", "\(dir)/original.yaml", "--out", dir])
        XCTAssertEqual(result.status, 0, result.summary)
        let written = try PartitionFile.read(path: "\(dir)/partition-seed-3.json", pool: nil)

        let registry = EngineFixture.registry
        let spec = try EngineFixture.spec(original)
        let dataset = try registry.make(spec.dataset, as: (any DatasetPlugin).self).load()
        let expected = try FederatedData.make(
            spec: spec, dataset: dataset, seed: 3, registry: registry, cacheDirectory: nil)
        XCTAssertEqual(written.pool, .train)
        // The file holds each client's samples before the validation split (carved again when read back).
        XCTAssertEqual(
            written.clients.map { Set($0.train) }, expected.clients.map { Set($0.trainIndices + $0.validationIndices) })
        XCTAssertEqual(written.clients.map { $0.test ?? [] }, expected.clients.map(\.testIndices))
        XCTAssertTrue(
            expected.clients.contains { !$0.validationIndices.isEmpty }, "the default validation split applies")

        let reread = try EngineFixture.spec(
            Self.yaml(
                partition: "{ name: from-file, path: \"\(dir)/partition-seed-3.json\", clients: 5 }",
                localTest: "from-partition", output: dir))
        let again = try FederatedData.make(
            spec: reread, dataset: dataset, seed: 3, registry: registry, cacheDirectory: nil)
        XCTAssertEqual(again.clients.map(\.trainIndices), expected.clients.map(\.trainIndices))
        XCTAssertEqual(again.clients.map(\.testIndices), expected.clients.map(\.testIndices))
        XCTAssertEqual(again.clients.map(\.test.labelArray), expected.clients.map(\.test.labelArray))
        XCTAssertEqual(again.clients.map(\.train.labelArray), expected.clients.map(\.train.labelArray))
        XCTAssertEqual(again.clients.map(\.validationIndices), expected.clients.map(\.validationIndices))
        XCTAssertNil(again.pooledDataset)

        // The flwr layout: training lists only.
        XCTAssertEqual(
            try ExpTool.run(["partition", "\(dir)/original.yaml", "--out", dir, "--format", "flwr"]).status, 0)
        let flwr = try PartitionFile.read(path: "\(dir)/partition-seed-3.flwr.json", pool: nil)
        XCTAssertEqual(flwr.clients.map(\.train), written.clients.map(\.train))
    }

    /// Pool train+test: the runs' training set is the pool, the global test set the clients' test samples.
    func testTrainPlusTestPoolSemantics() throws {
        let registry = EngineFixture.registry
        let dir = try DataTestSupport.temporaryDirectory("fedkit-partpool")
        let probe = try EngineFixture.spec(
            Self.yaml(partition: "{ name: iid, clients: 2 }", localTest: "matched", output: dir))
        let dataset = try registry.make(probe.dataset, as: (any DatasetPlugin).self).load()
        let n = dataset.train.count, m = dataset.test.count
        // Client 0: train samples 0, 1 and test sample n (= test set sample 0); client 1: train 2 and test sample 3.
        let file = PartitionFile(
            pool: .trainTest,
            clients: [.init(id: "x", train: [0, 1], test: [n]), .init(id: "y", train: [2, n + m - 1], test: [3])])
        try DataTestSupport.write(file.jsonText, to: "\(dir)/pool.json")
        let spec = try EngineFixture.spec(
            Self.yaml(
                partition: "{ name: from-file, path: \"\(dir)/pool.json\", clients: 2 }",
                localTest: "from-partition", output: dir))
        let data = try FederatedData.make(
            spec: spec, dataset: dataset, seed: 3, registry: registry, cacheDirectory: nil)
        let pooled = try XCTUnwrap(data.pooledDataset)
        XCTAssertEqual(pooled.train.count, n + m)
        XCTAssertEqual(pooled.test.labelArray, [dataset.train.labelArray[3], dataset.test.labelArray[0]])  // sorted pool rows 3, n
        XCTAssertEqual(data.clients[0].test.labelArray, [dataset.test.labelArray[0]])
        XCTAssertEqual(data.clients[1].train.labelArray, [dataset.train.labelArray[2], dataset.test.labelArray[m - 1]])
        XCTAssertEqual(data.pool, .trainTest)

        // Test indices in the file must be used; a pool with the test set needs them.
        let ignored = try EngineFixture.spec(
            Self.yaml(
                partition: "{ name: from-file, path: \"\(dir)/pool.json\", clients: 2 }",
                localTest: "matched", output: dir))
        XCTAssertThrowsError(
            try FederatedData.make(spec: ignored, dataset: dataset, seed: 3, registry: registry, cacheDirectory: nil)
        ) {
            XCTAssertTrue("\($0)".contains("set eval.local_test: from-partition"), "\($0)")
        }
        try DataTestSupport.write(
            PartitionFile(pool: .trainTest, clients: [.init(id: "x", train: [0])]).jsonText, to: "\(dir)/notest.json")
        let noTests = try EngineFixture.spec(
            Self.yaml(
                partition: "{ name: from-file, path: \"\(dir)/notest.json\", clients: 2 }",
                localTest: "matched", output: dir))
        XCTAssertThrowsError(
            try FederatedData.make(spec: noTests, dataset: dataset, seed: 3, registry: registry, cacheDirectory: nil)
        ) {
            XCTAssertTrue("\($0)".contains("every client needs test indices"), "\($0)")
        }
        let notFromFile = try EngineFixture.spec(
            Self.yaml(partition: "{ name: iid, clients: 2 }", localTest: "from-partition", output: dir))
        XCTAssertThrowsError(
            try FederatedData.make(
                spec: notFromFile, dataset: dataset, seed: 3, registry: registry, cacheDirectory: nil)
        ) {
            XCTAssertTrue("\($0)".contains("from-partition needs partition: from-file"), "\($0)")
        }
    }

    /// A whole run on a train+test pool: global accuracy is measured on the clients' test samples.
    func testRunOnPooledPartition() throws {
        let registry = EngineFixture.registry
        let dir = try DataTestSupport.temporaryDirectory("fedkit-partrun")
        let probe = try EngineFixture.spec(
            Self.yaml(partition: "{ name: iid, clients: 2 }", localTest: "matched", output: dir))
        let dataset = try registry.make(probe.dataset, as: (any DatasetPlugin).self).load()
        let n = dataset.train.count, m = dataset.test.count
        let all = Array(0..<(n + m))
        let file = PartitionFile(
            pool: .trainTest,
            clients: [
                .init(id: "0", train: Array(all[0..<(n / 2)]), test: Array(all[(n / 2)..<(n / 2 + 5)])),
                .init(id: "1", train: Array(all[(n / 2 + 5)..<(n + m - 5)]), test: Array(all[(n + m - 5)...])),
            ])
        try DataTestSupport.write(file.csvText, to: "\(dir)/pool.csv")
        let yaml = Self.yaml(
            partition: "{ name: from-file, path: \"\(dir)/pool.csv\", pool: train+test, clients: 2 }",
            localTest: "from-partition", output: dir)
        let runner = ExperimentRunner(spec: try EngineFixture.spec(yaml), registry: registry)
        runner.log = { _ in }
        let outcome = try runner.run()
        XCTAssertEqual(outcome.failures.count, 0)
        XCTAssertEqual(outcome.results.count, 1)
    }
}
