import FedKit

/// `from-file`: the clients of a partition file (JSON or CSV, docs/datasets.md "Partition files"),
/// e.g. one written by `exp partition --out` or converted from another framework's split. Indices
/// refer to the declared pool: the training set, the test set, or both in that order
/// (`train+test`). Clients with test indices in the file get them as their test splits with
/// `eval.local_test: from-partition`. Seeds do not change the partition.
public struct FromFilePartitioner: PartitionFileSource {
    public static let descriptor = PluginDescriptor(
        kind: .partitioner, name: "from-file",
        summary: "clients (and optionally their test samples) read from a JSON or CSV partition file",
        keys: [path, pool])

    public static let path = ParameterKey.path(
        "path",
        doc:
            "the partition file: .json ({\"pool\": ..., \"clients\": [{\"id\", \"train\", \"test\"}]} or a list of index lists) or .csv (client,split,index)"
    )
    public static let pool = ParameterKey.optionalChoice(
        "pool", SamplePool.self,
        doc:
            "what the indices refer to: train, test, or train+test (the training set, then the test set); default: the JSON file's pool, else train"
    )

    public let path: String
    public let pool: SamplePool?

    public init(parameters: Parameters) throws {
        path = parameters[Self.path]
        pool = parameters[Self.pool]
    }

    public init(path: String, pool: SamplePool? = nil) {
        self.path = path
        self.pool = pool
    }

    public func partitionFile(trainCount: Int, testCount: Int) throws -> PartitionFile {
        let file = try PartitionFile.read(path: path, pool: pool)
        let size: Int
        switch file.pool {
        case .train: size = trainCount
        case .test: size = testCount
        case .trainTest: size = trainCount + testCount
        }
        try file.validate(poolSize: size, path: path)
        return file
    }

    /// The training lists, for callers that only need those (the pool must be `train`).
    public func partition(_ request: PartitionRequest, random: inout SplitMix64) throws -> [[Int]] {
        let file = try partitionFile(trainCount: request.labels.count, testCount: 0)
        guard file.pool == .train else {
            throw PluginError(
                "from-file: \(path) indexes the \(file.pool.rawValue) pool; only experiments (FederatedData) can build it"
            )
        }
        return file.clients.map(\.train)
    }
}
