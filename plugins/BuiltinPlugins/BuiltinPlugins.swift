import Aggregators
import Datasets
import Distillers
import FedKit
import Generators
import Methods
import Models
import Partitioners
import Trainers

/// Registers every built-in plugin and method preset.
public enum BuiltinPlugins {
    public static var pluginTypes: [any Plugin.Type] {
        DatasetCatalog.plugins + PartitionerCatalog.plugins + ModelCatalog.plugins + TrainerCatalog.plugins
            + AggregatorCatalog.plugins + GeneratorCatalog.plugins + DistillerCatalog.plugins
    }

    /// A registry with all built-ins.
    public static func registry() throws -> PluginRegistry {
        var registry = PluginRegistry()
        try registry.register(pluginTypes)
        for preset in try MethodPresets.all() { try registry.register(method: preset) }
        return registry
    }
}
