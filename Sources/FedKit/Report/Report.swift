import Foundation

/// What the collect step found: experiments, each with its methods (one group per setting) and
/// their runs. Renders summary.csv, report.html and the markdown and text tables.
public struct Report: Sendable {
    /// The directories the runs were collected from.
    public var directories: [String]
    public var experiments: [ExperimentResults]

    public init(directories: [String], experiments: [ExperimentResults]) {
        self.directories = directories
        self.experiments = experiments
    }

    public var runs: [CollectedRun] { experiments.flatMap { $0.groups.flatMap(\.runs) } }

    /// Writes `summary.csv` and `report.html` into `directory` (created when missing), each
    /// written whole to a temporary file and renamed: a reader never sees half a file.
    public func write(to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try RunWriter.writeAtomically(summaryCSV(relativeTo: directory), to: "\(directory)/summary.csv")
        try RunWriter.writeAtomically(html(), to: "\(directory)/report.html")
    }

    /// Lines about runs left out of the statistics (incomplete or failed), and about runs whose
    /// records carry no participant count (written before never-trained clients were left out of
    /// the personalised figures).
    public var notes: [String] {
        runs.filter { !$0.isComplete }.map { "\($0.directory): \($0.state) — left out of the statistics" }
            + runs.filter(\.lacksParticipantCount).map { "\($0.directory): \(CollectedRun.participantNote)" }
    }
}

/// One experiment's runs.
public struct ExperimentResults: Sendable {
    public var name: String
    /// In the experiment file's method order; a method run with several settings has one group per setting.
    public var groups: [MethodResults]

    public var runs: [CollectedRun] { groups.flatMap(\.runs) }

    /// The metrics any run of the experiment has, in report order (`MetricKind.order`).
    public var metricNames: [String] {
        var seen = Set<String>(), names: [String] = []
        for run in runs { for name in run.metricNames where seen.insert(name).inserted { names.append(name) } }
        return names.sorted { MetricKind.order($0) < MetricKind.order($1) }
    }
}

/// The runs of one method with one setting, over seeds.
public struct MethodResults: Sendable {
    public var experiment: String
    /// The method's label.
    public var method: String
    /// "" or the settings that tell this group apart from the method's other groups (`lr=0.1`).
    public var variant: String
    /// Sorted by seed.
    public var runs: [CollectedRun]

    public var label: String { variant.isEmpty ? method : "\(method) [\(variant)]" }
    /// The runs the statistics are over.
    public var complete: [CollectedRun] { runs.filter(\.isComplete) }
    /// Whether every complete run's global model is not a whole model of the method
    /// (`CollectedRun.globalModelIsPartial`): its global figures are not the method's.
    public var globalModelIsPartial: Bool { !complete.isEmpty && complete.allSatisfy(\.globalModelIsPartial) }

    /// A metric over the complete runs that have it: the final values (`last: false`) or the
    /// last-N means (`last: true`); nil when no complete run has it.
    public func statistics(_ metric: String, last: Bool = false) -> SeedStatistics? {
        statistics(metric) { last ? $0.lastMean : $0.final }
    }

    /// A metric by seed over the complete runs that have it: final values (`last: false`) or
    /// last-N means (`last: true`), for comparisons seed by seed.
    public func bySeed(_ metric: String, last: Bool) -> [Int: Double] {
        var values: [Int: Double] = [:]
        for run in complete { if let m = run.metrics[metric] { values[run.seed] = last ? m.lastMean : m.final } }
        return values
    }

    /// N of "last N" over some rows' complete runs: the number when they agree, else "N".
    static func lastRoundsTitle(_ groups: [MethodResults]) -> String {
        let counts = Set(groups.flatMap { $0.complete.map(\.lastRounds) })
        return counts.count == 1 ? String(counts.first!) : "N"
    }

    /// A metric's mean over all rounds of each run (seconds per round for timings), over the complete runs.
    public func meanOverRounds(_ metric: String) -> SeedStatistics? { statistics(metric) { $0.mean } }

    func statistics(_ metric: String, _ pick: (RunMetric) -> Double) -> SeedStatistics? {
        let values = complete.compactMap { $0.metrics[metric] }.map(pick)
        return values.isEmpty ? nil : SeedStatistics(values)
    }

    /// Per round, the metric's values over the complete runs: (round, values).
    public func perRound(_ metric: String) -> [(round: Int, values: [Double])] {
        var byRound: [Int: [Double]] = [:]
        for run in complete {
            for r in run.rounds { if let v = r.values[metric] { byRound[r.round, default: []].append(v) } }
        }
        return byRound.keys.sorted().map { ($0, byRound[$0]!) }
    }

    /// The counts recorded beside a metric and in the records around it, at the final round:
    /// for `personalized.weightedMean`, `personalized.clients` (clients scored) and the record's
    /// `participants` (clients trained so far). "name value", a range "a–b" when seeds differ.
    public func countsBeside(_ metric: String) -> String? {
        var parents: [String] = []
        var path = metric
        while let dot = path.lastIndex(of: ".") {
            path = String(path[..<dot])
            parents.append(path + ".")
        }
        parents.append("")
        var parts: [String] = []
        for parent in parents {
            for name in MetricKind.countNames {
                let values = complete.compactMap { $0.metrics[parent + name]?.final }
                guard !values.isEmpty else { continue }
                let (lo, hi) = (Int(values.min()!), Int(values.max()!))
                parts.append(lo == hi ? "\(parent + name) \(lo)" : "\(parent + name) \(lo)–\(hi)")
            }
        }
        return parts.isEmpty ? nil : parts.joined(separator: ", ")
    }
}

/// How the report treats a metric, read from its name alone (metrics are not a fixed list).
public enum MetricKind {
    /// Names of counts recorded beside an accuracy (participants, clients evaluated).
    public static let countNames = ["participants", "trained", "trained_clients", "clients", "count"]

    /// Shown in percent: accuracies and the statistics of a personalised-accuracy record.
    public static func isAccuracy(_ name: String) -> Bool {
        let last = name.split(separator: ".").last.map(String.init) ?? name
        if countNames.contains(last) { return false }
        return name.contains("accuracy") || name.split(separator: ".").contains { $0.hasPrefix("personalized") }
    }

    /// The final tables' rows: global accuracy, personalised accuracy (weighted mean, worst, bottom
    /// decile) under any prefix (validation metrics included), and the personal models on the whole test set.
    public static func isHeadline(_ name: String) -> Bool {
        if name.hasPrefix("server.") || name.hasPrefix("timing.") { return false }
        let parts = name.split(separator: ".").map(String.init)
        guard let last = parts.last else { return false }
        if last == "global_accuracy" { return true }
        if parts.dropLast().contains(where: { $0.hasPrefix("personalized") }) {
            return ["weightedMean", "worst", "bottomDecile"].contains(last)
        }
        return name.hasPrefix("clients.") && name.contains("accuracy") && (last == "mean" || last == "max")
    }

    /// Plotted against the round: global accuracy, personalised weighted mean (any prefix), train loss.
    public static func isCurve(_ name: String) -> Bool {
        if name.hasPrefix("server.") || name.hasPrefix("timing.") || name.hasPrefix("clients.") { return false }
        let parts = name.split(separator: ".").map(String.init)
        return parts.last == "global_accuracy" || name == "train_loss"
            || (parts.last == "weightedMean" && parts.dropLast().contains { $0.hasPrefix("personalized") })
    }

    /// Report order: test figures, then validation figures, then the rest; clients, server and timings last.
    static func order(_ name: String) -> (Int, Int, String) {
        let group: Int
        if name.hasPrefix("timing.") {
            group = 5
        } else if name.hasPrefix("server.") {
            group = 4
        } else if name.hasPrefix("clients.") {
            group = 3
        } else if name.contains("valid") {
            group = 1
        } else if isHeadline(name) || isCurve(name) {
            group = 0
        } else {
            group = 2
        }
        let last = name.split(separator: ".").last.map(String.init) ?? name
        let rank =
            ["global_accuracy": 0, "weightedMean": 1, "mean": 2, "std": 3, "bottomDecile": 4, "worst": 5][last] ?? 6
        let ft = name.contains("_ft") ? 1 : 0
        return (group, ft * 10 + rank, name)
    }

    /// A readable title for a metric name.
    public static func title(_ name: String) -> String {
        let known: [String: String] = [
            "global_accuracy": "global accuracy",
            "personalized.weightedMean": "personalised accuracy (weighted mean over clients)",
            "personalized.worst": "personalised accuracy, worst client",
            "personalized.bottomDecile": "personalised accuracy, bottom decile of clients",
            "personalized.mean": "personalised accuracy (plain mean over clients)",
            "personalized_ft.weightedMean": "personalised accuracy +FT (weighted mean)",
            "train_loss": "train loss",
            "clients.global_test_accuracy.mean": "personal models on the whole test set (mean over clients)",
            "clients.global_test_accuracy.max": "personal models on the whole test set (best client)",
            "clients.personalized_accuracy.mean": "final personalised accuracy (plain mean over clients)",
        ]
        return known[name] ?? name
    }
}
