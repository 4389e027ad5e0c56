// `fedkit-bench diversity`: one step of the generator diversity loss of FedBKD / FedGen
// (`DiversityLoss.fedgen`, plugins/Generators/DiversityLoss.swift) on random samples, forward and
// backward: L = exp(-mean(d_z * d_x)), d_x the pairwise L1 distances of the N samples (D values
// each) / D, d_z the squared L2 distances of their 64-value noise / 64. Its L1 distances are
// Sources/CTorch/pairwise_l1.cpp; bench/python/diversity_reference.py is the same step with
// torch.cdist. bench/run-diversity.sh runs both alternately (docs/benchmarks.md).
//
//   fedkit-bench diversity --samples 200 --dims 3072 --steps 20 --threads 1
import Foundation
import Generators
import Torch

func runDiversity(_ options: Options) throws {
    let samples = try options.int("samples", 200)
    let dims = try options.int("dims", 3072)
    let steps = max(1, try options.int("steps", 20))
    let threads = max(1, try options.int("threads", 1))
    guard samples >= 2, dims >= 1 else { throw UsageError("--samples must be at least 2 and --dims at least 1") }
    TorchThreads.set(threads)
    let generator = RandomGenerator(seed: 0)
    let x = try Tensor.randn([samples, dims], generator: generator).requiringGrad()
    let z = try Tensor.rand([samples, 64], generator: generator)
    func step() throws -> Double {
        try x.zeroGrad()
        let loss = try DiversityLoss.fedgen(noise: z, samples: x, noiseDim: 64)
        try loss.backward()
        return try loss.item()
    }
    _ = try step()  // warm-up
    let clock = ContinuousClock()
    let cpuStart = processCPUSeconds()
    let start = clock.now
    var loss = 0.0
    for _ in 0..<steps { loss = try step() }
    let elapsed = clock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    let fields: [(String, String)] = [
        ("bench", "\"diversity\""), ("impl", "\"fedkit\""), ("samples", "\(samples)"), ("dims", "\(dims)"),
        ("steps", "\(steps)"), ("threads", "\(threads)"),
        ("ms_per_step", String(format: "%.3f", seconds * 1000 / Double(steps))),
        ("cpu_ms_per_step", String(format: "%.3f", (processCPUSeconds() - cpuStart) * 1000 / Double(steps))),
        ("loss", String(format: "%.6f", loss)),
    ]
    print("{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
}
