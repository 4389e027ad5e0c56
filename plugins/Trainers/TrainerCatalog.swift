import FedKit

/// The built-in trainer plugins, registered by BuiltinPlugins.
public enum TrainerCatalog {
    public static var plugins: [any Plugin.Type] {
        [
            SGDTrainer.self, ProxTrainer.self, HeadThenBodyTrainer.self, DittoTrainer.self, FedBABUTrainer.self,
            ScaffoldTrainer.self, APFLTrainer.self, PerFedAvgTrainer.self, PFedMeTrainer.self, L2GDTrainer.self,
            FedGenTrainer.self,
        ]
    }
}
