import Foundation

/// HTML text helpers.
enum HTML {
    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func row(_ cells: [String], header: Bool = false) -> String {
        let tag = header ? "th" : "td"
        return "<tr>" + cells.map { "<\(tag)>\($0)</\(tag)>" }.joined() + "</tr>"
    }

    static func anchor(_ s: String) -> String {
        "x-" + String(s.map { $0.isLetter || $0.isNumber || $0 == "-" ? $0 : "-" })
    }
}

extension Report {
    /// report.html: one page, no scripts, no external resources (plots are inline SVG).
    public func html() -> String {
        var out = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><title>FedKit report</title>
            <style>
            body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1140px;margin:1.5em auto;padding:0 1em;color:#222;font-size:14px}
            h1{font-size:1.6em}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:2em}h3{margin-top:1.6em}h4{margin:1.2em 0 .3em;font-size:1em}
            table{border-collapse:collapse;margin:.4em 0}th,td{border:1px solid #ddd;padding:3px 8px;text-align:right;white-space:nowrap}
            th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}table.left td,table.left th{text-align:left}table.small{font-size:12px}.scroll{overflow-x:auto}
            .note{color:#666}.warn{color:#a40}pre{background:#f6f6f6;padding:.8em;overflow:auto;font-size:12px}
            svg.chart{display:block;margin:.3em 0}svg text{font-family:system-ui,sans-serif;fill:#333}
            </style></head><body>
            <h1>FedKit report</h1>

            """
        let runs = self.runs
        out +=
            "<p>\(runs.count) runs (\(runs.filter(\.isComplete).count) complete) of \(experiments.count) experiment(s), "
            + "collected from \(directories.map { "<code>\(HTML.escape($0))</code>" }.joined(separator: ", ")) by "
            + "<code>exp report</code> (FedKit \(FedKitVersion.current)) from the run folders' own files.</p>\n"
        out += """
            <p class="note">Statistics are over seeds (complete runs only): mean ± sample standard deviation, and the 95% confidence
            interval of the mean, mean ± t(0.975, n−1)·std/√n (Student's t; one seed gives no interval: "n=1"). <b>final</b> is the
            last evaluated round, <b>last N</b> the mean of the last N evaluations (N = <code>eval.last_rounds</code> of the run's
            config); the best round is never picked. Accuracies are in %.</p>

            """
        if experiments.count > 1 {
            out +=
                "<p>Experiments: "
                + experiments.map { "<a href=\"#\(HTML.anchor($0.name))\">\(HTML.escape($0.name))</a>" }.joined(
                    separator: " · ") + "</p>\n"
        }
        for experiment in experiments { out += section(experiment) }
        return out + "</body></html>\n"
    }

    func section(_ experiment: ExperimentResults) -> String {
        var out = "<h2 id=\"\(HTML.anchor(experiment.name))\">\(HTML.escape(experiment.name))</h2>\n"
        out += "<p>\(HTML.escape(settingsLine(experiment)))</p>\n"
        let incomplete = experiment.runs.filter { !$0.isComplete }
        if !incomplete.isEmpty {
            out +=
                "<p class=\"warn\">Left out of the statistics and plots:</p><ul class=\"warn\">"
                + incomplete.map { "<li>\(HTML.escape($0.method)) seed \($0.seed): \(HTML.escape($0.state))</li>" }
                .joined() + "</ul>\n"
        }
        let old = experiment.runs.filter(\.lacksParticipantCount)
        if !old.isEmpty {
            out +=
                "<p class=\"warn\">\(old.count) of \(experiment.runs.count) runs have \(HTML.escape(CollectedRun.participantNote)).</p>\n"
        }
        let colors = Dictionary(
            uniqueKeysWithValues: experiment.groups.enumerated().map { ($0.element.label, SVG.color($0.offset)) })
        let dashes = Dictionary(
            uniqueKeysWithValues: experiment.groups.enumerated().map { ($0.element.label, SVG.dash($0.offset)) })
        let names = experiment.metricNames
        out += curves(experiment, names: names, colors: colors, dashes: dashes)
        out += finalTables(experiment, names: names)
        out += clientDistributions(experiment, colors: colors)
        out += partitions(experiment)
        out += timings(experiment)
        out += allMetrics(experiment, names: names)
        out += manifests(experiment)
        return out
    }

    /// Dataset, partition, model and federation settings of the experiment's first run.
    func settingsLine(_ experiment: ExperimentResults) -> String {
        guard let run = experiment.runs.first else { return "" }
        let s = run.settings
        func section(_ prefix: String, skip: Set<String> = []) -> String {
            let keys = s.keys.filter { $0.hasPrefix(prefix + ".") && !skip.contains($0) }.sorted()
            let name = s[prefix + ".name"] ?? "?"
            let rest = keys.filter { $0 != prefix + ".name" }.map { "\($0.dropFirst(prefix.count + 1)) \(s[$0]!)" }
            return rest.isEmpty ? name : "\(name) (\(rest.joined(separator: ", ")))"
        }
        let federation = ["rounds", "fraction", "clients_per_round", "local_epochs", "batch_size", "lr"]
            .compactMap { k in s["federation.\(k)"].map { "\(k) \($0)" } }.joined(separator: ", ")
        let seeds = Set(experiment.runs.map(\.seed)).sorted().map(String.init).joined(separator: ", ")
        return
            "dataset \(section("dataset", skip: ["dataset.root"])); partition \(section("partition")); model \(s["model.name"] ?? "?"); "
            + "federation: \(federation); evaluation: local test \(s["eval.local_test"] ?? "?"), last N = \(run.lastRounds); seeds \(seeds)."
    }

    static func format(_ v: Double, percent: Bool) -> String {
        percent ? String(format: "%.2f", 100 * v) : String(format: "%.4g", v)
    }

    static func cells(_ s: SeedStatistics?, percent: Bool) -> [String] {
        guard let s else { return ["–", "–"] }
        let value =
            s.n > 1
            ? "\(format(s.mean, percent: percent)) ± \(format(s.std, percent: percent))"
            : format(s.mean, percent: percent)
        let ci =
            s.ci.map { "[\(format($0.lowerBound, percent: percent)), \(format($0.upperBound, percent: percent))]" }
            ?? "n=1"
        return [value, ci]
    }

    func finalTables(_ experiment: ExperimentResults, names: [String]) -> String {
        let headline = names.filter(MetricKind.isHeadline)
        guard !headline.isEmpty else { return "" }
        var out = "<h3>Final results</h3>\n"
        for name in headline {
            let percent = MetricKind.isAccuracy(name)
            let lastN = Set(experiment.groups.flatMap { $0.complete.map(\.lastRounds) }).sorted().map(String.init)
                .joined(separator: "/")
            let perRound = experiment.runs.contains { $0.rounds.contains { $0.values[name] != nil } }
            out +=
                "<h4>\(HTML.escape(MetricKind.title(name)))\(percent ? " (%)" : "") <span class=\"note\"><code>\(HTML.escape(name))</code></span></h4>\n<table>"
            var header = ["method", "seeds", "final", "95% CI"]
            if perRound { header += ["last \(lastN)", "95% CI"] }
            let counts = experiment.groups.contains { $0.countsBeside(name) != nil }
            if counts { header.append("counts (final round)") }
            out += HTML.row(header, header: true)
            for group in experiment.groups {
                guard let final = group.statistics(name) else { continue }
                var row = [
                    HTML.escape(group.label),
                    group.complete.filter { $0.metrics[name] != nil }.map { String($0.seed) }.joined(separator: ","),
                ]
                row += Self.cells(final, percent: percent)
                if perRound { row += Self.cells(group.statistics(name, last: true), percent: percent) }
                if counts { row.append(HTML.escape(group.countsBeside(name) ?? "–")) }
                out += HTML.row(row)
            }
            out += "</table>\n"
        }
        return out
    }

    func curves(
        _ experiment: ExperimentResults, names: [String], colors: [String: String], dashes: [String: String]
    ) -> String {
        let plotted = names.filter(MetricKind.isCurve)
        guard !plotted.isEmpty else { return "" }
        var out =
            "<h3>Per round</h3>\n<p class=\"note\">Line: mean over seeds; band: from the lowest to the highest seed (no band with one seed).</p>\n"
        for name in plotted {
            let percent = MetricKind.isAccuracy(name)
            let series = experiment.groups.map { group in
                LineChart.Series(
                    label: group.label, color: colors[group.label]!, dash: dashes[group.label]!,
                    points: group.perRound(name).map { r in
                        (
                            Double(r.round), r.values.reduce(0, +) / Double(r.values.count), r.values.min()!,
                            r.values.max()!
                        )
                    })
            }.filter { !$0.points.isEmpty }
            guard !series.isEmpty else { continue }
            out +=
                "<h4>\(HTML.escape(MetricKind.title(name))) <span class=\"note\"><code>\(HTML.escape(name))</code></span></h4>\n"
            out +=
                LineChart(yTitle: percent ? "accuracy" : MetricKind.title(name), percent: percent, series: series).svg()
                + "\n"
        }
        return out
    }

    func clientDistributions(_ experiment: ExperimentResults, colors: [String: String]) -> String {
        var columns: [String] = []
        for run in experiment.runs {
            for c in run.clients?.header ?? [] where c.contains("accuracy") && !columns.contains(c) {
                columns.append(c)
            }
        }
        guard !columns.isEmpty else { return "" }
        var out =
            "<h3>Per-client accuracy after the last round</h3>\n<p class=\"note\">One dot per client and seed; box: quartiles; "
            + "line: median; diamond: mean. Clients that never trained are left out where the method keeps personal state "
            + "(they have no model of their own).</p>\n"
        let titles = [
            "personalized_accuracy": "each client's model on its own test split",
            "global_test_accuracy": "each client's personal model on the whole test set",
        ]
        for column in columns {
            let rows: [DistributionChart.Row] = experiment.groups.compactMap { group in
                let parts = group.complete.map { $0.clientValues(column) }
                let values = parts.flatMap(\.values), leftOut = parts.map(\.leftOut).reduce(0, +)
                guard !values.isEmpty else { return nil }
                let note = "n=\(values.count)" + (leftOut > 0 ? ", \(leftOut) never trained" : "")
                return DistributionChart.Row(
                    label: group.label, color: colors[group.label]!, values: values, note: note)
            }
            guard !rows.isEmpty else { continue }
            out +=
                "<h4>\(HTML.escape(titles[column] ?? column)) <span class=\"note\"><code>clients.csv: \(HTML.escape(column))</code></span></h4>\n"
            out += DistributionChart(rows: rows, percent: true).svg() + "\n"
        }
        return out
    }

    func partitions(_ experiment: ExperimentResults) -> String {
        var out = "<h3>Partition: training samples per class and client</h3>\n"
        var shown = Set<String>()
        var any = false
        for run in experiment.runs.sorted(by: { $0.seed < $1.seed }) {
            guard let counts = run.classCounts else { continue }
            let hash = run.manifest.first { $0.key == "partition_hash" }?.value ?? "seed \(run.seed)"
            guard shown.insert(hash).inserted else { continue }
            any = true
            let total = counts.map { $0.reduce(0, +) }.reduce(0, +)
            out +=
                "<h4>seed \(run.seed) <span class=\"note\">partition hash \(HTML.escape(hash)), \(counts.count) clients, "
                + "\(counts.map(\.count).max() ?? 0) classes, \(total) samples"
                + (counts.count > 200 ? "; the first 200 clients are drawn" : "") + "</span></h4>\n"
            out += PartitionHeatmap(counts: counts).svg() + "\n"
        }
        if !any {
            out +=
                "<p class=\"note\">These runs have no partition.csv (runs written before it was added). "
                + "<code>exp partition FILE --seed S</code> writes the same class counts.</p>\n"
        }
        return out
    }

    func timings(_ experiment: ExperimentResults) -> String {
        let groups = experiment.groups.filter { $0.statistics("timing.total_s") != nil }
        guard !groups.isEmpty else { return "" }
        var out =
            "<h3>Time per round</h3>\n<p class=\"note\">Wall seconds per round (timings.jsonl), mean over rounds, then "
            + "mean ± std over seeds. Machines and load differ between runs: compare runs of one process.</p>\n<table>"
        let phases = [
            ("total_s", "total"), ("local_s", "local training"), ("aggregate_s", "aggregation"),
            ("server_s", "server steps"), ("eval_s", "evaluation"),
        ]
        out += HTML.row(["method", "seeds"] + phases.map(\.1), header: true)
        for group in groups {
            var row = [HTML.escape(group.label), group.complete.map { String($0.seed) }.joined(separator: ",")]
            for (key, _) in phases {
                let values = group.complete.compactMap { $0.metrics["timing.\(key)"]?.mean }
                guard !values.isEmpty else { row.append("–"); continue }
                let s = SeedStatistics(values)
                row.append(s.n > 1 ? String(format: "%.2f ± %.2f", s.mean, s.std) : String(format: "%.2f", s.mean))
            }
            out += HTML.row(row)
        }
        return out + "</table>\n"
    }

    func allMetrics(_ experiment: ExperimentResults, names: [String]) -> String {
        var out =
            "<h3>All metrics</h3>\n<details><summary>Every number the runs recorded (rounds.jsonl, nested keys joined "
            + "with dots; clients.csv summaries; timings), final and last N, over seeds</summary>\n<table>"
        out += HTML.row(["metric", "method", "n", "final", "95% CI", "last N", "95% CI"], header: true)
        for name in names {
            let percent = MetricKind.isAccuracy(name)
            for group in experiment.groups {
                guard let final = group.statistics(name) else { continue }
                out += HTML.row(
                    [HTML.escape(name) + (percent ? " (%)" : ""), HTML.escape(group.label), String(final.n)]
                        + Self.cells(final, percent: percent)
                        + Self.cells(group.statistics(name, last: true), percent: percent))
            }
        }
        return out + "</table></details>\n"
    }

    func manifests(_ experiment: ExperimentResults) -> String {
        let prefix = Self.commonFolder(experiment.runs.map(\.directory))
        var out =
            "<h3>Runs</h3>\n<p class=\"note\">Run folders under <code>\(HTML.escape(prefix.isEmpty ? "." : prefix))</code>; "
            + "from each run's manifest.json (hover a commit for all of it).</p>\n<div class=\"scroll\"><table class=\"left small\">"
        let keys = ["dataset_hash", "partition_hash", "fedkit_version", "started_at", "host"]
        out += HTML.row(
            [
                "run folder", "method", "seed", "state", "rounds", "git commit", "dataset", "partition", "FedKit",
                "started", "host",
            ],
            header: true)
        for group in experiment.groups {
            for run in group.runs {
                let manifest = Dictionary(run.manifest.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
                let commit = manifest["git_commit"] ?? "–"
                let shortCommit = String(commit.prefix(12)) + (commit.hasSuffix("+dirty") ? "+dirty" : "")
                let folder = prefix.isEmpty ? run.directory : String(run.directory.dropFirst(prefix.count + 1))
                out += HTML.row(
                    [
                        HTML.escape(folder), HTML.escape(group.label), String(run.seed), HTML.escape(run.state),
                        "\(run.rounds.count)/\(run.plannedRounds)",
                        "<span title=\"\(HTML.escape(commit))\">\(HTML.escape(shortCommit))</span>",
                    ]
                        + keys.map { HTML.escape(manifest[$0] ?? "–") })
            }
        }
        out += "</table></div>\n"
        for group in experiment.groups {
            guard let run = group.runs.first else { continue }
            out +=
                "<details><summary>config.yaml of \(HTML.escape(group.label)) (seed \(run.seed); the other seeds differ at most in "
                + "<code>seeds</code>, <code>output</code> and worker settings)</summary><pre>\(HTML.escape(run.configText))</pre></details>\n"
        }
        return out
    }

    /// The longest folder that holds every path ("" when they share none).
    static func commonFolder(_ paths: [String]) -> String {
        guard var common = paths.first?.split(separator: "/", omittingEmptySubsequences: false) else { return "" }
        for path in paths.dropFirst() {
            let parts = path.split(separator: "/", omittingEmptySubsequences: false)
            common = Array(zip(common, parts).prefix { $0 == $1 }.map(\.0))
        }
        if paths.count == 1 { common = common.dropLast() }
        if common.count == paths.first!.split(separator: "/", omittingEmptySubsequences: false).count {
            common = common.dropLast()
        }
        return common.joined(separator: "/")
    }
}
