import Config
import Foundation

/// The collect step (`exp report`, the end of `exp run` and of `exp sweep`): finds run folders by
/// their files under the given directories, at any depth, reads only per-run files, and groups
/// the seeds of each setting. Runs may have finished in any order, on any machine.
public enum ReportCollector {
    /// Settings that do not change a run's results (docs/design.md §8: results do not depend on the worker
    /// or thread count): runs that differ only in these are seeds of one setting.
    public static let settingsIgnoredForGrouping: Set<String> = [
        "seeds", "output", "federation.workers", "federation.threads_per_worker", "federation.state_memory_mb",
        // Each sample's prediction is computed on its own (EngineSharedEvaluationTests).
        "eval.batch_size",
    ]

    /// Top-level sections that describe how runs are planned or scheduled, not what they compute.
    public static let sectionsIgnoredForGrouping: Set<String> = ["sweep", "slurm"]

    /// Reads every run under `directories` into a report. Errors name the file (and line) that is
    /// missing or malformed; a directory without any run folder is an error.
    public static func collect(directories: [String]) throws -> Report {
        guard !directories.isEmpty else { throw ReportError("no directory to collect runs from") }
        var runs: [CollectedRun] = []
        var seen = Set<String>()
        for directory in directories {
            let folders = try runFolders(under: directory)
            guard !folders.isEmpty else {
                throw ReportError(
                    "\(directory): no run folders found (a run folder holds rounds.jsonl, config.yaml and manifest.json)"
                )
            }
            for folder in folders
            where seen.insert(URL(fileURLWithPath: folder).resolvingSymlinksInPath().path).inserted {
                runs.append(try CollectedRun.read(directory: folder))
            }
        }
        return Report(directories: directories, experiments: try group(runs, orders: methodOrders(directories)))
    }

    /// Run folders under `root` (the root itself when it is one), in path order. Hidden folders,
    /// symbolic links to folders and the insides of run folders are not searched.
    public static func runFolders(under root: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ReportError("\(root): not a folder")
        }
        var found: [String] = []
        func walk(_ path: String, depth: Int) throws {
            if CollectedRun.isRunFolder(path) {
                found.append(path)
                return
            }
            guard depth < 32 else { return }
            let names: [String]
            do { names = try FileManager.default.contentsOfDirectory(atPath: path) } catch {
                throw ReportError("\(path): cannot list the folder (\(error.localizedDescription))")
            }
            for name in names.sorted() where !name.hasPrefix(".") {
                let child = path.hasSuffix("/") ? path + name : "\(path)/\(name)"
                guard let type = try? FileManager.default.attributesOfItem(atPath: child)[.type] as? FileAttributeType,
                    type == .typeDirectory
                else { continue }
                try walk(child, depth: depth + 1)
            }
        }
        try walk(root, depth: 0)
        return found
    }

    /// Groups runs by experiment, method and settings (seeds of one setting together); groups of
    /// one method that differ in settings are told apart by a variant naming the differing keys.
    static func group(_ runs: [CollectedRun], orders: [String: [String]]) throws -> [ExperimentResults] {
        func key(_ run: CollectedRun) -> String {
            ConfigHistory.canonical(run.settings).filter { isCompared($0.key) }.sorted { $0.key < $1.key }
                .map { "\($0.key)=\($0.value)" }.joined(separator: "\n")
        }
        var experiments: [String: [String: [String: [CollectedRun]]]] = [:]  // experiment -> method -> settings -> runs
        for run in runs {
            experiments[run.experiment, default: [:]][run.method, default: [:]][key(run), default: []].append(run)
        }
        return try experiments.keys.sorted().map { name in
            let methods = experiments[name]!
            let order = orders[name] ?? []
            let methodNames = methods.keys.sorted { a, b in
                let (i, j) = (order.firstIndex(of: a) ?? Int.max, order.firstIndex(of: b) ?? Int.max)
                return i != j ? i < j : a < b
            }
            var groups: [MethodResults] = []
            for method in methodNames {
                let bySettings = methods[method]!
                let differing = differingKeys(bySettings.values.map { ConfigHistory.canonical($0[0].settings) })
                var variants: [MethodResults] = []
                for runs in bySettings.values {
                    let sorted = runs.sorted { ($0.seed, $0.directory) < ($1.seed, $1.directory) }
                    for (a, b) in zip(sorted, sorted.dropFirst()) where a.seed == b.seed {
                        throw ReportError(
                            "\(a.directory) and \(b.directory): both are \(method) seed \(a.seed) of \(name) with the same settings; collect only one of them"
                        )
                    }
                    let settings = ConfigHistory.canonical(sorted[0].settings)
                    let variant = differing.map { "\(ConfigHistory.displayKey($0))=\(settings[$0] ?? "–")" }.joined(
                        separator: ", ")
                    variants.append(MethodResults(experiment: name, method: method, variant: variant, runs: sorted))
                }
                groups += variants.sorted { $0.variant < $1.variant }
            }
            return ExperimentResults(name: name, groups: groups)
        }
    }

    static func isCompared(_ key: String) -> Bool {
        !settingsIgnoredForGrouping.contains(key)
            && !sectionsIgnoredForGrouping.contains(String(key.prefix { $0 != "." }))
            && !key.hasSuffix("checkpoint_every")
    }

    /// Keys whose values are not the same in all of `settings` (only compared keys).
    static func differingKeys(_ settings: [[String: String]]) -> [String] {
        guard settings.count > 1 else { return [] }
        let keys = Set(settings.flatMap(\.keys)).filter(isCompared)
        return keys.filter { k in Set(settings.map { $0[k] ?? "\u{0}" }).count > 1 }.sorted()
    }


    /// Method labels in each experiment file's order, from the experiment-level config.yaml files
    /// `exp run` writes beside the method folders (order only: a missing file means name order).
    static func methodOrders(_ directories: [String]) -> [String: [String]] {
        var orders: [String: [String]] = [:]
        var candidates: [String] = []
        for directory in directories {
            candidates.append(directory)
            candidates.append((directory as NSString).deletingLastPathComponent)
            if let names = try? FileManager.default.contentsOfDirectory(atPath: directory) {
                candidates += names.sorted().map { "\(directory)/\($0)" }
            }
        }
        for folder in candidates where !CollectedRun.isRunFolder(folder) {
            guard let node = try? YAMLParser.parse(file: "\(folder)/config.yaml"),
                let name = node["name"]?.scalarValue, let methods = node["methods"]?.items
            else { continue }
            let labels = methods.compactMap { $0["label"]?.scalarValue ?? $0["name"]?.scalarValue ?? $0.scalarValue }
            orders[name, default: []] += labels.filter { !(orders[name] ?? []).contains($0) }
        }
        return orders
    }
}
