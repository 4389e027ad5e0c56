import Config

/// A named composition of plugins (plugins/methods/NAME.yaml), e.g. fedavg = sgd + weighted-average.
public struct MethodPreset: Sendable {
    public var name: String
    public var summary: String
    /// The preset's mapping (trainer, aggregator, generator, distiller, personal, local_start, evaluate_with).
    public var node: YAMLNode

    /// Parses a preset file's text.
    public init(yaml: String, file: String) throws {
        let node = try YAMLParser.parse(string: yaml, fileName: file)
        guard node.entries != nil else { throw ConfigError("a method preset must be a mapping", at: node.location) }
        guard let nameNode = node["name"] else {
            throw ConfigError("a method preset needs a 'name'", at: node.location)
        }
        name = try nameNode.string(path: "name")
        summary = try node["summary"]?.string(path: "summary") ?? ""
        self.node = node
    }
}

/// What a client keeps between rounds and is evaluated with.
public enum PersonalState: String, Sendable, CaseIterable {
    /// Nothing: the client is evaluated with the global model (FedAvg, FedProx).
    case none
    /// Its own classifier head on the current global body (FedPer, FedRep).
    case head
    /// A whole personal model (Local, Ditto, FedBKD).
    case model
    /// The entries the aggregator does not exchange (LG-FedAvg: the local lower layers; the
    /// shared top layers come from the global model).
    case unshared

    /// Where local training starts unless a method's `local_start` says otherwise.
    public var defaultLocalStart: LocalStart {
        switch self {
        case .none: return .global
        case .head: return .globalBody
        case .model, .unshared: return .personal
        }
    }
}

/// Where a client's local training starts each round.
public enum LocalStart: String, Sendable, CaseIterable {
    /// The global model.
    case global
    /// The client's personal model (Local).
    case personal
    /// The global body with the client's own head (FedPer, FedRep, FedBKD).
    case globalBody = "global-body"
}

/// Which model a client is tested with (docs/design.md §7), declared per method as `evaluate_with`.
public enum EvaluationModel: String, Sendable, CaseIterable {
    /// The global model, on every client (FedAvg, FedProx; any method with `personal: none`).
    case global
    /// The client's stored personal state, composed as for training: the current global body
    /// with its own head (`personal: head`) or its own whole model (`personal: model`).
    case personal
    /// FedBKD's published rule (docs/design.md §6.6): this round's sampled clients are tested with the
    /// model the round's distiller returned for them (`DistillationResult.personal`, else their
    /// model after local training), every other client as `personal`. The round's output is only evaluated,
    /// never stored (with `personal: head` the store keeps the head only).
    case roundOutput = "round-output"

    /// The default when a method does not say: `personal` when it keeps personal state, else `global`.
    public static func defaultFor(_ personal: PersonalState) -> EvaluationModel {
        personal == .none ? .global : .personal
    }
}

/// One method of an experiment, fully resolved.
public struct MethodSpec: Sendable {
    /// Unique name of the run folder and table row (the preset name unless `label` is given).
    public var label: String
    public var preset: String
    public var trainer: PluginChoice
    public var aggregator: PluginChoice
    public var generator: PluginChoice?
    public var distiller: PluginChoice?
    public var personal: PersonalState
    public var localStart: LocalStart
    /// Which model each client is tested with.
    public var evaluateWith: EvaluationModel

    public init(
        label: String, preset: String, trainer: PluginChoice, aggregator: PluginChoice, generator: PluginChoice?,
        distiller: PluginChoice?, personal: PersonalState, localStart: LocalStart,
        evaluateWith: EvaluationModel? = nil
    ) {
        self.label = label
        self.preset = preset
        self.trainer = trainer
        self.aggregator = aggregator
        self.generator = generator
        self.distiller = distiller
        self.personal = personal
        self.localStart = localStart
        self.evaluateWith = evaluateWith ?? EvaluationModel.defaultFor(personal)
    }
}

extension YAMLNode {
    /// A deep merge: mappings merge key by key (`other` wins); anything else is replaced.
    /// When both sides name a plugin with different `name`s, `other` replaces the whole mapping.
    public func merging(_ other: YAMLNode) -> YAMLNode {
        guard let mine = entries, let theirs = other.entries else { return other }
        if let a = self["name"]?.scalarValue, let b = other["name"]?.scalarValue, a != b { return other }
        var result = mine
        for entry in theirs {
            if let i = result.firstIndex(where: { $0.keyString == entry.keyString }) {
                result[i].value = result[i].value.merging(entry.value)
            } else {
                result.append(entry)
            }
        }
        return YAMLNode(kind: .mapping(result), location: location)
    }

    /// A scalar node (plain) at `location`.
    public static func scalar(_ text: String, quoted: Bool = false, at location: SourceLocation) -> YAMLNode {
        YAMLNode(kind: .scalar(text, quoted: quoted), location: location)
    }

    /// A mapping node from ordered pairs.
    public static func mapping(_ pairs: [(String, YAMLNode)], at location: SourceLocation) -> YAMLNode {
        YAMLNode(
            kind: .mapping(pairs.map { YAMLMappingEntry(key: .scalar($0.0, at: location), value: $0.1) }),
            location: location)
    }
}
