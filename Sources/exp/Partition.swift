import ArgumentParser
import FedKit
import Foundation

/// `exp partition FILE`: the partition summary and per-client class counts, without training.
struct Partition: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Partition the data of an experiment and summarise the split.")

    @OptionGroup var experiment: ExperimentOptions

    @Option(help: "Seed (default: the file's first seed).")
    var seed: Int?

    @Option(help: ArgumentHelp("Folder for the per-client class counts CSV (default: the experiment's output folder).", valueName: "DIR"))
    var out: String?

    func run() throws {
        let registry = try builtinRegistry()
        let spec = try experiment.load(registry: registry)
        try checkDataFiles(spec, registry: registry)
        let dataset = try registry.make(spec.dataset, as: (any DatasetPlugin).self).load()
        let seed = self.seed ?? spec.seeds[0]
        let federation = try FederatedData.make(spec: spec, dataset: dataset, seed: seed, registry: registry,
                                                cacheDirectory: "\(spec.output)/.cache/partitions")
        let summary = PartitionSummary(assignment: federation.assignment, labels: dataset.train.labelArray, classes: dataset.classes)
        print(summary.text)
        let validation = federation.clients.reduce(0) { $0 + $1.validation.count }
        let fraction = spec.evaluation.double("validation_fraction")
        print(validation > 0
              ? "validation: \(validation) training samples (eval.validation_fraction \(fraction), stratified per client, seed \(seed)) held out from training; the counts above include them"
              : "validation: none (eval.validation_fraction \(fraction))")
        let dir = out ?? "\(spec.output)/\(spec.name)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = "\(dir)/partition-seed-\(seed).csv"
        try summary.writeCSV(to: path)
        print("per-client class counts: \(path)")
    }
}
