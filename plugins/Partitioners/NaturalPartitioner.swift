import FedKit

/// `natural`: one client per natural user (LEAF writer or author, synthetic user).
/// Users with at least `min_samples` training samples are eligible; when there are more than
/// `partition.clients`, that many are chosen uniformly at random (seeded). Clients are the chosen
/// users in user-id order, each with all its training samples. Fewer eligible users than
/// `partition.clients` gives fewer clients (`clients` is a cap here); none is an error.
public struct NaturalPartitioner: PartitionerPlugin {
    public static let descriptor = PluginDescriptor(
        kind: .partitioner, name: "natural",
        summary:
            "one client per natural user of the dataset (femnist, sent140, synthetic); partition.clients caps the users",
        keys: [minSamples])

    public static let minSamples = ParameterKey.int(
        "min_samples", default: 1, min: 1, doc: "users with fewer training samples are left out")

    public let minSamples: Int

    public init(parameters: Parameters) throws { minSamples = parameters[Self.minSamples] }
    public init(minSamples: Int = 1) { self.minSamples = minSamples }

    public func partition(_ request: PartitionRequest, random: inout SplitMix64) throws -> [[Int]] {
        try PartitionSupport.validate(request, name: "natural")
        guard let users = request.users else {
            throw PluginError(
                "natural: the dataset has no natural users (only femnist, sent140 and synthetic have); "
                    + "use iid, dirichlet, shards or quantity-skew")
        }
        var groups: [String: [Int]] = [:]
        for (i, u) in users.enumerated() { groups[u, default: []].append(i) }
        let eligible = groups.keys.filter { groups[$0]!.count >= minSamples }
            .sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
        guard !eligible.isEmpty else {
            let largest = groups.values.map(\.count).max() ?? 0
            throw PluginError(
                "natural: no user has min_samples \(minSamples) training samples (the largest has \(largest))")
        }
        var chosen = eligible
        if eligible.count > request.clients {
            chosen = random.sample(request.clients, from: eligible.count).sorted().map { eligible[$0] }
        }
        return chosen.map { groups[$0]! }
    }
}
