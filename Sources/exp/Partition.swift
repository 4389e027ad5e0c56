import ArgumentParser
import FedKit
import Foundation

/// `exp partition FILE`: the partition summary and per-client class counts, without training,
/// and the partition itself as a file (`from-file` reads it back; flwr-datasets users load the
/// `flwr` layout).
struct Partition: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Partition the data of an experiment, summarise the split and write it as a file.",
        discussion: """
            Writes, in the output folder, partition-seed-<seed>.csv (per-client class counts) and the partition: \
            partition-seed-<seed>.json (--format json: FedKit's partition file, read back by partition: from-file), \
            partition-seed-<seed>.indices.csv (--format csv: client,split,index) or partition-seed-<seed>.flwr.json \
            (--format flwr: a list of the clients' training index lists). Clients' test indices are included when they \
            index the same pool as the training indices (local_test holdout or from-partition).
            """)

    enum Format: String, ExpressibleByArgument, CaseIterable { case json, csv, flwr }

    @OptionGroup var experiment: ExperimentOptions

    @Option(help: "Seed (default: the file's first seed).")
    var seed: Int?

    @Option(
        help: ArgumentHelp(
            "Folder for the class counts and the partition file (default: the experiment's output folder).",
            valueName: "DIR"))
    var out: String?

    @Option(help: "Partition file format: json (FedKit), csv (client,split,index) or flwr (list of index lists).")
    var format: Format = .json

    func run() throws {
        let registry = try builtinRegistry()
        let spec = try experiment.load(registry: registry)
        try checkDataFiles(spec, registry: registry)
        let dataset = try registry.make(spec.dataset, as: (any DatasetPlugin).self).load()
        let seed = self.seed ?? spec.seeds[0]
        let federation = try FederatedData.make(
            spec: spec, dataset: dataset, seed: seed, registry: registry,
            cacheDirectory: "\(spec.output)/.cache/partitions")
        let data = federation.pooledDataset ?? dataset
        let summary = PartitionSummary(
            assignment: federation.assignment, labels: data.train.labelArray, classes: data.classes)
        print(summary.text)
        let validation = federation.clients.reduce(0) { $0 + $1.validation.count }
        let fraction = spec.evaluation[Sections.Evaluation.validationFraction]
        print(
            validation > 0
                ? "validation: \(validation) training samples (eval.validation_fraction \(fraction), stratified per client, seed \(seed)) held out from training; the counts above include them"
                : "validation: none (eval.validation_fraction \(fraction))")
        let dir = out ?? "\(spec.output)/\(spec.name)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = "\(dir)/partition-seed-\(seed).csv"
        try summary.writeCSV(to: path)
        print("per-client class counts: \(path)")

        let localTest = spec.evaluation[Sections.Evaluation.localTest]
        let samePool = localTest == .holdout || localTest == .fromPartition
        // Training lists as partitioned, before the validation split (eval.validation_fraction), which
        // FedKit carves again, identically, from the same seed when it reads the file back.
        let file = PartitionFile(
            pool: federation.pool,
            clients: federation.clients.enumerated().map { k, client in
                let held = samePool ? Set(client.testIndices) : []
                return PartitionFile.Client(
                    id: String(k), train: federation.assignment[k].filter { !held.contains($0) },
                    test: samePool ? client.testIndices : nil)
            })
        let (name, text): (String, String)
        switch format {
        case .json: (name, text) = ("partition-seed-\(seed).json", file.jsonText)
        case .csv: (name, text) = ("partition-seed-\(seed).indices.csv", file.csvText)
        case .flwr: (name, text) = ("partition-seed-\(seed).flwr.json", file.flwrText)
        }
        try RunWriter.writeAtomically(text, to: "\(dir)/\(name)")
        let tests = samePool && format != .flwr ? "training and test indices" : "training indices"
        print("partition (\(format.rawValue), \(tests) into the \(file.pool.rawValue) pool): \(dir)/\(name)")
        if !samePool {
            print(
                "(clients' test splits are not in the file: local_test \(localTest.rawValue) draws them from the test set, another pool)"
            )
        }
    }
}
