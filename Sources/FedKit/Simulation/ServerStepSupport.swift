import Torch

// Helpers for server steps (generators, distillers) that run client models as teachers.

/// w[k][c] = n_{k,c} / sum_j n_{j,c}: how much teacher k speaks for class c. A teacher has no
/// say on a class it has not seen; for every class some teacher has seen, sum_k w[k][c] = 1.
public enum TeacherWeights {
    public static func make(_ teachers: [Teacher], classes: Int) -> [[Double]] {
        func count(_ t: Teacher, _ c: Int) -> Double { c < t.classCounts.count ? Double(max(0, t.classCounts[c])) : 0 }
        let totals = (0..<classes).map { c in teachers.reduce(0.0) { $0 + count($1, c) } }
        return teachers.map { t in (0..<classes).map { c in totals[c] > 0 ? count(t, c) / totals[c] : 0 } }
    }

    /// The classes at least one teacher has seen.
    public static func seenClasses(_ weights: [[Double]], classes: Int) -> [Int] {
        (0..<classes).filter { c in weights.contains { $0[c] > 0 } }
    }
}

/// The space synthetic samples live in: the model's input space for continuous data; for token
/// data the output of the model's encoder layers (e.g. [T, embedding_dim]), fed to teachers and
/// students through `forward(embedded:)`.
public enum SampleSpace {
    /// The shape of one synthetic sample.
    public static func shape(_ context: ServerRoundContext) throws -> [Int] {
        guard case .tokens = context.inputKind else { return context.inputShape }
        guard context.global.encoderLayers > 0 else {
            throw PluginError(
                "token inputs need a model with encoder layers (an embedding) so that synthetic samples can be embedding vectors; this model has none"
            )
        }
        let tokens = try Tensor.zeros([1] + context.inputShape, dtype: .int64)
        let encoded = try withoutGrad { try context.global.encode(tokens) }
        return Array(encoded.shape.dropFirst())
    }

    /// Logits of `network` for samples in the sample space.
    public static func logits(_ network: Network, _ x: Tensor, kind: InputKind) throws -> Tensor {
        if case .tokens = kind { return try network.forward(embedded: x) }
        return try network.forward(x)
    }

    /// The first body layer that synthetic samples enter.
    public static func firstLayer(_ network: Network, kind: InputKind) -> Int {
        if case .tokens = kind { return network.encoderLayers }
        return 0
    }
}

/// The width d of a model body's flat output [N, d] (the head's input), found by one forward pass
/// of a zero batch in eval mode.
public enum FeatureWidth {
    /// d, or nil when the body's output is not flat [N, d] or the probe fails (a model whose body
    /// cannot run on zeros of the input shape); a plugin that needs it says so. Leaves the
    /// network in training mode, as the engine keeps it.
    public static func of(_ network: Network, inputShape: [Int], inputKind: InputKind) -> Int? {
        network.setTraining(false)
        defer { network.setTraining(true) }
        let probe: Tensor?
        if case .tokens = inputKind {
            probe = try? Tensor.zeros([2] + inputShape, dtype: .int64)
        } else {
            probe = try? Tensor.zeros([2] + inputShape)
        }
        guard let probe, let f = try? withoutGrad({ try network.features(probe) }), f.rank == 2 else { return nil }
        return f.shape[1]
    }
}

/// Turns gradient recording off for some tensors and later restores each one's own flag.
public struct GradientFreeze {
    private let saved: [(tensor: Tensor, flag: Bool)]

    public init(_ tensors: [Tensor]) throws {
        saved = tensors.map { ($0, $0.requiresGrad) }
        for t in tensors where t.requiresGrad { try t.requiringGrad(false) }
    }

    public func restore() throws {
        for (tensor, flag) in saved where tensor.requiresGrad != flag { try tensor.requiringGrad(flag) }
    }
}

/// The round's teachers held in the workspace networks: eval mode, parameters frozen (gradients
/// reach the input, never the weights). With fewer networks than teachers, teacher k uses slot
/// k % slots and is reloaded (a value copy, no allocation) when that slot holds another teacher.
public final class TeacherSlots {
    public let networks: [Network]
    public let states: [StateDict]
    private var resident: [Int?]
    private let freezes: [GradientFreeze]

    public init(workspace: [Network], states: [StateDict]) throws {
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
    public func network(_ k: Int) throws -> Network {
        let slot = k % networks.count
        if resident[slot] != k {
            try networks[slot].load(states[k])
            resident[slot] = k
        }
        return networks[slot]
    }

    /// Restores the parameters' gradient flags and training mode (workspace networks are reused by trainers).
    public func release() {
        for f in freezes { try? f.restore() }
        for n in networks { n.setTraining(true) }
    }
}

/// Class labels drawn from a categorical distribution with an explicit torch generator.
public enum LabelDraw {
    /// `count` labels with P(c) proportional to `probabilities[c]` (negative values count as 0).
    public static func draw(_ count: Int, probabilities: [Double], generator: RandomGenerator) throws -> [Int] {
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
