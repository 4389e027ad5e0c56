import Foundation

/// The partition of one seed and the per-client train/test data built from it; shared by
/// every method of that seed.
public struct FederatedData: @unchecked Sendable {
    public var assignment: [[Int]]
    public var clients: [ClientData]
    public var partitionHash: String
    public var summaryLine: String
    /// Sizes and per-class counts of the partition (partition.csv of every run of this seed).
    public var partition: PartitionSummary

    /// Partitions the training set (through the on-disk cache) and assembles client data.
    public static func make(spec: ExperimentSpec, dataset: DatasetSplits, seed: Int, registry: PluginRegistry,
                            cacheDirectory: String?) throws -> FederatedData {
        let partitioner = try registry.make(spec.partitioner, as: (any PartitionerPlugin).self)
        let request = PartitionRequest(labels: dataset.train.labelArray, classes: dataset.classes, users: dataset.trainUsers,
                                       clients: spec.clients)
        let key = PartitionCache.Key(datasetHash: dataset.contentHash, partitioner: spec.partitioner.name,
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
        let evaluation = spec.evaluation
        let clients = try ClientSplits.make(dataset: dataset, partition: assignment, localTest: evaluation.string("local_test"),
                                            holdoutFraction: evaluation.double("holdout_fraction"),
                                            matchedTestSize: evaluation.optionalInt("matched_test_size"),
                                            validationFraction: evaluation.double("validation_fraction"), seed: seed)
        let summary = PartitionSummary(assignment: assignment, labels: dataset.train.labelArray, classes: dataset.classes)
        return FederatedData(assignment: assignment, clients: clients, partitionHash: summary.hash, summaryLine: summary.oneLine,
                             partition: summary)
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
