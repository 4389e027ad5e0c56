import FedKit
import Torch

// Generator-side helpers for server steps; the shared ones are in FedKit (ServerStepSupport.swift).

/// The round's teachers held in the workspace networks: eval mode, parameters frozen (gradients
/// reach the input, never the weights). With fewer networks than teachers, teacher k uses slot
/// k % slots and is reloaded (a value copy, no allocation) when that slot holds another teacher.
final class TeacherSlots {
    let networks: [Network]
    let states: [StateDict]
    private var resident: [Int?]
    private let freezes: [GradientFreeze]

    init(workspace: [Network], states: [StateDict]) throws {
        guard !workspace.isEmpty else {
            throw PluginError("the server round has no workspace network to load teachers into")
        }
        networks = Array(workspace.prefix(max(1, states.count)))
        self.states = states
        resident = Array(repeating: nil, count: networks.count)
        freezes = try networks.map { try GradientFreeze($0.parameters) }
        for n in networks { n.setTraining(false) }
    }

    /// The network holding teacher `k`.
    func network(_ k: Int) throws -> Network {
        let slot = k % networks.count
        if resident[slot] != k {
            try networks[slot].load(states[k])
            resident[slot] = k
        }
        return networks[slot]
    }

    /// Restores the parameters' gradient flags and training mode (workspace networks are reused by trainers).
    func release() {
        for f in freezes { try? f.restore() }
        for n in networks { n.setTraining(true) }
    }
}

/// Class labels drawn from a categorical distribution with an explicit torch generator.
enum LabelDraw {
    static func draw(_ count: Int, probabilities: [Double], generator: RandomGenerator) throws -> [Int] {
        let total = probabilities.reduce(0, +)
        guard total > 0 else { throw PluginError("cannot draw labels: no class has positive probability") }
        var cumulative: [Double] = []
        var running = 0.0
        for p in probabilities {
            running += max(0, p) / total
            cumulative.append(running)
        }
        let last = probabilities.lastIndex { $0 > 0 }!
        let uniforms = try Tensor.rand([count], generator: generator).floats()
        return uniforms.map { u in
            let i = cumulative.firstIndex { Double(u) < $0 } ?? last
            return probabilities[i] > 0 ? i : last
        }
    }
}
