import FedKit

/// The built-in dataset plugins, registered by BuiltinPlugins.
public enum DatasetCatalog {
    public static var plugins: [any Plugin.Type] {
        [
            CIFAR10Dataset.self, CIFAR100Dataset.self, MNISTDataset.self, FashionMNISTDataset.self,
            FEMNISTDataset.self, Sent140Dataset.self, SyntheticDataset.self, PFLlibDataset.self,
        ]
    }
}
