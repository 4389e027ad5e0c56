import FedKit
import Torch

// Helpers for server steps that run client models as teachers. The same helpers exist in
// plugins/Generators/ServerModels.swift: plugin targets depend only on FedKit, not on each other.

extension Plugin {
    /// `parameters` with every declared default filled in: YAML resolution already does this,
    /// plugins built in code (tests) may pass fewer.
    static func withDefaults(_ parameters: Parameters) -> Parameters {
        var filled = parameters
        for spec in descriptor.parameters where filled[spec.name] == nil {
            if let value = spec.defaultValue { filled.set(spec.name, value) }
        }
        return filled
    }
}

/// w[k][c] = n_{k,c} / sum_j n_{j,c}: how much teacher k speaks for class c. A teacher has no
/// say on a class it has not seen; for every class some teacher has seen, sum_k w[k][c] = 1.
enum TeacherWeights {
    static func make(_ teachers: [Teacher], classes: Int) -> [[Double]] {
        func count(_ t: Teacher, _ c: Int) -> Double { c < t.classCounts.count ? Double(max(0, t.classCounts[c])) : 0 }
        let totals = (0..<classes).map { c in teachers.reduce(0.0) { $0 + count($1, c) } }
        return teachers.map { t in (0..<classes).map { c in totals[c] > 0 ? count(t, c) / totals[c] : 0 } }
    }

    /// The classes at least one teacher has seen.
    static func seenClasses(_ weights: [[Double]], classes: Int) -> [Int] {
        (0..<classes).filter { c in weights.contains { $0[c] > 0 } }
    }
}

/// The space synthetic samples live in: the model's input space for continuous data; for token
/// data the output of the model's encoder layers (e.g. [T, embedding_dim]).
enum SampleSpace {
    /// The shape of one synthetic sample.
    static func shape(_ context: ServerRoundContext) throws -> [Int] {
        guard case .tokens = context.inputKind else { return context.inputShape }
        guard context.global.encoderLayers > 0 else {
            throw PluginError("token inputs need a model with encoder layers (an embedding) so that synthetic samples can be embedding vectors; this model has none")
        }
        let tokens = try Tensor.zeros([1] + context.inputShape, dtype: .int64)
        let encoded = try withoutGrad { try context.global.encode(tokens) }
        return Array(encoded.shape.dropFirst())
    }

    /// The first body layer that synthetic samples enter.
    static func firstLayer(_ network: Network, kind: InputKind) -> Int {
        if case .tokens = kind { return network.encoderLayers }
        return 0
    }
}

/// Turns gradient recording off for some tensors and later restores each one's own flag.
struct GradientFreeze {
    private let saved: [(tensor: Tensor, flag: Bool)]

    init(_ tensors: [Tensor]) throws {
        saved = tensors.map { ($0, $0.requiresGrad) }
        for t in tensors where t.requiresGrad { try t.requiringGrad(false) }
    }

    func restore() throws {
        for (tensor, flag) in saved where tensor.requiresGrad != flag { try tensor.requiringGrad(flag) }
    }
}
