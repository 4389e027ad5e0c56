import Config

/// Builds the fully resolved experiment (every default filled in) as YAML: printed by
/// `exp show` and written beside the results as config.yaml.
public enum ResolvedExperiment {
    static let here = SourceLocation(file: "<resolved>", line: 1, column: 1)

    public static func yaml(for spec: ExperimentSpec, registry: PluginRegistry) -> YAMLNode {
        var pairs: [(String, YAMLNode)] = [
            ("name", .scalar(spec.name, quoted: true, at: here)),
            ("seeds", ParameterValue.intList(spec.seeds).yamlNode(at: here)),
            ("output", .scalar(spec.output, quoted: true, at: here)),
            ("dataset", plugin(spec.dataset, registry: registry)),
            (
                "partition",
                plugin(
                    spec.partitioner, registry: registry,
                    extra: [("clients", ParameterValue.int(spec.clients).yamlNode(at: here))])
            ),
            ("model", plugin(spec.model, registry: registry)),
            ("federation", section(spec.federation, specs: Sections.federation)),
            ("eval", section(spec.evaluation, specs: Sections.evaluation)),
        ]
        pairs.append(
            (
                "methods",
                YAMLNode(kind: .sequence(spec.methods.map { method(($0), registry: registry) }), location: here)
            ))
        return .mapping(pairs, at: here)
    }

    /// One method, resolved.
    public static func method(_ m: MethodSpec, registry: PluginRegistry) -> YAMLNode {
        var pairs: [(String, YAMLNode)] = [
            ("name", .scalar(m.preset, quoted: true, at: here)),
            ("label", .scalar(m.label, quoted: true, at: here)),
            ("personal", .scalar(m.personal.rawValue, at: here)),
            ("local_start", .scalar(m.localStart.rawValue, at: here)),
            ("evaluate_with", .scalar(m.evaluateWith.rawValue, at: here)),
            ("trainer", plugin(m.trainer, registry: registry)),
            ("aggregator", plugin(m.aggregator, registry: registry)),
        ]
        if let g = m.generator { pairs.append(("generator", plugin(g, registry: registry))) }
        if let d = m.distiller { pairs.append(("distiller", plugin(d, registry: registry))) }
        return .mapping(pairs, at: here)
    }

    static func plugin(_ choice: PluginChoice, registry: PluginRegistry, extra: [(String, YAMLNode)] = []) -> YAMLNode {
        let specs = registry.descriptor(choice.kind, choice.name)?.parameters ?? []
        var pairs: [(String, YAMLNode)] = [("name", .scalar(choice.name, quoted: true, at: here))] + extra
        for spec in specs {
            if let value = choice.parameters[spec.name] { pairs.append((spec.name, value.yamlNode(at: here))) }
        }
        return .mapping(pairs, at: here)
    }

    static func section(_ parameters: Parameters, specs: [ParameterSpec]) -> YAMLNode {
        .mapping(
            specs.compactMap { spec in parameters[spec.name].map { (spec.name, $0.yamlNode(at: here)) } }, at: here)
    }
}

extension ResolvedExperiment {
    /// "alpha=0.1,min_size=10": a plugin's resolved parameters as stable text (cache keys).
    public static func parameterText(_ choice: PluginChoice) -> String {
        choice.parameters.values.keys.sorted().map { "\($0)=\(choice.parameters.values[$0]!)" }.joined(separator: ",")
    }
}
