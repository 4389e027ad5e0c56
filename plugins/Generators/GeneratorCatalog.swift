import FedKit

/// The built-in generator plugins, registered by BuiltinPlugins.
public enum GeneratorCatalog {
    public static var plugins: [any Plugin.Type] { [ConditionalMLPGenerator.self, FeatureSpaceGenerator.self] }
}
