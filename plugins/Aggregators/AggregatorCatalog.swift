import FedKit

/// The built-in aggregator plugins, registered by BuiltinPlugins.
public enum AggregatorCatalog {
    public static let plugins: [any Plugin.Type] = [WeightedAverage.self, NoAggregation.self]
}
