// fedkit-bench stacked: K clients' training steps one network at a time against one stacked
// computation (StackedNetwork + StackedSGD, issue 13), on the cnn-fmnist default architecture.
//
//   fedkit-bench stacked --clients 10 --batch 10 --steps 30 --reps 5
//
// Prints one JSON line: per implementation the best and median thread-CPU milliseconds per step of
// all K clients (training: zero grads, forward, per-client mean cross-entropy, backward, SGD with
// momentum 0.5) and per no-grad forward pass of all K clients. Thread CPU time, not wall time, so
// that other processes on a shared machine disturb it less. The two run alternately, one thread.
import Foundation
import Torch

private func threadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// cnn-fmnist's default network: conv(1->16, 5, pad 2) - relu - pool 2 - conv(16->32, 5, pad 2) -
/// relu - pool 2 - flatten - fc 1568->128 - relu | head fc 128->10.
private func fashionCNN(seed: UInt64) throws -> Network {
    let g = RandomGenerator(seed: seed)
    return Network(
        body: [
            Reshape([1, 28, 28]), try Conv2d(1, 16, kernel: 5, padding: 2, generator: g), Activation.relu,
            Pool2d(.max, kernel: 2),
            try Conv2d(16, 32, kernel: 5, padding: 2, generator: g), Activation.relu, Pool2d(.max, kernel: 2),
            Flatten(), try Linear(1568, 128, generator: g), Activation.relu,
        ],
        head: [try Linear(128, 10, generator: g)], generator: g)
}

func runStacked(_ options: Options) throws {
    let k = try options.int("clients", 10), n = try options.int("batch", 10)
    let steps = try options.int("steps", 30), reps = try options.int("reps", 5)
    guard k > 0, n > 0, steps > 0, reps > 0 else {
        throw UsageError("--clients, --batch, --steps and --reps must be positive")
    }
    TorchThreads.set(1)
    let x = try Tensor.zeros([k, n, 784])
    try x.uniform_(0, 1, generator: RandomGenerator(seed: 1))
    let y = try Tensor((0..<(k * n)).map { $0 % 10 }, shape: [k, n])
    let networks = try (0..<k).map { try fashionCNN(seed: UInt64($0)) }
    let optimisers = try networks.map { try SGD($0.parameters, learningRate: 0.001, momentum: 0.5) }
    let stack = try StackedNetwork(template: networks[0], count: k)
    try stack.load(networks.map { $0.stateDict() })
    let stackedSGD = try StackedSGD(
        decayingWeightsOnly: stack.parameters.map(\.tensor), weightDecay: 0,
        learningRate: 0.001, momentum: 0.5)
    let inputs = try (0..<k).map { try x.select(dim: 0, $0) }, labels = try (0..<k).map { try y.select(dim: 0, $0) }

    func oneAtATime() throws {
        for (i, (network, sgd)) in zip(networks, optimisers).enumerated() {
            try sgd.zeroGrad()
            try Loss.crossEntropy(network.forward(inputs[i]), targets: labels[i]).backward()
            try sgd.step()
        }
    }
    func stacked() throws {
        try stackedSGD.zeroGrad()
        let logits = try stack.forward(x, rows: 0..<k)
        try Loss.crossEntropy(logits.reshaped([k * n, 10]), targets: y.reshaped([k * n]), reduction: .none)
            .view([k, n]).mean(dims: [1]).sum().backward()
        try stackedSGD.step(rows: 0..<k)
    }
    func forwardOneAtATime() throws {
        try withoutGrad { for (i, network) in networks.enumerated() { _ = try network.forward(inputs[i]) } }
    }
    func forwardStacked() throws { _ = try withoutGrad { try stack.forward(x, rows: 0..<k) } }

    func milliseconds(_ body: () throws -> Void) throws -> Double {
        try body()  // warm-up
        let start = threadCPUSeconds()
        for _ in 0..<steps { try body() }
        return (threadCPUSeconds() - start) / Double(steps) * 1000
    }
    var samples: [String: [Double]] = [:]
    for _ in 0..<reps {
        for (name, body) in [
            ("train_one_at_a_time", oneAtATime), ("train_stacked", stacked),
            ("forward_one_at_a_time", forwardOneAtATime), ("forward_stacked", forwardStacked),
        ] {
            samples[name, default: []].append(try milliseconds(body))
        }
    }
    var fields = ["\"clients\": \(k)", "\"batch\": \(n)", "\"steps\": \(steps)", "\"reps\": \(reps)"]
    for name in samples.keys.sorted() {
        let sorted = samples[name]!.sorted()
        fields.append("\"\(name)_ms_best\": \(String(format: "%.2f", sorted[0]))")
        fields.append("\"\(name)_ms_median\": \(String(format: "%.2f", sorted[sorted.count / 2]))")
    }
    print("{" + fields.joined(separator: ", ") + "}")
}
