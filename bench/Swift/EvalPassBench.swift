// `fedkit-bench evalpass`: images/s of a model's no-grad forward pass (evaluation) over a dataset's
// test set (default cnn-fmnist on Fashion-MNIST), per evaluation batch size, so that
// eval.batch_size can be chosen on measurements (docs/benchmarks.md, "Evaluation batch size").
//
//   fedkit-bench evalpass --batches 100,250,500,1000 --threads 1 --repeats 3 [--engine-allocator 0|1|2]
//       [--dataset cifar10 --root data/cifar-10-batches-bin --model cnn-cifar10]
import BuiltinPlugins
import Config
import FedKit
import Foundation
import Torch

func runEvalPass(_ options: Options) throws {
    let threads = try options.int("threads", 1)
    let repeats = max(1, try options.int("repeats", 3))
    let datasetName = options.values["dataset"] ?? "fashion-mnist"
    let modelName = options.values["model"] ?? "cnn-fmnist"
    let root = options.values["root"] ?? "/usr/share/datasets/fashion-mnist"
    let sizes = try (options.values["batches"] ?? "50,100,250,500,1000").split(separator: ",").map { raw -> Int in
        guard let v = Int(raw), v > 0 else {
            throw UsageError("--batches expects positive integers separated by commas, got '\(raw)'")
        }
        return v
    }
    // 0: glibc's defaults; 1: AllocatorPolicy's fixed 4 MiB mmap threshold (a simulation's training
    // phases); 2: the policy with each pass inside AllocatorPolicy.duringEvaluation, as a
    // simulation's evaluation runs.
    let allocator = try options.int("engine-allocator", 0)
    guard (0...2).contains(allocator) else { throw UsageError("--engine-allocator expects 0, 1 or 2, got \(allocator)") }
    if allocator > 0 { AllocatorPolicy.configure() }
    TorchThreads.set(max(1, threads))
    let registry = try BuiltinPlugins.registry()
    let yaml = """
        name: bench-evalpass
        dataset: { name: "\(datasetName)", root: "\(root)" }
        partition: { name: iid, clients: 1 }
        model: { name: "\(modelName)" }
        methods: [fedavg]
        """
    let spec = try ExperimentLoader(registry: registry).resolve(
        YAMLParser.parse(string: yaml, fileName: "fedkit-bench evalpass"),
        file: "fedkit-bench evalpass")
    let dataset = try registry.make(spec.dataset, as: (any DatasetPlugin).self).load()
    let model = try registry.make(spec.model, as: (any ModelPlugin).self)
        .build(ModelInput(dataset), generator: RandomGenerator(seed: 1))
    model.setTraining(false)
    let test = dataset.test
    let clock = ContinuousClock()
    func evaluationScope(_ body: () throws -> Void) throws {
        if allocator == 2 { try AllocatorPolicy.duringEvaluation { try withoutGrad(body) } } else { try withoutGrad(body) }
    }
    func pass(_ size: Int) throws -> Double {
        let start = clock.now
        try evaluationScope {
            for s in stride(from: 0, to: test.count, by: size) {
                _ = try model.forward(test.inputs.slice(s..<Swift.min(s + size, test.count))).argmax(dim: 1).ints()
            }
        }
        let d = clock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
    _ = try pass(sizes[0])  // warm-up
    // Batch sizes interleaved within each repeat, so that machine noise hits all of them.
    var best = [Int: Double]()
    for _ in 0..<repeats {
        for size in sizes { best[size] = Swift.min(best[size] ?? .infinity, try pass(size)) }
    }
    let rates = sizes.map { "\"\($0)\": \(String(format: "%.0f", Double(test.count) / best[$0]!))" }.joined(
        separator: ", ")
    print(
        "{\"bench\": \"evalpass\", \"impl\": \"fedkit\", \"model\": \"\(modelName)\", \"samples\": \(test.count), \"threads\": \(TorchThreads.current), "
            + "\"repeats\": \(repeats), \"engine_allocator\": \(allocator), \"best_images_per_s\": {\(rates)}}")
}
