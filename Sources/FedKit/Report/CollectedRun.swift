import Config
import Foundation

/// One line of rounds.jsonl or timings.jsonl: the round and every number in it, nested keys
/// flattened with dots (`personalized.weightedMean`, `server.generator.loss`).
public struct RoundValues: Sendable, Equatable {
    public var round: Int
    public var values: [String: Double]

    public init(round: Int, values: [String: Double]) {
        self.round = round
        self.values = values
    }
}

/// One metric of one run (docs/design.md §7: the final evaluation and the mean of the last N, never the best).
public struct RunMetric: Sendable, Equatable {
    public var name: String
    /// The value at the last round that carries the metric.
    public var final: Double
    /// The mean over the last `lastCount` rounds that carry it (N = the run's eval.last_rounds).
    public var lastMean: Double
    public var lastCount: Int
    /// The mean over every round that carries it (for timings: seconds per round).
    public var mean: Double
    /// Rounds that carry the metric; for `clients.*` metrics, the clients it summarises.
    public var count: Int
}

/// A run folder read back from its own files only: config.yaml, manifest.json, rounds.jsonl,
/// timings.jsonl, and when present clients.csv, partition.csv and failure.txt.
public struct CollectedRun: Sendable {
    /// The folder, as found under the directory the collect step was given.
    public var directory: String
    public var experiment: String
    public var method: String
    public var seed: Int
    /// manifest.json, every value as text (nested keys flattened with dots).
    public var manifest: [(key: String, value: String)]
    public var configText: String
    /// Every scalar of config.yaml by dotted path (`federation.lr`, `methods.0.trainer.mu`).
    public var settings: [String: String]
    /// federation.rounds of the resolved config.
    public var plannedRounds: Int
    /// eval.last_rounds of the resolved config: N of "the mean of the last N evaluations".
    public var lastRounds: Int
    /// What a client keeps (`personal` of the method: none, head, model); nil when the config does not say.
    public var personal: String?
    public var rounds: [RoundValues]
    public var timings: [RoundValues]
    public var clients: CSVTable?
    /// Training samples per class per client (partition.csv: `client,size,c0,c1,...`), when written.
    public var classCounts: [[Int]]?
    /// Why the run stopped (failure.txt), when it failed.
    public var failure: String?
    /// Metric name -> the run's figures; `metricNames` in report order.
    public var metrics: [String: RunMetric]
    public var metricNames: [String]

    /// Whether manifest.json says the global model is not a whole model of the method
    /// (`global_model: partial`: entries the clients keep are never exchanged); false for runs
    /// that do not say (builds before session 10).
    public var globalModelIsPartial: Bool { manifest.contains { $0.key == "global_model" && $0.value == "partial" } }

    /// Every round recorded up to federation.rounds, clients.csv written, and no failure.
    public var isComplete: Bool { failure == nil && clients != nil && rounds.last?.round == plannedRounds }

    /// Personalised figures without the count of clients that have trained (`participants`): runs
    /// written before the evaluation protocol left never-trained clients out may have scored them.
    public var lacksParticipantCount: Bool {
        rounds.contains { $0.values.keys.contains { $0.hasPrefix("personalized") } }
            && !rounds.contains { $0.values["participants"] != nil }
    }

    static let participantNote =
        "records without a participant count: written before never-trained clients were left out, "
        + "its personalised figures may score clients that never trained (and it has no validation split)"

    /// A one-line state for tables: "complete", "failed: ...", "incomplete (3 of 10 rounds)".
    public var state: String {
        if let failure { return "failed: \(failure)" }
        if isComplete { return "complete" }
        return "incomplete (\(rounds.count) of \(plannedRounds) rounds)"
    }

    /// True for a folder that holds a run's records.
    public static func isRunFolder(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: "\(path)/rounds.jsonl")
    }

    /// Reads the run in `directory`; a missing or malformed file is an error naming it (and the line).
    public static func read(directory: String) throws -> CollectedRun {
        let configPath = "\(directory)/config.yaml", manifestPath = "\(directory)/manifest.json"
        for path in [configPath, manifestPath] where !FileManager.default.fileExists(atPath: path) {
            throw ReportError(
                "\(directory): rounds.jsonl without \((path as NSString).lastPathComponent): not a complete FedKit run folder"
            )
        }
        let configText = try text(configPath)
        let config = try YAMLParser.parse(string: configText, fileName: configPath)
        let settings = ConfigHistory.settings(of: config)
        func int(_ key: String) throws -> Int {
            guard let node = try lookup(config, key) else { throw ReportError("\(configPath): no \(key)") }
            return try node.int(path: key)
        }
        let plannedRounds = try int("federation.rounds"), lastRounds = try int("eval.last_rounds")
        let personal = try lookup(config, "methods.0.personal")?.string(path: "methods[0].personal")

        let manifestValue: JSONValue
        do {
            manifestValue = try JSONDecoder().decode(JSONValue.self, from: Data(try text(manifestPath).utf8))
        } catch let e as ReportError {
            throw e
        } catch {
            throw ReportError("\(manifestPath): not JSON (\(error))")
        }
        guard case .string(let experiment)? = manifestValue["experiment"],
            case .string(let method)? = manifestValue["method"],
            case .number(let seed)? = manifestValue["seed"], seed == seed.rounded()
        else {
            throw ReportError(
                "\(manifestPath): needs \"experiment\" and \"method\" (strings) and \"seed\" (an integer)")
        }
        var manifest: [(key: String, value: String)] = []
        if case .object(let entries) = manifestValue {
            manifest = entries.keys.sorted().map { ($0, entries[$0]!.displayText) }
        }

        let rounds = try readRounds("\(directory)/rounds.jsonl")
        let timingsPath = "\(directory)/timings.jsonl"
        let timings = FileManager.default.fileExists(atPath: timingsPath) ? try readRounds(timingsPath) : []
        let clientsPath = "\(directory)/clients.csv"
        let clients =
            FileManager.default.fileExists(atPath: clientsPath)
            ? try CSVTable(text: text(clientsPath), path: clientsPath) : nil
        let partitionPath = "\(directory)/partition.csv"
        let classCounts = FileManager.default.fileExists(atPath: partitionPath) ? try readPartition(partitionPath) : nil
        let failurePath = "\(directory)/failure.txt"
        let failure =
            FileManager.default.fileExists(atPath: failurePath)
            ? try text(failurePath).trimmingCharacters(in: .whitespacesAndNewlines) : nil

        var run = CollectedRun(
            directory: directory, experiment: experiment, method: method, seed: Int(seed), manifest: manifest,
            configText: configText, settings: settings, plannedRounds: plannedRounds, lastRounds: lastRounds,
            personal: personal, rounds: rounds, timings: timings, clients: clients, classCounts: classCounts,
            failure: failure, metrics: [:], metricNames: [])
        run.summarise()
        return run
    }

    /// Fills `metrics`: every number of rounds.jsonl, the per-client accuracy columns of clients.csv
    /// (over clients with a trained model only), and timings.jsonl under `timing.`.
    mutating func summarise() {
        var names: [String] = []
        func add(_ metric: RunMetric) {
            if metrics[metric.name] == nil { names.append(metric.name) }
            metrics[metric.name] = metric
        }
        func series(_ lines: [RoundValues], prefix: String) {
            for key in Set(lines.flatMap(\.values.keys)).sorted() {
                let values = lines.compactMap { $0.values[key] }
                let tail = values.suffix(max(1, lastRounds))
                add(
                    RunMetric(
                        name: prefix + key, final: values.last!, lastMean: tail.reduce(0, +) / Double(tail.count),
                        lastCount: tail.count, mean: values.reduce(0, +) / Double(values.count), count: values.count))
            }
        }
        series(rounds, prefix: "")
        if let clients {
            let trained = trainedClients(clients)
            if let sampled = clients.column("times_sampled") {
                let never = Double(sampled.filter { Int($0) == 0 }.count)
                add(
                    RunMetric(
                        name: "clients.never_trained", final: never, lastMean: never, lastCount: 1, mean: never,
                        count: sampled.count))
            }
            for column in clients.header where column.contains("accuracy") {
                let values = zip(clients.column(column)!, trained).compactMap { $1 ? Double($0) : nil }
                guard !values.isEmpty else { continue }
                let mean = values.reduce(0, +) / Double(values.count)
                for (stat, v) in [("mean", mean), ("min", values.min()!), ("max", values.max()!)] {
                    add(
                        RunMetric(
                            name: "clients.\(column).\(stat)", final: v, lastMean: v, lastCount: 1, mean: v,
                            count: values.count))
                }
            }
        }
        series(timings, prefix: "timing.")
        metricNames = names
    }

    /// Per clients.csv row, whether its accuracies may be reported: a method without personal state
    /// tests every client with the global model; otherwise a client that never trained has no model
    /// of its own (it would be scored with an untrained head) and is left out.
    func trainedClients(_ table: CSVTable) -> [Bool] {
        if personal == "none" { return table.rows.map { _ in true } }
        let sampled = table.column("times_sampled"), state = table.column("has_personal_state")
        return table.rows.indices.map { i in
            (sampled.map { Int($0[i]) != 0 } ?? true) && (state.map { $0[i] != "false" } ?? true)
        }
    }

    /// Final per-client values of a clients.csv column over the clients with a trained model, and
    /// how many clients were left out.
    public func clientValues(_ column: String) -> (values: [Double], leftOut: Int) {
        guard let clients, let cells = clients.column(column) else { return ([], 0) }
        let trained = trainedClients(clients)
        let values = zip(cells, trained).compactMap { $1 ? Double($0) : nil }
        return (values, cells.count - values.count)
    }

    static func text(_ path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ReportError("\(path): cannot be read")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw ReportError("\(path): not UTF-8 text") }
        return text
    }

    /// JSON lines with a `round`, in increasing order. A last line without its newline that does
    /// not parse is a record being written right now (a run in progress) and is skipped.
    static func readRounds(_ path: String) throws -> [RoundValues] {
        let lines = try text(path).split(separator: "\n", omittingEmptySubsequences: false)
        var out: [RoundValues] = []
        let decoder = JSONDecoder()
        for (index, line) in lines.enumerated() where !line.allSatisfy(\.isWhitespace) {
            let value = try? decoder.decode(JSONValue.self, from: Data(line.utf8))
            guard let value, case .object = value else {
                if index == lines.count - 1 { break }
                throw ReportError("\(path):\(index + 1): not a JSON object")
            }
            guard case .number(let r)? = value["round"], r == r.rounded(), r >= 1, r < 1e9 else {
                throw ReportError("\(path):\(index + 1): no \"round\" (a positive integer)")
            }
            if let previous = out.last, Int(r) <= previous.round {
                throw ReportError("\(path):\(index + 1): round \(Int(r)) after round \(previous.round)")
            }
            var numbers = value.numbers()
            numbers["round"] = nil
            out.append(RoundValues(round: Int(r), values: numbers))
        }
        return out
    }

    /// partition.csv: `client,size,c0,c1,...` -> per-client class counts.
    static func readPartition(_ path: String) throws -> [[Int]] {
        let table = try CSVTable(text: text(path), path: path)
        guard table.header.count > 2, table.header[0] == "client", table.header[1] == "size" else {
            throw ReportError("\(path):1: expected the header client,size,c0,c1,...")
        }
        return try table.rows.enumerated().map { i, row in
            try row.dropFirst(2).map { cell in
                guard let v = Int(cell), v >= 0 else {
                    throw ReportError("\(path):\(i + 2): class count \"\(cell)\" is not a count")
                }
                return v
            }
        }
    }

    /// The node at a dotted path (numeric components index sequences).
    static func lookup(_ node: YAMLNode, _ path: String) throws -> YAMLNode? {
        var current = node
        for part in path.split(separator: ".") {
            if let i = Int(part), let items = current.items {
                guard i < items.count else { return nil }
                current = items[i]
            } else if let next = current[String(part)] {
                current = next
            } else {
                return nil
            }
        }
        return current
    }
}
