import FedKit
import Foundation

/// `quantity-skew`: client sizes skewed, labels IID. Each client k gets weight
/// w_k = exp(sigma * z_k), z_k ~ N(0, 1) (log-normal); sizes are min_size plus the remaining
/// N - K * min_size samples split over the weights by largest remainder (exact). A seeded shuffle
/// of all samples is then cut into consecutive runs of those sizes.
public struct QuantitySkewPartitioner: PartitionerPlugin {
    public static let descriptor = PluginDescriptor(
        kind: .partitioner, name: "quantity-skew",
        summary: "log-normal client sizes with IID labels",
        keys: [sigma, minSize])

    public static let sigma = ParameterKey.double(
        "sigma", default: 1, min: 0, doc: "log-normal sigma of the client sizes (0: equal sizes)")
    public static let minSize = ParameterKey.int(
        "min_size", default: 10, min: 1, doc: "every client gets at least this many samples")

    public let sigma: Double
    public let minSize: Int

    public init(parameters: Parameters) throws {
        self.init(sigma: parameters[Self.sigma], minSize: parameters[Self.minSize])
    }

    public init(sigma: Double, minSize: Int = 10) {
        self.sigma = sigma
        self.minSize = minSize
    }

    public func partition(_ request: PartitionRequest, random: inout SplitMix64) throws -> [[Int]] {
        try PartitionSupport.validate(request, name: "quantity-skew")
        let n = request.labels.count, k = request.clients, m = Swift.max(1, minSize)
        guard k * m <= n else {
            throw PluginError(
                "quantity-skew: \(k) clients x min_size \(m) = \(k * m) samples needed, but the training set has \(n); "
                    + "lower partition.clients or min_size")
        }
        // exp(sigma z_k - max_j sigma z_j): the same proportions, without overflow for large sigma.
        let logs = (0..<k).map { _ in sigma * random.nextNormal() }
        let top = logs.max() ?? 0
        let weights = logs.map { Foundation.exp($0 - top) }
        let sizes = PartitionSupport.largestRemainder(n - k * m, weights: weights).map { $0 + m }
        let order = random.shuffled(Array(0..<n))
        return PartitionSupport.chunks(order, sizes: sizes)
    }
}
