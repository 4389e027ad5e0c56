import Config

/// Validated parameters of one plugin: every declared parameter has a value or is an unset optional.
public struct Parameters: Sendable, Equatable {
    public private(set) var values: [String: ParameterValue]
    /// Where each value came from (for errors raised later, e.g. a missing data file).
    public private(set) var locations: [String: SourceLocation]

    public init(_ values: [String: ParameterValue] = [:], locations: [String: SourceLocation] = [:]) {
        self.values = values
        self.locations = locations
    }

    /// The raw value under `name`. Plugins read their values through typed keys
    /// (`parameters[Self.key]`, ParameterKey.swift), which only reach declared parameters.
    subscript(name: String) -> ParameterValue? { values[name] }

    /// Sets a value (used by tests and programmatic construction).
    public mutating func set(_ name: String, _ value: ParameterValue) { values[name] = value }

    /// Removes a value (an optional parameter becomes unset).
    public mutating func remove(_ name: String) {
        values[name] = nil
        locations[name] = nil
    }

    /// These parameters checked against `specs` as the YAML path checks them (type, range,
    /// choices, required keys, no undeclared keys), with every default filled in. The registry
    /// calls this before a plugin's `init`, so parameters built in code get the same checks as
    /// those read from a file. `owner` names the plugin in messages ("aggregator 'trimmed-mean'").
    public func validated(against specs: [ParameterSpec], owner: String) throws -> Parameters {
        var result = Parameters()
        var problems: [String] = []
        let declared = Set(specs.map(\.name))
        for name in values.keys.sorted() where !declared.contains(name) {
            var message =
                "\(owner) has no parameter '\(name)'; declared: \(specs.map(\.name).sorted().joined(separator: ", "))"
            if let guess = closestMatch(to: name, in: Array(declared)) { message += " (did you mean '\(guess)'?)" }
            problems.append(message)
        }
        for spec in specs {
            if let value = values[spec.name] {
                let location = locations[spec.name] ?? SourceLocation(file: "<code>", line: 0, column: 0)
                do {
                    result.values[spec.name] = try spec.value(from: value.yamlNode(at: location), path: spec.name)
                    result.locations[spec.name] = locations[spec.name]
                } catch let error as ConfigError {
                    problems.append("\(owner): \(error.message)")
                } catch {
                    problems.append("\(owner): \(spec.name): \(error)")
                }
            } else if let value = spec.defaultValue {
                result.values[spec.name] = value
            } else if !spec.optional {
                problems.append("\(owner): \(spec.name) is required (\(spec.type.summary)): \(spec.doc)")
            }
        }
        guard problems.isEmpty else { throw PluginError(problems.joined(separator: "; ")) }
        return result
    }

    /// Validates the entries of a YAML mapping against `specs`. Keys in `ignoring` belong to
    /// the caller (e.g. `name`). Collects every error instead of stopping at the first.
    /// `owner` (e.g. "trainer 'sgd'") names whose keys these are in unknown-key messages, which
    /// matters when the plugin was chosen by a method preset rather than written in the file.
    public static func resolve(
        _ node: YAMLNode?, specs: [ParameterSpec], path: String, ignoring: Set<String> = [],
        owner: String? = nil, errors: inout [ConfigError]
    ) -> Parameters {
        var result = Parameters()
        var given: [String: YAMLNode] = [:]
        if let node {
            if let entries = node.entries {
                let valid = specs.map(\.name)
                for entry in entries where !ignoring.contains(entry.keyString) {
                    let key = entry.keyString
                    if valid.contains(key) {
                        given[key] = entry.value
                    } else {
                        errors.append(
                            unknownKey(
                                key, at: entry.key.location, path: path, valid: valid + ignoring.sorted(), owner: owner)
                        )
                    }
                }
            } else if !node.isNull {
                errors.append(ConfigError("\(path) must be a mapping, got \(node.describedValue)", at: node.location))
            }
        }
        for spec in specs {
            let key = path.isEmpty ? spec.name : "\(path).\(spec.name)"
            if let valueNode = given[spec.name], !valueNode.isNull {
                do {
                    result.values[spec.name] = try spec.value(from: valueNode, path: key)
                    result.locations[spec.name] = valueNode.location
                } catch let error as ConfigError {
                    errors.append(error)
                } catch {
                    errors.append(ConfigError("\(key): \(error)", at: valueNode.location))
                }
            } else if let value = spec.defaultValue {
                result.values[spec.name] = value
            } else if !spec.optional {
                errors.append(ConfigError("\(key) is required (\(spec.type.summary)): \(spec.doc)", at: node?.location))
            }
        }
        return result
    }

    /// "unknown key 'alhpa' in partition (partitioner 'dirichlet'); valid keys: alpha, clients, min_size (did you mean 'alpha'?)"
    public static func unknownKey(
        _ key: String, at location: SourceLocation?, path: String, valid: [String],
        owner: String? = nil
    ) -> ConfigError {
        let place = path.isEmpty ? "" : " in \(path)" + (owner.map { " (\($0))" } ?? "")
        var message = "unknown key '\(key)'\(place); valid keys: \(valid.sorted().joined(separator: ", "))"
        if let guess = closestMatch(to: key, in: valid) { message += " (did you mean '\(guess)'?)" }
        return ConfigError(message, at: location)
    }
}
