import FedKit

/// The built-in distiller plugins, registered by BuiltinPlugins.
public enum DistillerCatalog {
    public static let plugins: [any Plugin.Type] = [BidirectionalDistiller.self]
}
