import FedKit

/// The built-in aggregator plugins, registered by BuiltinPlugins.
public enum AggregatorCatalog {
    public static var plugins: [any Plugin.Type] {
        [WeightedAverage.self, NoAggregation.self, ScaffoldAggregator.self, L2GDAggregator.self]
    }
}
