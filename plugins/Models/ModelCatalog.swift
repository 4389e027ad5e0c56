import FedKit

/// The built-in model plugins, registered by BuiltinPlugins.
public enum ModelCatalog {
    public static var plugins: [any Plugin.Type] {
        [
            CIFAR10CNN.self, CIFAR100CNN.self, FEMNISTMLP.self, Sent140LSTM.self, FashionMNISTCNN.self, MLP.self,
        ]
    }
}
