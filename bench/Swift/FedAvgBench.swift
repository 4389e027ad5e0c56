// `fedkit-bench fedavg`: FedAvg rounds through the FedKit simulation engine (SimulationRun), the
// same setting as bench/python/fedavg_reference.py; bench/run-fedavg.sh runs both side by side.
//
//   fedkit-bench fedavg --rounds 3 --partition-out /tmp/partition.json
//
// Prints one JSON line: wall seconds of every round (local training + aggregation + the
// evaluation the protocol needs: the global model on the whole test set and every client's
// personal model, here the global one, on its own test split), accuracies and peak memory.
import BuiltinPlugins
import Config
import FedKit
import Foundation
import Torch

let fedAvgUsage = """
    usage: fedkit-bench fedavg [options]

    FedAvg on Fashion-MNIST, Dirichlet(alpha) label skew, every client joining every round, model
    cnn-fmnist, SGD (momentum, no weight decay), evaluation every round (local_test: matched).
      --rounds N            timed rounds (default 3)
      --clients N           clients (default 20)
      --clients-per-round N clients sampled per round (default: all of them)
      --alpha X             Dirichlet concentration (default 0.1)
      --epochs N            local epochs (default 1)
      --batch N             local batch size (default 10)
      --lr X                learning rate (default 0.01)
      --momentum X          SGD momentum (default 0.5)
      --workers N           clients trained in parallel (default 2)
      --threads N           torch threads per worker (default 1)
      --eval-batch N        evaluation batch size (default 250, eval.batch_size's default)
      --eval-every N        evaluate every N rounds (default 1; the last round is always evaluated)
      --validation X        eval.validation_fraction (default 0: every training sample is trained on, as
                            in the references; 0.1 is exp run's default, which adds the validation splits' evaluation)
      --batched B           federation.batched_clients: auto (default), off or a stack size K
      --method M            the method, as one entry of a YAML `methods:` list (default fedavg), e.g.
                            fedrep or '{ name: fedrep, trainer: { head_epochs: 1 } }' or fedbkd
      --seed N              partition / initialisation / sampling seed (default 1)
      --root DIR            Fashion-MNIST folder (default /usr/share/datasets/fashion-mnist)
      --partition-out FILE  write each client's train and test indices as JSON (for the PyTorch reference)
      --partition-only 1    stop after writing the partition (no training)
    """

let fedAvgOptionKeys: Set<String> = [
    "rounds", "clients", "clients-per-round", "alpha", "epochs", "batch", "lr", "momentum", "workers", "threads",
    "eval-batch", "eval-every", "validation", "method", "batched", "seed", "root",
    "partition-out", "partition-only",
]

/// Peak resident set size of this process, in MiB (getrusage: kilobytes on Linux).
func peakRSSMiB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024
}

func runFedAvg(_ arguments: ArraySlice<String>) throws {
    if arguments.contains(where: { ["-h", "--help", "help"].contains($0) }) {
        print(fedAvgUsage)
        return
    }
    let options = try Options(arguments, allowed: fedAvgOptionKeys)
    func double(_ key: String, _ fallback: Double) throws -> Double {
        guard let raw = options.values[key] else { return fallback }
        guard let v = Double(raw), v.isFinite, v >= 0 else {
            throw UsageError("--\(key) expects a non-negative number, got '\(raw)'")
        }
        return v
    }
    let rounds = try options.int("rounds", 3)
    let clients = try options.int("clients", 20)
    let clientsPerRound = try options.int("clients-per-round", clients)
    let alpha = try double("alpha", 0.1)
    let epochs = try options.int("epochs", 1)
    let batch = try options.int("batch", 10)
    let lr = try double("lr", 0.01)
    let momentum = try double("momentum", 0.5)
    let workers = try options.int("workers", 2)
    let threads = try options.int("threads", 1)
    let evalBatch = try options.int("eval-batch", 250)
    let evalEvery = try options.int("eval-every", 1)
    let validation = try double("validation", 0)
    let method = options.values["method"] ?? "fedavg"
    let batched = options.values["batched"] ?? "auto"
    let seed = try options.int("seed", 1)
    let root = options.values["root"] ?? "/usr/share/datasets/fashion-mnist"
    guard clientsPerRound >= 1, clientsPerRound <= clients else {
        throw UsageError("--clients-per-round must be between 1 and --clients (\(clients)), got \(clientsPerRound)")
    }
    guard rounds > 0, clients > 0, epochs > 0, batch > 0, workers > 0, threads > 0, evalBatch > 0, evalEvery > 0,
        alpha > 0, lr > 0
    else {
        throw UsageError(
            "--rounds, --clients, --epochs, --batch, --workers, --threads, --eval-batch, --eval-every, --alpha and --lr must be positive"
        )
    }

    let yaml = """
        name: bench-fedavg
        seeds: [\(seed)]
        dataset: { name: fashion-mnist, root: "\(root)" }
        partition: { name: dirichlet, alpha: \(alpha), clients: \(clients) }
        model: { name: cnn-fmnist }
        federation: { rounds: \(rounds), clients_per_round: \(clientsPerRound), local_epochs: \(epochs), batch_size: \(batch), lr: \(lr),
                      momentum: \(momentum), weight_decay: 0, workers: \(workers), threads_per_worker: \(threads), eval_every: \(evalEvery),
                      batched_clients: \(batched) }
        eval: { local_test: matched, batch_size: \(evalBatch), last_rounds: 1, validation_fraction: \(validation) }
        methods: [\(method)]
        """
    let registry = try BuiltinPlugins.registry()
    let spec = try ExperimentLoader(registry: registry).resolve(
        YAMLParser.parse(string: yaml, fileName: "fedkit-bench fedavg"),
        file: "fedkit-bench fedavg")
    let clock = ContinuousClock()
    func seconds(_ d: Duration) -> Double { Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18 }

    let loadStart = clock.now
    var dataset = try registry.make(spec.dataset, as: (any DatasetPlugin).self).load()
    let federation = try FederatedData.make(
        spec: spec, dataset: dataset, seed: seed, registry: registry, cacheDirectory: nil)
    dataset = try dataset.withoutTrainingSamples()  // as ExperimentRunner does after the last seed's partition
    let loadSeconds = seconds(clock.now - loadStart)
    let loadRSS = peakRSSMiB()

    if let path = options.values["partition-out"] {
        // One JSON object: per client its training indices (into the training set) and its
        // matched test indices (into the test set), so the reference trains and tests on the same samples.
        var text = "{\"seed\": \(seed), \"alpha\": \(alpha), \"clients\": ["
        text += federation.clients.map { c in
            "{\"train\": [" + c.trainIndices.map(String.init).joined(separator: ",") + "], \"test\": ["
                + c.testIndices.map(String.init).joined(separator: ",") + "]}"
        }.joined(separator: ", ")
        text += "]}\n"
        try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    if options.values["partition-only"].map({ ["1", "true", "yes"].contains($0) }) ?? false { return }

    // The run writes its folder as `exp run` does (rounds.jsonl flushed every round), in a temporary place.
    let directory = NSTemporaryDirectory() + "fedkit-bench-fedavg-\(ProcessInfo.processInfo.processIdentifier)"
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let manifest = RunManifest(
        experiment: spec.name, method: spec.methods[0].label, seed: seed, experimentFile: spec.file, gitCommit: "bench",
        datasetHash: dataset.contentHash, partitionHash: federation.partitionHash,
        fedkitVersion: FedKitVersion.current, torchVersion: "libtorch 1.13 (Debian)",
        startedAt: ISO8601DateFormatter().string(from: Date()), host: ProcessInfo.processInfo.hostName)
    let writer = try RunWriter(directory: directory, config: yaml, manifest: manifest)
    let times = RoundTimes()
    let run = try SimulationRun(
        spec: spec, method: spec.methods[0], seed: seed, dataset: dataset, clients: federation.clients,
        registry: registry, writer: writer, progress: { times.mark($0.round) })
    times.start()
    let result = try run.run()
    let perRound = times.durations()
    // Phase times of every round, from the run's timings.jsonl.
    var phases: [String: [Double]] = [:]
    var serverSteps: [String: [Double]] = [:]
    for line in (try? String(contentsOfFile: "\(directory)/timings.jsonl", encoding: .utf8))?.split(separator: "\n")
        ?? []
    {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { continue }
        for key in ["local_s", "aggregate_s", "server_s", "eval_s"] {
            phases[key, default: []].append(object[key] as? Double ?? .nan)
        }
        // Wall times the server steps report (generator.seconds, distiller.seconds, ...).
        for (key, value) in object["server_steps_s"] as? [String: Double] ?? [:] {
            serverSteps[key, default: []].append(value)
        }
    }
    func list(_ values: [Double]) -> String {
        "[" + values.map { String(format: "%.3f", $0) }.joined(separator: ", ") + "]"
    }
    let last = result.records.last
    let mean = perRound.reduce(0, +) / Double(max(1, perRound.count))
    let fields: [(String, String)] = [
        ("bench", "\"round\""), ("impl", "\"fedkit\""), ("method", "\"\(spec.methods[0].label)\""),
        ("clients", "\(clients)"), ("clients_per_round", "\(clientsPerRound)"), ("rounds", "\(rounds)"),
        ("epochs", "\(epochs)"),
        ("train_samples", "\(federation.clients.reduce(0) { $0 + $1.train.count })"),
        ("client_test_samples", "\(federation.clients.reduce(0) { $0 + $1.test.count })"),
        ("validation_samples", "\(federation.clients.reduce(0) { $0 + $1.validation.count })"),
        ("workers", "\(workers)"), ("threads_per_worker", "\(threads)"), ("batched_clients", "\"\(batched)\""),
        ("round_seconds", list(perRound)),
        ("local_seconds", list(phases["local_s"] ?? [])), ("aggregate_seconds", list(phases["aggregate_s"] ?? [])),
        ("server_seconds", list(phases["server_s"] ?? [])),
        (
            "server_steps_seconds",
            "{" + serverSteps.keys.sorted().map { "\"\($0)\": \(list(serverSteps[$0]!))" }.joined(separator: ", ") + "}"
        ),
        ("eval_seconds", list(phases["eval_s"] ?? [])),
        ("mean_round_s", String(format: "%.3f", mean)),
        ("load_s", String(format: "%.3f", loadSeconds)),
        ("train_loss", String(format: "%.5f", last?.trainLoss ?? .nan)),
        ("global_accuracy", String(format: "%.5f", last?.globalAccuracy ?? .nan)),
        ("personalized_weighted", String(format: "%.5f", last?.personalized?.weightedMean ?? .nan)),
        ("load_max_rss_mib", String(format: "%.1f", loadRSS)),
        ("max_rss_mib", String(format: "%.1f", peakRSSMiB())),
    ]
    print("{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
}

/// Wall-clock end of every round, from the run's progress callback (called once per round, after
/// evaluation and writing). The first round's time starts at `start()`.
final class RoundTimes: @unchecked Sendable {
    private let lock = NSLock()
    private var marks: [Double] = []

    private static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    func start() { lock.withLock { marks = [Self.now()] } }
    func mark(_ round: Int) { lock.withLock { marks.append(Self.now()) } }
    func durations() -> [Double] { lock.withLock { zip(marks.dropFirst(), marks).map { $0 - $1 } } }
}
