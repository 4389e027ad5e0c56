import Config
import Foundation

/// One swept key and its values. `method` and `seed` are axes of their own (method labels of the
/// file's `methods`, seeds); every other key is a key path into the experiment file, as for `--set`.
public struct SweepAxis: Sendable {
    /// The key as written (`federation.lr`, `methods[1].trainer.mu`, `method`, `seed`).
    public var key: String
    public var path: [String]
    public var values: [YAMLNode]
    public var location: SourceLocation?

    public enum Kind: Sendable { case method, seed, setting }
    public var kind: Kind {
        switch key {
        case "method", "methods": return .method
        case "seed", "seeds": return .seed
        default: return .setting
        }
    }
}

/// The grid of an experiment's `sweep:` section and `--grid` options: the cartesian product of
/// its groups, where a group is one axis (`grid:`) or axes whose lists vary together (`zip:`).
public struct SweepGrid: Sendable {
    public var groups: [[SweepAxis]]

    public init(groups: [[SweepAxis]] = []) { self.groups = groups }

    public var axes: [SweepAxis] { groups.flatMap { $0 } }
    public var isEmpty: Bool { groups.isEmpty }

    /// Every combination, first group slowest: for each, the (axis, value) pairs in axis order.
    public var cells: [[(axis: SweepAxis, value: YAMLNode)]] {
        var cells: [[(axis: SweepAxis, value: YAMLNode)]] = [[]]
        for group in groups {
            let count = group.first?.values.count ?? 0
            cells = cells.flatMap { cell in
                (0..<count).map { i in cell + group.map { ($0, $0.values[i]) } }
            }
        }
        return cells
    }

    /// Reads a `sweep:` section: `grid:` (a mapping of keys to lists of values) and `zip:` (a list of
    /// such mappings whose lists have equal lengths and vary together). Errors are appended.
    public static func parse(_ node: YAMLNode, errors: inout [ConfigError]) -> SweepGrid {
        guard let entries = node.entries else {
            errors.append(
                ConfigError(
                    "sweep must be a mapping with 'grid' and/or 'zip', got \(node.describedValue)", at: node.location))
            return SweepGrid()
        }
        var grid = SweepGrid()
        for entry in entries {
            switch entry.keyString {
            case "grid":
                guard let axes = entry.value.entries, !axes.isEmpty else {
                    errors.append(
                        ConfigError(
                            "sweep.grid must be a mapping of keys to lists of values (e.g. federation.lr: [0.01, 0.1]), got \(entry.value.describedValue)",
                            at: entry.value.location))
                    continue
                }
                for axis in axes {
                    if let a = parseAxis(axis, path: "sweep.grid", errors: &errors) { grid.groups.append([a]) }
                }
            case "zip":
                guard let items = entry.value.items, !items.isEmpty else {
                    errors.append(
                        ConfigError(
                            "sweep.zip must be a list of mappings whose lists vary together (e.g. - {federation.local_epochs: [1, 5], federation.lr: [0.1, 0.01]}), got \(entry.value.describedValue)",
                            at: entry.value.location))
                    continue
                }
                for (i, item) in items.enumerated() {
                    guard let axes = item.entries, !axes.isEmpty else {
                        errors.append(
                            ConfigError(
                                "sweep.zip[\(i)] must be a mapping of keys to lists of values, got \(item.describedValue)",
                                at: item.location))
                        continue
                    }
                    let group = axes.compactMap { parseAxis($0, path: "sweep.zip[\(i)]", errors: &errors) }
                    guard group.count == axes.count else { continue }
                    if Set(group.map(\.values.count)).count > 1 {
                        errors.append(
                            ConfigError(
                                "sweep.zip[\(i)]: the lists of a zip group must have the same length, got "
                                    + group.map { "\($0.key): \($0.values.count)" }.joined(separator: ", "),
                                at: item.location))
                        continue
                    }
                    grid.groups.append(group)
                }
            default:
                errors.append(
                    Parameters.unknownKey(
                        entry.keyString, at: entry.key.location, path: "sweep", valid: ["grid", "zip"]))
            }
        }
        grid.checkDistinctKeys(errors: &errors)
        return grid
    }

    /// `--grid KEY=V1,V2,...`: one axis; values split at top-level commas (not inside brackets,
    /// braces or quotes), each read as YAML like a `--set` value.
    public static func parseOption(_ text: String) throws -> SweepAxis {
        guard let equals = text.firstIndex(of: "=") else {
            throw ConfigError(
                "--grid must look like KEY=V1,V2,... (e.g. federation.lr=0.01,0.1); '\(text)' has no '='",
                at: SourceLocation(file: YAMLOverride.fileName, line: 1, column: 1), sourceLine: text)
        }
        let key = String(text[..<equals])
        let parts = splitTopLevel(String(text[text.index(after: equals)...]))
        var values: [YAMLNode] = []
        var path: [String] = []
        for part in parts {
            let (p, value) = try YAMLOverride.parse("\(key)=\(part)")
            path = p
            values.append(value)
        }
        guard !values.isEmpty, !parts.contains(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) else {
            throw ConfigError(
                "--grid \(key): every value must be non-empty, got '\(text)'",
                at: SourceLocation(file: YAMLOverride.fileName, line: 1, column: 1), sourceLine: text)
        }
        return SweepAxis(
            key: key, path: path, values: values,
            location: SourceLocation(file: YAMLOverride.fileName, line: 1, column: 1))
    }

    /// Adds command-line axes: an axis for a key the file already sweeps replaces that key's values.
    public mutating func adding(options axes: [SweepAxis]) throws {
        for axis in axes {
            if let g = groups.firstIndex(where: { $0.count == 1 && Self.sameKey($0[0], axis) }) {
                groups[g] = [axis]
            } else if groups.contains(where: { $0.contains { Self.sameKey($0, axis) } }) {
                throw ConfigError(
                    "--grid \(axis.key): the file sweeps this key in a zip group; change the file instead")
            } else {
                groups.append([axis])
            }
        }
    }

    static func sameKey(_ a: SweepAxis, _ b: SweepAxis) -> Bool {
        a.kind == b.kind && (a.kind != .setting || a.path == b.path)
    }

    static func parseAxis(_ entry: YAMLMappingEntry, path: String, errors: inout [ConfigError]) -> SweepAxis? {
        let key = entry.keyString
        guard let values = entry.value.items, !values.isEmpty else {
            errors.append(
                ConfigError(
                    "\(path).\(key) must be a non-empty list of values, got \(entry.value.describedValue)",
                    at: entry.value.location))
            return nil
        }
        let keyPath: [String]
        do { keyPath = try YAMLOverride.parse("\(key)=0").path } catch {
            errors.append(
                ConfigError(
                    "\(path): '\(key)' is not a key path (e.g. federation.lr, methods[0].trainer.mu, method, seed)",
                    at: entry.key.location))
            return nil
        }
        let axis = SweepAxis(key: key, path: keyPath, values: values, location: entry.key.location)
        if axis.kind == .setting, ["sweep", "slurm", "name", "output"].contains(keyPath[0]) {
            errors.append(
                ConfigError(
                    "\(path): '\(key)' cannot be swept (sweep over settings, methods and seeds; name and output name the experiment's folder)",
                    at: entry.key.location))
            return nil
        }
        if axis.kind != .setting, keyPath.count != 1 {
            errors.append(ConfigError("\(path): '\(key)' is not a key path", at: entry.key.location))
            return nil
        }
        return axis
    }

    func checkDistinctKeys(errors: inout [ConfigError]) {
        var seen: [String] = []
        for axis in axes {
            let id = axis.kind == .setting ? axis.path.joined(separator: ".") : "\(axis.kind)"
            if seen.contains(id) {
                errors.append(ConfigError("sweep: '\(axis.key)' is swept twice", at: axis.location))
            }
            seen.append(id)
        }
    }

    static func splitTopLevel(_ text: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var depth = 0
        var quote: Character?
        for c in text {
            if let q = quote {
                current.append(c)
                if c == q { quote = nil }
                continue
            }
            switch c {
            case "\"", "'": quote = c; current.append(c)
            case "[", "{": depth += 1; current.append(c)
            case "]", "}": depth -= 1; current.append(c)
            case "," where depth == 0: parts.append(current); current = ""
            default: current.append(c)
            }
        }
        parts.append(current)
        return parts
    }
}
