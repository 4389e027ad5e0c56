// fedkit-bench: speed benchmarks of FedKit's numeric engine (not tests).
//
//   fedkit-bench cnn --batch 10 --steps 200 --threads 2
//
// Each subcommand prints one JSON line. bench/python/ holds the PyTorch references and
// bench/run-cnn.sh runs both alternately; results are recorded in docs/benchmarks.md.
import Foundation
import Torch

struct Options {
    var values: [String: String] = [:]

    init(_ arguments: ArraySlice<String>, allowed: Set<String>) throws {
        var it = arguments.makeIterator()
        while let arg = it.next() {
            guard arg.hasPrefix("--") else { throw UsageError("unexpected argument '\(arg)'") }
            var key = String(arg.dropFirst(2))
            var value: String?
            if let eq = key.firstIndex(of: "=") {
                value = String(key[key.index(after: eq)...])
                key = String(key[..<eq])
            }
            guard allowed.contains(key) else {
                throw UsageError(
                    "unknown option --\(key); options: \(allowed.sorted().map { "--" + $0 }.joined(separator: ", "))")
            }
            guard let v = value ?? it.next() else { throw UsageError("--\(key) needs a value") }
            values[key] = v
        }
    }

    func int(_ key: String, _ fallback: Int) throws -> Int {
        guard let raw = values[key] else { return fallback }
        guard let v = Int(raw), v >= 0 else {
            throw UsageError("--\(key) expects a non-negative integer, got '\(raw)'")
        }
        return v
    }
}

struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

let usage = """
    usage: fedkit-bench <subcommand> [options]

    subcommands:
      cnn   train conv(3->64,5)-relu-maxpool2-conv(64->64,5)-relu-maxpool2-flatten-fc(1600->120)-relu-fc(120->64)-relu-fc(64->10)
            on random 3x32x32 batches with SGD (lr 0.01, momentum 0.5) and cross-entropy; prints images/s as JSON.
            --batch N     batch size (default 10)
            --steps N     timed steps (default 200)
            --warmup N    untimed steps first (default 20)
            --threads N   ATen intra-op threads (default 1)
            --seed N      data and initialisation seed (default 0)
            --batches N   distinct pre-generated batches, cycled (default 16)
      evalpass  images/s of a model's no-grad forward over a test set per batch size (default cnn-fmnist, Fashion-MNIST)
            --batches LIST  evaluation batch sizes (default 50,100,250,500,1000)
            --threads N     ATen intra-op threads (default 1)
            --repeats N     passes per batch size, the fastest counts (default 3)
            --engine-allocator N  0: glibc's default allocator; 1: as a simulation's training sets it
                                  (AllocatorPolicy); 2: as a simulation's evaluation runs (duringEvaluation)
            --dataset NAME --root DIR --model NAME  another dataset plugin (its data folder) and model
      fedavg  FedAvg rounds through the FedKit engine (Fashion-MNIST, Dirichlet 0.1, 20 clients), see: fedkit-bench fedavg --help
      diversity  forward + backward of the generator diversity loss (FedBKD's, FedGen's L_div) on random
            samples; prints ms per step as JSON (reference: bench/python/diversity_reference.py).
            --samples N (200)  --dims N (3072)  --steps N (20)  --threads N (1)
      stacked  K clients' cnn-fmnist training steps and forward passes one network at a time against one
            stacked computation (batched clients); prints thread-CPU ms per step of all K clients as JSON.
            --clients N (10)  --batch N (10)  --steps N (30)  --reps N (5)
    """

/// CPU time of this process, all threads (user + system).
func processCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// The CNN benchmark: the same network and loop as bench/python/cnn_reference.py.
func runCNN(_ options: Options) throws {
    let batch = try options.int("batch", 10)
    let steps = try options.int("steps", 200)
    let warmup = try options.int("warmup", 20)
    let threads = try options.int("threads", 1)
    let seed = try options.int("seed", 0)
    let batchCount = max(1, try options.int("batches", 16))
    guard batch > 0, steps > 0 else { throw UsageError("--batch and --steps must be positive") }

    TorchThreads.set(max(1, threads))
    let g = RandomGenerator(seed: UInt64(seed))
    let net = try Network(
        body: [
            Conv2d(3, 64, kernel: 5, generator: g), Activation.relu, Pool2d(.max, kernel: 2),
            Conv2d(64, 64, kernel: 5, generator: g), Activation.relu, Pool2d(.max, kernel: 2), Flatten(),
            Linear(1600, 120, generator: g), Activation.relu, Linear(120, 64, generator: g), Activation.relu,
        ],
        head: [Linear(64, 10, generator: g)], generator: g)
    let data = RandomGenerator(seed: UInt64(seed) &+ 1)
    let batches = try (0..<batchCount).map { _ in
        (
            x: try Tensor.randn([batch, 3, 32, 32], generator: data),
            y: try Tensor.randint(0, 10, [batch], generator: data)
        )
    }
    let optimiser = try SGD(net.parameters, learningRate: 0.01, momentum: 0.5)

    var lastLoss: Tensor?
    func step(_ i: Int) throws {
        let (x, y) = batches[i % batchCount]
        try optimiser.zeroGrad()
        let loss = try Loss.crossEntropy(net(x), targets: y)
        try loss.backward()
        try optimiser.step()
        lastLoss = loss
    }

    for i in 0..<warmup { try step(i) }
    let clock = ContinuousClock()
    let cpuStart = processCPUSeconds()
    let start = clock.now
    for i in 0..<steps { try step(warmup + i) }
    let elapsed = clock.now - start
    let cpuSeconds = processCPUSeconds() - cpuStart
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    let loss = try lastLoss?.item() ?? .nan

    let fields: [(String, String)] = [
        ("bench", "\"cnn\""), ("impl", "\"fedkit\""), ("batch", "\(batch)"), ("steps", "\(steps)"),
        ("warmup", "\(warmup)"),
        ("threads", "\(TorchThreads.current)"), ("seconds", String(format: "%.4f", seconds)),
        ("ms_per_step", String(format: "%.4f", seconds * 1000 / Double(steps))),
        ("images_per_s", String(format: "%.2f", Double(batch * steps) / seconds)),
        ("cpu_seconds", String(format: "%.4f", cpuSeconds)),
        ("final_loss", String(format: "%.5f", loss)),
    ]
    print("{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
}

let arguments = CommandLine.arguments
do {
    guard arguments.count >= 2 else { throw UsageError("missing subcommand") }
    switch arguments[1] {
    case "cnn":
        try runCNN(
            Options(arguments.dropFirst(2), allowed: ["batch", "steps", "warmup", "threads", "seed", "batches"]))
    case "fedavg": try runFedAvg(arguments.dropFirst(2))  // bench/Swift/FedAvgBench.swift
    case "evalpass":
        try runEvalPass(
            Options(arguments.dropFirst(2), allowed: ["batches", "threads", "repeats", "root", "engine-allocator", "dataset", "model"]))  // EvalPassBench.swift
    case "diversity":
        try runDiversity(Options(arguments.dropFirst(2), allowed: ["samples", "dims", "steps", "threads"]))  // DiversityBench.swift
    case "stacked": try runStacked(Options(arguments.dropFirst(2), allowed: ["clients", "batch", "steps", "reps"]))  // StackedBench.swift
    case "-h", "--help", "help": print(usage)
    default: throw UsageError("unknown subcommand '\(arguments[1])'")
    }
} catch let error as UsageError {
    FileHandle.standardError.write(Data("fedkit-bench: \(error)\n\n\(usage)\n".utf8))
    exit(2)
} catch {
    FileHandle.standardError.write(Data("fedkit-bench: \(error)\n".utf8))
    exit(1)
}
