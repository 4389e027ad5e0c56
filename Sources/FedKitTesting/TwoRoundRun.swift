import BuiltinPlugins
import Config
import FedKit

/// A whole engine run in memory (no files written): a tiny experiment on the `synthetic`
/// dataset (12 users, 12 features, 4 classes; an MLP with one hidden layer of 16) with the
/// method `method`, built from `registry` — the built-ins plus the plugins under test.
///
/// ```
/// var registry = try BuiltinPlugins.registry()
/// try registry.register(TrimmedMean.self)
/// let records = try TwoRoundRun.records(registry: registry, method: "{ name: fedavg, aggregator: { name: trimmed-mean } }")
/// ```
public enum TwoRoundRun {
    /// The experiment file `records` runs (`method` is one entry of its `methods` list).
    public static func yaml(method: String, rounds: Int = 2, seed: Int = 1) -> String {
        """
        name: two-round-run
        seeds: [\(seed)]
        dataset: { name: synthetic, users: 12, features: 12, classes: 4, size_mu: 3.5, size_sigma: 0.2, size_min: 10, size_max: 80 }
        partition: { name: dirichlet, alpha: 0.5, clients: 6, min_size: 8 }
        model: { name: mlp, hidden: [16] }
        federation: { rounds: \(rounds), clients_per_round: 3, local_epochs: 1, batch_size: 8, lr: 0.05, workers: 2 }
        eval: { local_test: matched, last_rounds: 1, batch_size: 16 }
        methods: [\(method)]
        """
    }

    /// Validates the experiment and runs it; returns one record per round.
    public static func records(
        registry: PluginRegistry, method: String, rounds: Int = 2, seed: Int = 1
    ) throws -> [RoundRecord] {
        let text = yaml(method: method, rounds: rounds, seed: seed)
        let spec = try ExperimentLoader(registry: registry).resolve(
            YAMLParser.parse(string: text, fileName: "two-round-run.yaml"), file: "two-round-run.yaml")
        let dataset = try registry.make(spec.dataset, as: (any DatasetPlugin).self).load()
        let federation = try FederatedData.make(
            spec: spec, dataset: dataset, seed: spec.seeds[0], registry: registry,
            cacheDirectory: nil)
        let run = try SimulationRun(
            spec: spec, method: spec.methods[0], seed: spec.seeds[0], dataset: dataset,
            clients: federation.clients, registry: registry, writer: nil)
        return try run.run().records
    }
}
