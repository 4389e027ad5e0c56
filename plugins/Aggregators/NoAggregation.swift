import FedKit
import Torch

/// No server step: the global model never changes and nothing is exchanged (Local training).
public struct NoAggregation: AggregatorPlugin {
    public static let descriptor = PluginDescriptor(
        kind: .aggregator, name: "none",
        summary: "no aggregation: clients keep their own models (local training only)")

    public init(parameters: Parameters) throws {}

    public var updatesGlobalModel: Bool { false }

    public func aggregate(_ updates: [ClientUpdate], global: StateDict) throws -> AggregationResult { .unchanged }
}
