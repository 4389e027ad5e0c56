import FedKit

/// The built-in distiller plugins, registered by BuiltinPlugins.
public enum DistillerCatalog {
    public static var plugins: [any Plugin.Type] { [BidirectionalDistiller.self, EnsembleDistiller.self] }
}
