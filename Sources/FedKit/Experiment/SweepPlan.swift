import Config
import Foundation

/// One run of a sweep: a line of the experiment folder's tasks.jsonl.
public struct SweepTask: Codable, Sendable, Equatable {
    /// 0-based and stable: the same file, `--set` and `--grid` always give the same numbering
    /// (Slurm's `$SLURM_ARRAY_TASK_ID`).
    public var task: Int
    /// The run folder, relative to the experiment folder: `<cell>/<method>/seed-<s>`.
    public var run: String
    /// The sweep cell's folder ("" when only methods and seeds vary).
    public var cell: String
    public var method: String
    public var seed: Int
    /// The cell's settings as `--set` assignments.
    public var set: [String]
    /// The run's configuration fingerprint (`RunFingerprint`).
    public var config: String
    /// The run's setting (`RunFingerprint.setting`), which a run folder of an earlier build also
    /// matches; absent from the task files of builds before session 9.
    public var setting: String?
}

/// A sweep planned into tasks: the cartesian product of the grid (`sweep:` and `--grid`) times the
/// methods and seeds that are not swept explicitly, methods then seeds innermost.
public struct SweepPlan: Sendable {
    public static let taskFileName = "tasks.jsonl"

    public var base: ExperimentSpec
    public var tasks: [SweepTask]
    /// Per task: the experiment reduced to that run (one method, one seed, the cell's settings).
    public var specs: [ExperimentSpec]

    /// The experiment folder.
    public var directory: String { "\(base.output)/\(base.name)" }
    public var taskFile: String { "\(directory)/\(Self.taskFileName)" }

    /// tasks.jsonl's text: one JSON object per line, in task order.
    public var taskFileText: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return tasks.map { String(decoding: try! encoder.encode($0), as: UTF8.self) + "\n" }.joined()
    }

    /// Writes tasks.jsonl, or checks that the one there is this plan. A different task list is an
    /// error unless `replan` (the file, `--set` or `--grid` changed since it was planned: runs
    /// already done may belong to other settings).
    public func writeTaskFile(replan: Bool) throws {
        let text = taskFileText
        if let existing = try? String(contentsOfFile: taskFile, encoding: .utf8), !isThisPlan(existing), !replan {
            throw SweepError(
                "\(taskFile) holds another task list (the experiment file, --set or --grid changed since it was planned); pass --replan to replace it (run folders of unchanged tasks are kept)"
            )
        }
        if let existing = try? String(contentsOfFile: taskFile, encoding: .utf8), isThisPlan(existing), !replan { return }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try RunWriter.writeAtomically(text, to: taskFile)
    }

    /// Checks that the task list in the experiment folder is this plan (what `exp run --task` runs).
    public func checkTaskFile() throws {
        guard let existing = try? String(contentsOfFile: taskFile, encoding: .utf8) else {
            throw SweepError(
                "\(taskFile) does not exist: plan the sweep first with `exp sweep \(base.file)` (with the same --set and --grid)"
            )
        }
        guard isThisPlan(existing) else {
            throw SweepError(
                "\(taskFile) was planned from other settings than \(base.file) with these --set/--grid options: re-plan with `exp sweep \(base.file) --replan`, or pass the options `exp sweep` was given"
            )
        }
    }

    /// Whether a task file's text lists this plan's tasks: the same text, or the same tasks where
    /// each has this plan's fingerprint or, when the file records one, this plan's setting (a list
    /// planned by an earlier build of the same settings, `RunFingerprint.setting`).
    func isThisPlan(_ text: String) -> Bool {
        if text == taskFileText { return true }
        let lines = text.split(separator: "\n")
        guard lines.count == tasks.count else { return false }
        for (line, planned) in zip(lines, tasks) {
            guard let listed = try? JSONDecoder().decode(SweepTask.self, from: Data(line.utf8)),
                listed.task == planned.task, listed.run == planned.run, listed.cell == planned.cell,
                listed.method == planned.method, listed.seed == planned.seed, listed.set == planned.set,
                listed.config == planned.config || (listed.setting != nil && listed.setting == planned.setting)
            else { return false }
        }
        return true
    }

    /// The full path of a task's run folder.
    public func runDirectory(_ task: SweepTask) -> String { "\(directory)/\(task.run)" }
}

/// A sweep that cannot be planned or run.
public struct SweepError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ message: String) { description = message }
}

/// Plans sweeps from experiment files.
public struct SweepPlanner: Sendable {
    public var registry: PluginRegistry
    public init(registry: PluginRegistry) { self.registry = registry }

    /// Reads `file`, applies `overrides` (`--set`), then plans the grid of its `sweep:` section with
    /// `grid` (`--grid KEY=V1,V2`) added. Every cell is validated; errors name the cell.
    public func plan(file: String, overrides: [String] = [], grid options: [String] = []) throws -> SweepPlan {
        let loader = ExperimentLoader(registry: registry)
        var root = try YAMLParser.parse(file: file)
        for assignment in overrides {
            let (keyPath, value) = try YAMLOverride.parse(assignment)
            root = try ExperimentLoader.expandingMethodShorthand(root, for: keyPath).setting(path: keyPath, to: value)
        }
        let base = try loader.resolve(root, file: file)
        var grid = base.sweep
        try grid.adding(options: options.map(SweepGrid.parseOption))
        let cellRoot = YAMLNode(
            kind: .mapping((root.entries ?? []).filter { $0.keyString != "sweep" }), location: root.location)
        let names = Self.cellNames(grid)
        var tasks: [SweepTask] = []
        var specs: [ExperimentSpec] = []
        var errors: [ConfigError] = []
        for (index, cell) in grid.cells.enumerated() {
            let settings = cell.filter { $0.axis.kind == .setting }
            let set = settings.map { "\($0.axis.key)=\(YAMLEmitter.flow($0.value))" }
            let spec: ExperimentSpec
            do {
                var node = cellRoot
                for (axis, value) in settings {
                    node = try ExperimentLoader.expandingMethodShorthand(node, for: axis.path).setting(
                        path: axis.path, to: value)
                }
                spec = try loader.resolve(node, file: file)
            } catch let failure as ConfigErrors {
                errors += failure.errors.map { Self.inCell($0, set) }
                continue
            } catch let failure as ConfigError {
                errors.append(Self.inCell(failure, set))
                continue
            }
            var methods = spec.methods
            var seeds = spec.seeds
            for (axis, value) in cell where axis.kind != .setting {
                let text = value.scalarValue ?? ""
                if axis.kind == .method {
                    guard let method = spec.methods.first(where: { $0.label == text }) else {
                        errors.append(
                            ConfigError(
                                "sweep: method '\(text)' is not a label of the file's methods (\(spec.methods.map(\.label).joined(separator: ", ")))",
                                at: value.location))
                        continue
                    }
                    methods = [method]
                } else {
                    guard let seed = Int(text), seed >= 0, value.scalarValue != nil else {
                        errors.append(
                            ConfigError(
                                "sweep: a seed must be an integer >= 0, got \(value.describedValue)", at: value.location
                            ))
                        continue
                    }
                    seeds = [seed]
                }
            }
            for method in methods {
                for seed in seeds {
                    var single = spec
                    single.methods = [method]
                    single.seeds = [seed]
                    single.sweep = SweepGrid()
                    let resolved = ResolvedExperiment.yaml(for: single, registry: registry)
                    let config = RunFingerprint.of(resolved)
                    let cellName = names[index]
                    let run = (cellName.isEmpty ? "" : cellName + "/") + "\(method.label)/seed-\(seed)"
                    tasks.append(
                        SweepTask(
                            task: tasks.count, run: run, cell: cellName, method: method.label, seed: seed, set: set,
                            config: config, setting: RunFingerprint.setting(resolved)))
                    specs.append(single)
                }
            }
        }
        if !errors.isEmpty { throw ConfigErrors(errors: errors) }
        var seen: [String: Int] = [:]
        for task in tasks {
            if let first = seen[task.run] {
                throw SweepError(
                    "sweep: tasks \(first) and \(task.task) both run \(task.run) (a method or seed is listed twice)")
            }
            seen[task.run] = task.task
        }
        return SweepPlan(base: base, tasks: tasks, specs: specs)
    }

    static func inCell(_ error: ConfigError, _ set: [String]) -> ConfigError {
        var e = error
        if !set.isEmpty { e.message = "in sweep cell \(set.joined(separator: " ")): " + e.message }
        return e
    }

    /// Folder names of the cells: `key=value` pairs of the swept settings joined by `,` (the key's
    /// last component unless two axes share it), with characters other than letters, digits and
    /// `._+-` replaced by `_`; a `~` and a hash of the exact settings are added when two cells
    /// would share a name or a name would be longer than 120 characters.
    public static func cellNames(_ grid: SweepGrid) -> [String] {
        let settings = grid.axes.filter { $0.kind == .setting }
        let lastKeys = settings.map { $0.path.last { Int($0) == nil } ?? $0.path.joined(separator: ".") }
        let labels = settings.indices.map { i in
            lastKeys.filter { $0 == lastKeys[i] }.count > 1 ? settings[i].path.joined(separator: ".") : lastKeys[i]
        }
        let cells = grid.cells
        var names = cells.map { cell -> String in
            var parts: [String] = []
            for (axis, value) in cell where axis.kind == .setting {
                let i = settings.firstIndex { $0.path == axis.path }!
                parts.append("\(labels[i])=\(sanitize(value.scalarValue ?? YAMLEmitter.flow(value)))")
            }
            return parts.joined(separator: ",")
        }
        let exact = cells.map { cell in
            cell.filter { $0.axis.kind == .setting }.map { "\($0.axis.key)=\(YAMLEmitter.flow($0.value))" }.joined(
                separator: "\n")
        }
        // Cells that differ only in their method or seed share a folder; others must not.
        var settingsByName: [String: Set<String>] = [:]
        for (n, e) in zip(names, exact) { settingsByName[n, default: []].insert(e) }
        for i in names.indices where settingsByName[names[i]]!.count > 1 || names[i].count > 120 {
            var h = FNV1a()
            h.combine(exact[i])
            names[i] = String(names[i].prefix(120)) + "~" + h.hex.prefix(8)
        }
        return names
    }

    static func sanitize(_ text: String) -> String {
        var out = String(text.map { $0.isASCII && ($0.isLetter || $0.isNumber || "._+-".contains($0)) ? $0 : "_" })
        if out.hasPrefix(".") { out = "_" + out.dropFirst() }
        return out.isEmpty ? "_" : out
    }
}

extension SweepPlan {
    /// Puts the sweep's results under `output` instead of the file's (`--out`; not part of any
    /// run's fingerprint).
    public mutating func setOutput(_ output: String) {
        base.output = output
        for i in specs.indices { specs[i].output = output }
    }
}
