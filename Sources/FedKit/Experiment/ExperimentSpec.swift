import Config
import Foundation

/// A whole experiment file, validated: the data, the partition, the model, the shared
/// federation settings and the methods that run side by side on them.
public struct ExperimentSpec: Sendable {
    public var name: String
    public var seeds: [Int]
    public var dataset: PluginChoice
    public var partitioner: PluginChoice
    public var clients: Int
    public var model: PluginChoice
    public var federation: Parameters
    public var evaluation: Parameters
    public var methods: [MethodSpec]
    public var output: String
    /// The source file (for messages and the manifest).
    public var file: String
    /// The fully resolved experiment (defaults filled in) as YAML.
    public var resolved: YAMLNode
    /// The `sweep:` section's grid (empty without one): `exp sweep` plans it into tasks.
    public var sweep = SweepGrid()
    /// The `slurm:` section (`SlurmSettings`), defaults filled in.
    public var slurm = Parameters()
}

/// Reads and validates experiment files against a registry.
public struct ExperimentLoader: Sendable {
    public var registry: PluginRegistry

    public init(registry: PluginRegistry) { self.registry = registry }

    /// Parses `path`, applies `--set` overrides and validates everything, collecting all errors.
    public func load(file path: String, overrides: [String] = []) throws -> ExperimentSpec {
        var root = try YAMLParser.parse(file: path)
        for assignment in overrides {
            let (keyPath, value) = try YAMLOverride.parse(assignment)
            root = try Self.expandingMethodShorthand(root, for: keyPath).setting(path: keyPath, to: value)
        }
        return try resolve(root, file: path)
    }

    /// Validates a parsed experiment.
    public func resolve(_ root: YAMLNode, file: String) throws -> ExperimentSpec {
        var errors: [ConfigError] = []
        guard let entries = root.entries else {
            throw ConfigErrors(errors: [
                ConfigError(
                    "an experiment file must be a mapping of sections (\(Sections.topLevelKeys.joined(separator: ", "))), got \(root.describedValue)",
                    at: root.location)
            ])
        }
        for entry in entries where !Sections.topLevelKeys.contains(entry.keyString) {
            errors.append(
                Parameters.unknownKey(entry.keyString, at: entry.key.location, path: "", valid: Sections.topLevelKeys))
        }
        let fileStem = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
        let name = (try? root["name"]?.string(path: "name")) ?? fileStem
        if let n = root["name"], n.scalarValue == nil {
            errors.append(ConfigError("name must be a string, got \(n.describedValue)", at: n.location))
        } else if !Self.isValidName(name) {
            let what = root["name"] == nil ? "the experiment name (the file name, as there is no 'name' key)" : "name"
            errors.append(
                ConfigError(
                    "\(what) must be non-empty and use only letters, digits, '-', '_' and '.', got \"\(name)\"",
                    at: root["name"]?.location ?? root.location))
        }
        let top = Parameters.resolve(
            YAMLNode.mapping(
                [("seeds", root["seeds"]), ("output", root["output"])].compactMap { k, v in v.map { (k, $0) } },
                at: root.location),
            specs: Sections.topLevel, path: "", errors: &errors)
        // An invalid `seeds` has already been reported (and left unset).
        let seeds = top["seeds"] == nil ? [] : top[Sections.seeds]
        if top["seeds"] != nil, seeds.isEmpty {
            errors.append(ConfigError("seeds must list at least one seed", at: root["seeds"]?.location))
        }
        if Set(seeds).count != seeds.count {
            errors.append(ConfigError("seeds must be distinct, got \(seeds)", at: root["seeds"]?.location))
        }

        let dataset = registry.resolve(
            .dataset, root["dataset"], path: "dataset", errors: &errors, fallbackLocation: root.location)
        let partitionCommon = Parameters.resolve(
            root["partition"].flatMap {
                $0.entries != nil ? $0.filtered(keys: Set(Sections.partitionCommon.map(\.name))) : nil
            },
            specs: Sections.partitionCommon, path: "partition", errors: &errors)
        let partitioner = registry.resolve(
            .partitioner, root["partition"], path: "partition",
            extraKeys: Set(Sections.partitionCommon.map(\.name)), errors: &errors, fallbackLocation: root.location)
        let model = registry.resolve(
            .model, root["model"], path: "model", errors: &errors, fallbackLocation: root.location)
        let federation = Parameters.resolve(
            root["federation"], specs: Sections.federation, path: "federation", errors: &errors)
        let evaluation = Parameters.resolve(root["eval"], specs: Sections.evaluation, path: "eval", errors: &errors)
        let sweep = root["sweep"].map { SweepGrid.parse($0, errors: &errors) } ?? SweepGrid()
        let slurm = SlurmSettings.resolve(root["slurm"], errors: &errors)
        var builds: [PendingBuild] = [dataset, partitioner, model].compactMap { $0 }.map {
            PendingBuild(
                choice: $0, path: $0.kind == .partitioner ? "partition" : $0.kind.section, location: $0.location)
        }
        let methods = resolveMethods(root["methods"], root: root, errors: &errors, builds: &builds)
        // Only a fully validated plugin can be built (its parameters are all present).
        if errors.isEmpty {
            for pending in builds { build(pending, errors: &errors) }
        }

        guard errors.isEmpty, let dataset, let partitioner, let model else {
            throw ConfigErrors(
                errors: errors.enumerated().sorted { a, b in
                    let (la, lb) = (a.element.location, b.element.location)
                    return (la?.line ?? 0, la?.column ?? 0, a.offset) < (lb?.line ?? 0, lb?.column ?? 0, b.offset)
                }.map(\.element))
        }
        var spec = ExperimentSpec(
            name: name, seeds: seeds, dataset: dataset, partitioner: partitioner,
            clients: partitionCommon[Sections.clients], model: model, federation: federation,
            evaluation: evaluation, methods: methods, output: top[Sections.output], file: file,
            resolved: root)
        spec.resolved = ResolvedExperiment.yaml(for: spec, registry: registry)
        spec.sweep = sweep
        spec.slurm = slurm
        return spec
    }

    func resolveMethods(
        _ node: YAMLNode?, root: YAMLNode, errors: inout [ConfigError], builds: inout [PendingBuild]
    ) -> [MethodSpec] {
        guard let node, let items = node.items, !items.isEmpty else {
            let available = registry.methods.keys.sorted().joined(separator: ", ")
            errors.append(
                ConfigError(
                    "methods must be a non-empty list of method presets (available: \(available))",
                    at: node?.location ?? root.location))
            return []
        }
        var methods: [MethodSpec] = []
        var labels: [String: SourceLocation] = [:]
        for (i, item) in items.enumerated() {
            let path = "methods[\(i)]"
            guard let method = resolveMethod(item, path: path, errors: &errors, builds: &builds) else { continue }
            if let first = labels[method.label] {
                errors.append(
                    ConfigError(
                        "\(path): method label '\(method.label)' is used twice (first at line \(first.line)); give one a distinct 'label'",
                        at: item.location))
            }
            labels[method.label] = item.location
            methods.append(method)
        }
        return methods
    }

    /// Merges one `methods` item over its preset and validates the result.
    func resolveMethod(
        _ item: YAMLNode, path: String, errors: inout [ConfigError], builds: inout [PendingBuild]
    ) -> MethodSpec? {
        let nameNode = item.scalarValue != nil ? item : item["name"]
        guard let nameNode, let presetName = nameNode.scalarValue, item.scalarValue != nil || item.entries != nil else {
            errors.append(ConfigError("\(path) must be a preset name or a mapping with 'name'", at: item.location))
            return nil
        }
        guard let preset = registry.methods[presetName] else {
            let names = registry.methods.keys.sorted()
            var message = "unknown method '\(presetName)' in \(path); available: \(names.joined(separator: ", "))"
            if let guess = closestMatch(to: presetName, in: names) { message += " (did you mean '\(guess)'?)" }
            errors.append(ConfigError(message, at: nameNode.location))
            return nil
        }
        let merged = item.entries != nil ? preset.node.merging(item) : preset.node
        for entry in merged.entries ?? [] where !Sections.methodKeys.contains(entry.keyString) {
            errors.append(
                Parameters.unknownKey(entry.keyString, at: entry.key.location, path: path, valid: Sections.methodKeys))
        }
        var label = presetName
        var labelIsValid = true
        if let labelNode = item["label"] {
            // The label names the run's folder: the same rule as the experiment name.
            if let text = labelNode.scalarValue, Self.isValidName(text) {
                label = text
            } else {
                labelIsValid = false
                errors.append(
                    ConfigError(
                        "\(path).label must be non-empty and use only letters, digits, '-', '_' and '.', got \(labelNode.describedValue)",
                        at: labelNode.location))
            }
        }
        // Locations fall back to the item: the merged mapping is located in the preset file.
        let trainer = registry.resolve(
            .trainer, merged["trainer"], path: "\(path).trainer", errors: &errors, fallbackLocation: item.location)
        let aggregator = registry.resolve(
            .aggregator, merged["aggregator"], path: "\(path).aggregator", errors: &errors,
            fallbackLocation: item.location)
        let generator = merged["generator"].flatMap {
            $0.isNull ? nil : registry.resolve(.generator, $0, path: "\(path).generator", errors: &errors)
        }
        let distiller = merged["distiller"].flatMap {
            $0.isNull ? nil : registry.resolve(.distiller, $0, path: "\(path).distiller", errors: &errors)
        }
        let flagErrors = errors.count
        let flags = Parameters.resolve(
            merged.filtered(keys: Set(Sections.method.map(\.name))), specs: Sections.method,
            path: path, errors: &errors)
        // An invalid value has been reported above; the defaults stand in for it.
        let valid = errors.count == flagErrors
        let personal = valid ? flags[Sections.personal] : .none
        let localStart = (valid ? flags[Sections.localStart] : nil) ?? personal.defaultLocalStart
        let evaluateWith = (valid ? flags[Sections.evaluateWith] : nil) ?? .defaultFor(personal)
        // Point at the experiment file's line when it wrote the key, else at the method entry.
        let evaluateLocation = item["evaluate_with"]?.location ?? item.location
        let personalWhere = item["personal"] == nil ? "preset '\(presetName)' has personal: none" : "personal: none"
        if evaluateWith == .personal, personal == .none {
            errors.append(
                ConfigError(
                    "\(path): evaluate_with: personal needs personal state, but \(personalWhere); use evaluate_with: global or set personal: head or model",
                    at: evaluateLocation))
        }
        if evaluateWith == .roundOutput {
            if distiller == nil {
                errors.append(
                    ConfigError(
                        "\(path): evaluate_with: round-output tests this round's clients with the model the distiller left for them, but the method has no distiller; use evaluate_with: personal or global",
                        at: evaluateLocation))
            }
            if personal == .none {
                errors.append(
                    ConfigError(
                        "\(path): evaluate_with: round-output tests the clients not sampled this round with their personal state, but \(personalWhere); set personal: head or model",
                        at: evaluateLocation))
            }
        }
        if let generator {
            // A generator of model inputs feeds a distiller; one of another space (FedGen's
            // features) reaches the clients as a round payload and cannot feed a distiller.
            // (Building the plugin is cheap; an invalid one is reported by `build` below.)
            let makesInputs = (try? registry.make(generator, as: (any GeneratorPlugin).self))?.samplesModelInputs ?? true
            // Point at what the experiment file wrote (the preset's own lines are in plugins/methods/).
            let origin = item["generator"] == nil ? "preset '\(presetName)'" : "this entry"
            if makesInputs, distiller == nil {
                errors.append(ConfigError("\(path): a generator needs a distiller to use its samples (the generator comes from \(origin))",
                                          at: item["distiller"]?.location ?? item["generator"]?.location ?? item.location))
            } else if !makesInputs, distiller != nil {
                errors.append(ConfigError("\(path): generator '\(generator.name)' makes samples that are not model inputs (it comes from \(origin)); a distiller cannot use them: remove the distiller or choose a generator of model inputs",
                                          at: item["distiller"]?.location ?? item["generator"]?.location ?? item.location))
            }
        }
        for (key, choice) in [
            ("trainer", trainer), ("aggregator", aggregator), ("generator", generator), ("distiller", distiller),
        ] {
            if let choice {
                builds.append(
                    PendingBuild(choice: choice, path: "\(path).\(key)", location: item[key]?.location ?? item.location)
                )
            }
        }
        // An invalid label is reported; leaving the method out avoids a spurious duplicate-label error.
        guard let trainer, let aggregator, labelIsValid else { return nil }
        return MethodSpec(
            label: label, preset: presetName, trainer: trainer, aggregator: aggregator, generator: generator,
            distiller: distiller, personal: personal, localStart: localStart, evaluateWith: evaluateWith)
    }
}

extension ExperimentLoader {
    /// `methods: [fedprox]` with `--set methods[0].trainer.mu=0.5`: a method written as a bare
    /// preset name becomes `{name: fedprox}` first, so that its fields can be overridden.
    static func expandingMethodShorthand(_ root: YAMLNode, for keyPath: [String]) throws -> YAMLNode {
        guard keyPath.count > 2, keyPath[0] == "methods", let index = Int(keyPath[1]),
            let items = root["methods"]?.items, items.indices.contains(index),
            items[index].scalarValue != nil, !items[index].isNull
        else { return root }
        let item = items[index]
        return try root.setting(path: ["methods", keyPath[1]], to: .mapping([("name", item)], at: item.location))
    }

    /// Experiment, run and method-label names become folder names.
    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name != "." && name != ".."
            && name.allSatisfy { $0.isLetter || $0.isNumber || "-_.".contains($0) }
    }

    /// A validated plugin choice to build once, with where to report its failure.
    struct PendingBuild {
        var choice: PluginChoice
        var path: String
        var location: SourceLocation?
    }

    /// Builds a plugin once, so that the checks a plugin makes itself (constraints between its
    /// parameters, e.g. synthetic's size_max >= size_min) are configuration errors at the plugin's
    /// mapping, found by `exp validate`, rather than failures at run time. Plugins do no work in
    /// their initialisers (data is read by `load()`, networks by `build`), so this is cheap.
    func build(_ pending: PendingBuild, errors: inout [ConfigError]) {
        do {
            _ = try registry.make(pending.choice, as: Any.self)
        } catch {
            errors.append(ConfigError("\(pending.path): \(error)", at: pending.location ?? pending.choice.location))
        }
    }
}

extension YAMLNode {
    /// A mapping with only the entries whose keys are in `keys`.
    func filtered(keys: Set<String>) -> YAMLNode {
        YAMLNode(kind: .mapping((entries ?? []).filter { keys.contains($0.keyString) }), location: location)
    }
}
