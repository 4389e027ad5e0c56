import Foundation
import Torch

/// The partition of one seed and the per-client train/test data built from it; shared by
/// every method of that seed.
public struct FederatedData: @unchecked Sendable {
    public var assignment: [[Int]]
    public var clients: [ClientData]
    public var partitionHash: String
    public var summaryLine: String
    /// Sizes and per-class counts of the partition (partition.csv of every run of this seed).
    public var partition: PartitionSummary
    /// The data the runs use when the partition brings its own pool (`from-file` with pool
    /// `test` or `train+test`): the pool as the training set and the clients' test samples as
    /// the test set (docs/datasets.md, "Partition files"). Nil: the dataset as loaded.
    public var pooledDataset: DatasetSplits?
    /// What the clients' training indices (and test indices, for holdout and from-partition) refer to.
    public var pool: SamplePool = .train

    /// Partitions the training set (through the on-disk cache) and assembles client data.
    public static func make(
        spec: ExperimentSpec, dataset: DatasetSplits, seed: Int, registry: PluginRegistry,
        cacheDirectory: String?
    ) throws -> FederatedData {
        let partitioner = try registry.make(spec.partitioner, as: (any PartitionerPlugin).self)
        let evaluation = spec.evaluation
        let localTest = evaluation[Sections.Evaluation.localTest]
        if let source = partitioner as? any PartitionFileSource {
            let file = try source.partitionFile(trainCount: dataset.train.count, testCount: dataset.test.count)
            return try make(file: file, spec: spec, dataset: dataset, seed: seed)
        }
        if localTest == .fromPartition {
            throw PluginError(
                "eval.local_test: from-partition needs partition: from-file (a partition file with test indices); \(spec.partitioner.name) gives none"
            )
        }
        let request = PartitionRequest(
            labels: dataset.train.labelArray, classes: dataset.classes, users: dataset.trainUsers,
            clients: spec.clients)
        let key = PartitionCache.Key(
            datasetHash: dataset.contentHash, partitioner: spec.partitioner.name,
            parameters: ResolvedExperiment.parameterText(spec.partitioner), clients: spec.clients,
            seed: seed)
        let cache = cacheDirectory.map { PartitionCache(directory: $0) }
        let assignment: [[Int]]
        if let cached = cache?.load(key, sampleCount: dataset.train.count) {
            assignment = cached
        } else {
            var random = Seeds.stream(UInt64(seed), "partition")
            assignment = try partitioner.partition(request, random: &random)
            try cache?.store(assignment, for: key)
        }
        let clients = try ClientSplits.make(
            dataset: dataset, partition: assignment, mode: localTest,
            holdoutFraction: evaluation[Sections.Evaluation.holdoutFraction],
            matchedTestSize: evaluation[Sections.Evaluation.matchedTestSize],
            validationFraction: evaluation[Sections.Evaluation.validationFraction], seed: seed)
        let summary = PartitionSummary(
            assignment: assignment, labels: dataset.train.labelArray, classes: dataset.classes)
        return FederatedData(
            assignment: assignment, clients: clients, partitionHash: summary.hash, summaryLine: summary.oneLine,
            partition: summary)
    }

    /// Clients from a checked partition file. Semantics (docs/datasets.md, "Partition files"):
    /// - pool train: indices into the training set; the global test set is the dataset's test set.
    /// - pool test or train+test: the pool becomes the training set of the runs; the global test
    ///   set is the union of the clients' test samples (the file must give them), so global and
    ///   personal accuracy are measured on the same samples, as PFLlib does.
    /// Test indices given in the file must be used (`eval.local_test: from-partition`).
    static func make(
        file: PartitionFile, spec: ExperimentSpec, dataset: DatasetSplits, seed: Int
    ) throws -> FederatedData {
        let evaluation = spec.evaluation
        let localTest = evaluation[Sections.Evaluation.localTest]
        let fromPartition = localTest == .fromPartition
        if file.hasTestIndices && !fromPartition {
            throw PluginError(
                "the partition file gives clients test indices; set eval.local_test: from-partition to use them "
                    + "(local_test is \(localTest.rawValue))")
        }
        if file.pool.includesTestSet && !file.clients.allSatisfy({ $0.test?.isEmpty == false }) {
            throw PluginError(
                "the partition file's pool '\(file.pool.rawValue)' includes the test set, so the global test set is the "
                    + "clients' own test samples: every client needs test indices (or use pool: train)")
        }
        guard file.clients.count <= spec.clients else {
            throw PluginError(
                "the partition file has \(file.clients.count) clients but partition.clients is \(spec.clients); set clients to at least \(file.clients.count)"
            )
        }
        var data = dataset
        if file.pool.includesTestSet {
            let pool = file.pool == .test ? dataset.test : try dataset.train.concatenated(with: dataset.test)
            let testRows = file.clients.flatMap { $0.test ?? [] }.sorted()
            data.train = pool
            data.test = try pool.subset(testRows)
            data.trainUsers = nil
            data.testUsers = nil
            var hasher = FNV1a()
            hasher.combine(dataset.contentHash)
            hasher.combine(file.pool.rawValue)
            data.contentHash = hasher.hex
        }
        let assignment = file.clients.map(\.train)
        let tests = file.clients.map(\.test)
        let clients = try ClientSplits.make(
            dataset: data, partition: assignment, mode: localTest,
            holdoutFraction: evaluation[Sections.Evaluation.holdoutFraction],
            matchedTestSize: evaluation[Sections.Evaluation.matchedTestSize],
            validationFraction: evaluation[Sections.Evaluation.validationFraction], seed: seed,
            partitionTests: fromPartition ? tests : nil)
        let summary = PartitionSummary(assignment: assignment, labels: data.train.labelArray, classes: data.classes)
        let hash =
            file.hasTestIndices
            ? PartitionSummary(assignment: assignment + tests.map { $0 ?? [] }, labels: [], classes: 0).hash
            : summary.hash
        return FederatedData(
            assignment: assignment, clients: clients, partitionHash: hash,
            summaryLine: summary.oneLine + " (from file, pool \(file.pool.rawValue))",
            partition: summary, pooledDataset: file.pool.includesTestSet ? data : nil, pool: file.pool)
    }
}

extension LabeledSamples {
    /// These samples followed by `other`'s (same sample shape).
    public func concatenated(with other: LabeledSamples) throws -> LabeledSamples {
        try LabeledSamples(inputs: Tensor.cat([inputs, other.inputs], dim: 0), labels: labelArray + other.labelArray)
    }
}

extension DatasetSplits {
    /// The same dataset with an empty training set (no samples, no users). Once the last seed's
    /// client splits are made, a run reads only the clients' own copies of their samples and the
    /// test set, so the full training set (188 MB of floats for Fashion-MNIST, 614 MB for CIFAR)
    /// need not stay in memory beside them.
    public func withoutTrainingSamples() throws -> DatasetSplits {
        var copy = self
        copy.train = try LabeledSamples(inputs: train.inputs.slice(0..<0).clone(), labels: [])
        copy.trainUsers = trainUsers.map { _ in [] }
        return copy
    }
}
