import FedKit

/// `iid`: a seeded shuffle of all training samples cut into `clients` near-equal parts
/// (sizes differ by at most one; the first N mod K clients get the extra sample).
public struct IIDPartitioner: PartitionerPlugin {
    public static let descriptor = PluginDescriptor(
        kind: .partitioner, name: "iid",
        summary: "uniformly random, equal-size split (sizes differ by at most one)")

    public init(parameters: Parameters) throws {}
    public init() {}

    public func partition(_ request: PartitionRequest, random: inout SplitMix64) throws -> [[Int]] {
        try PartitionSupport.validate(request, name: "iid")
        let n = request.labels.count
        guard request.clients <= n else {
            throw PluginError(
                "iid: \(request.clients) clients but only \(n) training samples; every client needs at least one")
        }
        let order = random.shuffled(Array(0..<n))
        return PartitionSupport.chunks(order, sizes: PartitionSupport.equalSizes(n, parts: request.clients))
    }
}
