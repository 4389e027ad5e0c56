import Torch

/// FedGen's generator G(z, y) in a model's feature space (the body's output, the head's input):
/// [z, onehot(y)] -> Linear(hidden) -> BatchNorm -> ReLU -> Linear(features), z ~ U[0,1)^noise_dim
/// (Zhu et al., "Data-Free Knowledge Distillation for Heterogeneous Federated Learning", ICML
/// 2021; the authors' `Generator` with one-hot labels, as PFLlib's `Generative`).
///
/// The server trains it (the `feature-generator` plugin) and sends it to the clients with the
/// round (`payload()`); a trainer rebuilds it from that payload (`init(payload:)`). Both sides use
/// this one type, so they always agree on the architecture. State names: `trunk.0.*` ... `trunk.3.*`.
public final class FeatureGenerator: Layer {
    public let noiseDim: Int
    public let classes: Int
    public let features: Int
    /// Linear - BatchNorm - ReLU - Linear, applied to [z, onehot(y)].
    public let trunk: Sequential

    public init(noiseDim: Int, classes: Int, hidden: Int, features: Int, generator g: RandomGenerator) throws {
        self.noiseDim = noiseDim
        self.classes = classes
        self.features = features
        trunk = Sequential([
            try Linear(noiseDim + classes, hidden, generator: g),
            try BatchNorm(hidden),
            Activation.relu,
            try Linear(hidden, features, generator: g),
        ])
    }

    public var children: [(name: String, layer: any Layer)] { [("trunk", trunk)] }

    public func forward(_ x: Tensor) throws -> Tensor { try trunk.forward(x) }

    /// Features [N, features] for int64 labels [N] and noise [N, noise_dim].
    public func generate(labels: Tensor, noise: Tensor) throws -> Tensor {
        guard noise.rank == 2, noise.shape[1] == noiseDim, labels.rank == 1, labels.shape[0] == noise.shape[0] else {
            throw PluginError(
                "feature generator: expected noise [N, \(noiseDim)] and labels [N], got \(noise.shape) and \(labels.shape)"
            )
        }
        return try trunk.forward(Tensor.cat([noise, labels.oneHot(classes: classes).to(.float32)], dim: 1))
    }

    /// Features for labels with fresh uniform noise drawn from `generator`.
    public func generate(labels: Tensor, generator: RandomGenerator) throws -> Tensor {
        try generate(labels: labels, noise: Tensor.rand([labels.shape[0], noiseDim], generator: generator))
    }

    /// Payload entry prefix; the noise dimension travels as `feature_generator.noise_dim`, the
    /// optional label counts as `feature_generator.label_counts`.
    public static let payloadPrefix = "feature_generator"
    static let extraEntries: Set<String> = [payloadPrefix + ".noise_dim", payloadPrefix + ".label_counts"]

    /// What the server sends: the generator's state (a copy), its noise dimension and, when
    /// given, the federation's training samples per class.
    public func payload(labelCounts: [Int]? = nil) throws -> StateDict {
        var entries = try stateDict().copy().entries.map { ("\(Self.payloadPrefix).\($0.name)", $0.tensor) }
        entries.append(("\(Self.payloadPrefix).noise_dim", try Tensor([noiseDim])))
        if let labelCounts { entries.append(("\(Self.payloadPrefix).label_counts", try Tensor(labelCounts))) }
        return StateDict(entries)
    }

    /// The federation's training samples per class, when the round's payload carries them.
    public static func labelCounts(payload: StateDict) throws -> [Int]? {
        try payload["\(payloadPrefix).label_counts"]?.ints()
    }

    /// The generator a round's payload carries, or nil when it carries none (before the server
    /// has trained one). Throws when the entries are there but do not make a generator.
    public convenience init?(payload: StateDict) throws {
        let state = payload.under(Self.payloadPrefix)
        guard !state.isEmpty else { return nil }
        let prefix = Self.payloadPrefix + "."
        func entry(_ name: String) throws -> Tensor {
            guard let t = state[prefix + name] else {
                throw PluginError("feature generator: the payload lacks \(prefix + name)")
            }
            return t
        }
        let first = try entry("trunk.0.weight"), last = try entry("trunk.3.weight")
        guard let noiseDim = try entry("noise_dim").ints().first, first.rank == 2, last.rank == 2,
            first.shape[1] > noiseDim, noiseDim > 0
        else {
            throw PluginError(
                "feature generator: the payload's shapes \(first.shape) and noise_dim do not make a generator")
        }
        try self.init(
            noiseDim: noiseDim, classes: first.shape[1] - noiseDim, hidden: first.shape[0], features: last.shape[0],
            generator: RandomGenerator(seed: 0))
        let weights = StateDict(
            state.entries.filter { !Self.extraEntries.contains($0.name) }
                .map { (String($0.name.dropFirst(prefix.count)), $0.tensor) })
        try load(weights)
    }
}
