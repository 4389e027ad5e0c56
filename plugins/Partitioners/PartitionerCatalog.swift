import FedKit

/// The built-in partitioner plugins, registered by BuiltinPlugins.
public enum PartitionerCatalog {
    public static var plugins: [any Plugin.Type] {
        [
            IIDPartitioner.self, DirichletPartitioner.self, ShardsPartitioner.self, NaturalPartitioner.self,
            QuantitySkewPartitioner.self, FromFilePartitioner.self,
        ]
    }
}
