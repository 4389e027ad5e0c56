import Foundation

extension Report {
    /// summary.csv, tidy: one row per run and metric. `final` is the value at the last round that
    /// carries the metric, `last_mean` the mean over the last `last_n` such rounds (eval.last_rounds),
    /// `mean` the mean over all of them, `count` how many rounds carry it (for `clients.*` metrics:
    /// how many clients it summarises). Incomplete and failed runs are included, with `complete` false.
    /// `run` is the run folder, relative to `directory` when inside it. Wall times (`timing.*`) are
    /// left out: the same run records give the same file, on any machine (report.html and
    /// `--timing` show them).
    public func summaryCSV(relativeTo directory: String? = nil) -> String {
        let base = directory.map { URL(fileURLWithPath: $0).standardizedFileURL.path + "/" }
        var lines = [
            "experiment,method,variant,seed,metric,final,last_mean,last_n,mean,count,rounds,planned_rounds,complete,run"
        ]
        for experiment in experiments {
            let order = experiment.metricNames
            for group in experiment.groups {
                for run in group.runs {
                    let absolute = URL(fileURLWithPath: run.directory).standardizedFileURL.path
                    let path =
                        base.flatMap { absolute.hasPrefix($0) ? String(absolute.dropFirst($0.count)) : nil }
                        ?? run.directory
                    for name in order where !name.hasPrefix("timing.") {
                        guard let m = run.metrics[name] else { continue }
                        let cells = [
                            experiment.name, group.method, group.variant, String(run.seed), name, number(m.final),
                            number(m.lastMean), String(m.lastCount), number(m.mean), String(m.count),
                            String(run.rounds.count), String(run.plannedRounds), run.isComplete ? "true" : "false",
                            path,
                        ]
                        lines.append(cells.map(CSVTable.escape).joined(separator: ","))
                    }
                }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func number(_ v: Double) -> String { v == v.rounded() && Swift.abs(v) < 1e15 ? String(Int(v)) : "\(v)" }

    /// One column of the results tables.
    struct Column {
        var title: String
        var metric: String
        var last: Bool
    }

    /// The results table's columns that some complete run has: global accuracy and personalised
    /// accuracy (final and last N), worst client, the personal models on the whole test set, the
    /// clients the personalised figure is over, then the validation figures to choose settings on.
    static func columns(_ experiment: ExperimentResults) -> [Column] {
        let names = Set(experiment.groups.flatMap { $0.complete.flatMap(\.metricNames) })
        let n = MethodResults.lastRoundsTitle(experiment.groups)
        var columns = [
            Column(title: "global", metric: "global_accuracy", last: false),
            Column(title: "global, last \(n)", metric: "global_accuracy", last: true),
            Column(title: "personal (w)", metric: "personalized.weightedMean", last: false),
            Column(title: "personal, last \(n)", metric: "personalized.weightedMean", last: true),
            Column(title: "worst client", metric: "personalized.worst", last: false),
            Column(title: "personal on global test (mean)", metric: "clients.global_test_accuracy.mean", last: false),
            Column(title: "(best client)", metric: "clients.global_test_accuracy.max", last: false),
            Column(title: "clients scored", metric: "personalized.clients", last: false),
            Column(title: "val global", metric: "validation.global_accuracy", last: false),
            Column(title: "val global, last \(n)", metric: "validation.global_accuracy", last: true),
            Column(title: "val personal (w)", metric: "validation.personalized.weightedMean", last: false),
            Column(title: "val personal, last \(n)", metric: "validation.personalized.weightedMean", last: true),
        ]
        return columns.filter { names.contains($0.metric) }
    }

    /// A cell: accuracies in % as mean ± std, counts as their mean.
    static func cell(_ s: SeedStatistics?, metric: String, digits: Int) -> String {
        guard let s else { return "–" }
        return MetricKind.isAccuracy(metric)
            ? meanStd(s, scale: 100, digits: digits) : String(format: "%.\(digits)f", s.mean)
    }

    /// Markdown tables (what docs/results.md shows): per method, mean ± sample std over seeds in %
    /// of the final round and of the mean of the last N evaluations, and seconds per round.
    /// A heading per experiment when there are several.
    public func markdown() -> String {
        var out: [String] = []
        for experiment in experiments {
            if experiments.count > 1 { out.append("### \(experiment.name)\n") }
            let columns = Self.columns(experiment)
            out.append("| method | seeds | rounds | " + columns.map(\.title).joined(separator: " | ") + " | s/round |")
            out.append("|---|---|---:|" + String(repeating: "---:|", count: columns.count) + "---:|")
            for group in experiment.groups where !group.complete.isEmpty {
                let runs = group.complete
                let rounds = Set(runs.map(\.rounds.count)).sorted().map(String.init).joined(separator: "/")
                var cells = [group.label, runs.map { String($0.seed) }.joined(separator: ","), rounds]
                cells += columns.map { c in
                    let cell = Self.cell(group.statistics(c.metric, last: c.last), metric: c.metric, digits: 1)
                    return group.globalModelIsPartial && Self.isGlobalModelMetric(c.metric) && cell != "–"
                        ? cell + " †" : cell
                }
                cells.append(group.meanOverRounds("timing.total_s").map { String(format: "%.1f", $0.mean) } ?? "–")
                out.append("| " + cells.joined(separator: " | ") + " |")
            }
            if experiment.groups.contains(where: \.globalModelIsPartial) {
                out.append("")
                out.append(Self.partialGlobalModelNote)
            }
            out.append("")
        }
        return out.joined(separator: "\n")
    }

    /// The footnote of global-model cells marked † (`MethodResults.globalModelIsPartial`).
    static let partialGlobalModelNote =
        "† not the method's model: its clients keep entries (a personal head, unshared layers) that never reach "
        + "the server, so the global model holds them at their initial values (manifest.json `global_model: partial`)."

    /// Global accuracy on the test or the validation split.
    static func isGlobalModelMetric(_ metric: String) -> Bool {
        metric == "global_accuracy" || metric == "validation.global_accuracy"
    }

    /// "59.1 ± 8.1"; one seed gives the value alone ("59.1"): a single draw has no spread.
    static func meanStd(_ s: SeedStatistics, scale: Double, digits: Int) -> String {
        guard s.n > 1 else { return String(format: "%.\(digits)f", scale * s.mean) }
        return String(format: "%.\(digits)f ± %.\(digits)f", scale * s.mean, scale * s.std)
    }

    /// Seconds per round by phase (means over rounds, then over seeds) and each method's time per
    /// round relative to `reference` on the seeds both ran (the runs of one seed share a process).
    public func timingMarkdown(reference: String) throws -> String {
        var out: [String] = []
        for experiment in experiments {
            guard let ref = experiment.groups.first(where: { $0.label == reference }) else {
                throw ReportError(
                    "--timing: no method labelled '\(reference)' in \(experiment.name); methods: "
                        + experiment.groups.map(\.label).joined(separator: ", "))
            }
            if experiments.count > 1 { out.append("### \(experiment.name)\n") }
            out.append(
                "| method | seeds | s/round | local | server steps | evaluation | server share | vs \(reference) |")
            out.append("|---|---|---:|---:|---:|---:|---:|---:|")
            let refTotal = Dictionary(
                ref.complete.compactMap { r in r.metrics["timing.total_s"].map { (r.seed, $0.mean) } },
                uniquingKeysWith: { a, _ in a })
            for group in experiment.groups {
                let runs = group.complete.filter { $0.metrics["timing.total_s"] != nil }
                guard !runs.isEmpty else { continue }
                func mean(_ key: String) -> Double {
                    runs.map { $0.metrics["timing.\(key)"]?.mean ?? 0 }.reduce(0, +) / Double(runs.count)
                }
                let ratios = runs.compactMap { r in refTotal[r.seed].map { r.metrics["timing.total_s"]!.mean / $0 } }
                let ratio =
                    ratios.isEmpty
                    ? "–"
                    : String(
                        format: "%.2fx (%.2f-%.2f)", ratios.reduce(0, +) / Double(ratios.count),
                        ratios.min()!, ratios.max()!)
                out.append(
                    "| \(group.label) | \(runs.map { String($0.seed) }.joined(separator: ",")) | "
                        + String(
                            format: "%.1f | %.1f | %.1f | %.1f | %.0f %% | ", mean("total_s"), mean("local_s"),
                            mean("server_s"),
                            mean("eval_s"), 100 * mean("server_s") / mean("total_s")) + ratio + " |")
            }
            out.append("")
        }
        return out.joined(separator: "\n")
    }

    /// The side-by-side table `exp run` prints (accuracies in %, mean ± std over seeds, 2 decimals).
    public func text() -> String {
        var blocks: [String] = []
        for experiment in experiments {
            let columns = Self.columns(experiment)
            var rows: [[String]] = [["method", "seeds"] + columns.map(\.title)]
            for group in experiment.groups where !group.complete.isEmpty {
                var row = [group.label, String(group.complete.count)]
                for c in columns {
                    guard let s = group.statistics(c.metric, last: c.last) else { row.append("–"); continue }
                    if !MetricKind.isAccuracy(c.metric) {
                        row.append(s.std > 0 ? String(format: "%.1f", s.mean) : String(Int(s.mean.rounded())))
                    } else {
                        row.append(Self.meanStd(s, scale: 100, digits: 2))
                    }
                }
                rows.append(row)
            }
            let widths = (0..<rows[0].count).map { c in rows.map { $0[c].count }.max() ?? 0 }
            let lines = rows.enumerated().map { i, row in
                let line = row.enumerated().map { c, cell in
                    c == 0
                        ? cell.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                        : String(repeating: " ", count: widths[c] - cell.count) + cell
                }.joined(separator: "  ")
                return i == 0 ? line + "\n" + String(repeating: "-", count: line.count) : line
            }
            var block = (experiments.count > 1 ? "\(experiment.name)\n" : "") + lines.joined(separator: "\n")
            let incomplete = experiment.runs.filter { !$0.isComplete }
            if !incomplete.isEmpty {
                block +=
                    "\n"
                    + incomplete.map { "not in the table: \($0.method) seed \($0.seed), \($0.state)" }.joined(
                        separator: "\n")
            }
            let old = experiment.runs.filter(\.lacksParticipantCount)
            if !old.isEmpty {
                block += "\n\(old.count) run(s) with \(CollectedRun.participantNote)"
            }
            blocks.append(block)
        }
        return blocks.joined(separator: "\n\n")
    }
}
