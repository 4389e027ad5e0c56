import Config

/// How a run configuration written by an earlier FedKit reads today. Keys added since a run was
/// made are absent from its config.yaml, and some values were renamed. A run that has a new key
/// at the value that reproduces the behaviour from before the key existed, and a run without
/// it, are the same setting: `exp report` makes them seeds of one row, and `--resume` continues
/// or keeps such a run instead of starting it again.
public enum ConfigHistory {
    /// Keys added since the first runs, at the values that reproduce the behaviour before they
    /// existed. Method keys are written as `displayKey` shows them (without `methods.0.`).
    public static let valuesBeforeKeysExisted: [String: Set<String>] = [
        "federation.batched_clients": ["off"],
        "federation.drop_last": ["false"],
        "aggregator.server_lr": ["1", "1.0"],
        "aggregator.top_layers": ["2"],
        "generator.output": ["linear"],
        "generator.image_path": ["raw"],
        "model.logit_dropout": ["0", "0.0"],
    ]
    /// Keys added since whose new value changes the behaviour only on some datasets: there it is
    /// a new setting, elsewhere it reads as before. `generator.image_path: published` changes
    /// samples only of 3 x 32 x 32 image datasets (`PublishedImagePath`).
    public static let valuesBeforeKeysExistedExceptOn: [String: (value: String, datasets: Set<String>)] = [
        "generator.image_path": (value: "published", datasets: ["cifar10", "cifar100"])
    ]
    /// Values renamed since, old -> current, by key.
    public static let renamedValues: [String: [String: String]] = [
        "dataset.normalize": ["true": "standard", "false": "none"]
    ]

    /// A config's scalar settings by dotted path (`federation.lr`, `methods.0.trainer.mu`); a
    /// sequence of scalars is one setting, written `[a, b]`.
    public static func settings(of node: YAMLNode) -> [String: String] {
        var out: [String: String] = [:]
        flatten(node, prefix: "", into: &out)
        return out
    }

    /// `settings` with keys at their value from before they existed left out and renamed values
    /// under their current name.
    public static func canonical(_ settings: [String: String]) -> [String: String] {
        var result: [String: String] = [:]
        for (key, value) in settings {
            let shown = displayKey(key)
            if valuesBeforeKeysExisted[shown]?.contains(value) == true { continue }
            if let rule = valuesBeforeKeysExistedExceptOn[shown], rule.value == value,
                let dataset = settings["dataset.name"], !rule.datasets.contains(dataset)
            {
                continue
            }
            result[key] = renamedValues[shown]?[value] ?? value
        }
        return result
    }

    /// A method key without its `methods.0.` prefix (a run's config.yaml has one method).
    public static func displayKey(_ key: String) -> String {
        key.hasPrefix("methods.0.") ? String(key.dropFirst("methods.0.".count)) : key
    }

    private static func flatten(_ node: YAMLNode, prefix: String, into out: inout [String: String]) {
        switch node.kind {
        case .scalar(let text, _):
            out[prefix] = text
        case .sequence(let items):
            if items.allSatisfy({ $0.scalarValue != nil }) {
                out[prefix] = "[" + items.map { $0.scalarValue! }.joined(separator: ", ") + "]"
            } else {
                for (i, item) in items.enumerated() { flatten(item, prefix: "\(prefix).\(i)", into: &out) }
            }
        case .mapping(let entries):
            for e in entries {
                flatten(e.value, prefix: prefix.isEmpty ? e.keyString : "\(prefix).\(e.keyString)", into: &out)
            }
        }
    }
}
