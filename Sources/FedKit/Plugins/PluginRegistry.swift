import Config

/// All plugins and method presets known to a run of `exp`. Built-ins register themselves
/// through `BuiltinPlugins.registry()`; a user's own plugin target calls `register` too.
public struct PluginRegistry: Sendable {
    struct Entry: Sendable {
        var descriptor: PluginDescriptor
        /// The registered type's name, for the duplicate-name error.
        var typeName: String
        /// Validates the parameters, fills defaults, runs `init` and `validate()`.
        var make: @Sendable (Parameters) throws -> Any
    }

    private var entries: [PluginKind: [String: Entry]] = [:]
    /// Method presets by name.
    public private(set) var methods: [String: MethodPreset] = [:]

    public init() {}

    /// Registers a plugin type under its descriptor's kind and name. Throws when that name is
    /// taken for the kind (the error names both types), when the type does not conform to its
    /// kind's protocol, or when it declares a parameter twice.
    public mutating func register<P: Plugin>(_ type: P.Type) throws {
        let d = P.descriptor
        let conforms: Bool
        switch d.kind {
        case .dataset: conforms = type is any DatasetPlugin.Type
        case .partitioner: conforms = type is any PartitionerPlugin.Type
        case .model: conforms = type is any ModelPlugin.Type
        case .trainer: conforms = type is any TrainerPlugin.Type
        case .aggregator: conforms = type is any AggregatorPlugin.Type
        case .generator: conforms = type is any GeneratorPlugin.Type
        case .distiller: conforms = type is any DistillerPlugin.Type
        }
        let typeName = String(reflecting: type)
        guard conforms else {
            throw PluginError("\(typeName) declares kind \(d.kind) but does not conform to \(d.kind)'s protocol")
        }
        let names = d.parameters.map(\.name)
        if let twice = names.first(where: { name in names.filter { $0 == name }.count > 1 }) {
            throw PluginError("\(typeName) (\(d.label)) declares the parameter '\(twice)' twice")
        }
        if let taken = entries[d.kind]?[d.name] {
            throw PluginError(
                "\(d.label) is registered twice: by \(taken.typeName) and by \(typeName); "
                    + "give one of them another name")
        }
        entries[d.kind, default: [:]][d.name] = Entry(descriptor: d, typeName: typeName, make: { try P.make($0) })
    }

    /// Registers every type of a catalog (see `register(_:)`).
    public mutating func register(_ types: [any Plugin.Type]) throws {
        for type in types { try register(type) }
    }

    /// Registers a method preset. Throws when a preset of that name is registered already.
    public mutating func register(method: MethodPreset) throws {
        if methods[method.name] != nil {
            throw PluginError("method preset '\(method.name)' is registered twice; give one of them another name")
        }
        methods[method.name] = method
    }

    /// The descriptor of `name`, if registered.
    public func descriptor(_ kind: PluginKind, _ name: String) -> PluginDescriptor? { entries[kind]?[name]?.descriptor }

    /// All descriptors of a kind, sorted by name.
    public func descriptors(_ kind: PluginKind) -> [PluginDescriptor] {
        (entries[kind] ?? [:]).values.map(\.descriptor).sorted { $0.name < $1.name }
    }

    public func names(_ kind: PluginKind) -> [String] { descriptors(kind).map(\.name) }

    /// Builds the plugin named by `choice` as the protocol type `T`: its parameters are validated
    /// against the declaration and every default filled in before `init`, then `validate()` runs.
    public func make<T>(_ choice: PluginChoice, as _: T.Type) throws -> T {
        guard let entry = entries[choice.kind]?[choice.name] else {
            throw PluginError("no \(choice.kind) plugin named '\(choice.name)'")
        }
        guard let plugin = try entry.make(choice.parameters) as? T else {
            throw PluginError("\(choice.kind) plugin '\(choice.name)' has the wrong type")
        }
        return plugin
    }

    /// Resolves `section` (a mapping with `name` plus parameters, or just a name) for `kind`.
    /// Errors are appended; returns nil when the plugin itself is unknown.
    public func resolve(
        _ kind: PluginKind, _ node: YAMLNode?, path: String, extraKeys: Set<String> = [],
        errors: inout [ConfigError], fallbackLocation: SourceLocation? = nil
    ) -> PluginChoice? {
        guard let node, !node.isNull else {
            errors.append(
                ConfigError(
                    "\(path) is required: a mapping with 'name' (one of: \(names(kind).joined(separator: ", ")))",
                    at: fallbackLocation))
            return nil
        }
        let nameNode: YAMLNode
        if node.scalarValue != nil {
            nameNode = node
        } else if node.entries != nil {
            guard let n = node["name"] else {
                errors.append(
                    ConfigError(
                        "\(path).name is required (one of: \(names(kind).joined(separator: ", ")))", at: node.location))
                return nil
            }
            nameNode = n
        } else {
            errors.append(
                ConfigError("\(path) must be a mapping with 'name', got \(node.describedValue)", at: node.location))
            return nil
        }
        let name: String
        do { name = try nameNode.string(path: "\(path).name") } catch let e as ConfigError {
            errors.append(e)
            return nil
        } catch { return nil }
        guard let descriptor = descriptor(kind, name) else {
            var message = "unknown \(kind) '\(name)' in \(path); available: \(names(kind).joined(separator: ", "))"
            if let guess = closestMatch(to: name, in: names(kind)) { message += " (did you mean '\(guess)'?)" }
            errors.append(ConfigError(message, at: nameNode.location))
            return nil
        }
        let parameters = Parameters.resolve(
            node.entries != nil ? node : nil, specs: descriptor.parameters, path: path,
            ignoring: extraKeys.union(["name"]), owner: "\(kind) '\(name)'", errors: &errors)
        return PluginChoice(kind: kind, name: name, parameters: parameters, location: node.location)
    }
}

/// A plugin picked by an experiment, with validated parameters.
public struct PluginChoice: Sendable, Equatable {
    public var kind: PluginKind
    public var name: String
    public var parameters: Parameters
    public var location: SourceLocation?

    public init(kind: PluginKind, name: String, parameters: Parameters = Parameters(), location: SourceLocation? = nil)
    {
        self.kind = kind
        self.name = name
        self.parameters = parameters
        self.location = location
    }
}
