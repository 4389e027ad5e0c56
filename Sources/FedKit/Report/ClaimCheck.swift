import Foundation

/// `exp report --markdown --claim METHOD`: whether a method is best or tied-best on the global
/// and the personalised accuracy (test figures, mean of the last N evaluations), decided by a
/// stated rule instead of by eye. Every other row of the table is compared with the method seed by
/// seed over the seeds both completed (the runs of one seed share their partition and initial
/// model, so the comparison is paired), with the paired 95% interval of the difference (Student's
/// t, n - 1 degrees of freedom). A rival whose mean is higher is
/// - **significantly higher** when the interval lies above 0,
/// - **tied** when the interval lies below the tie margin (default 1 point): the seeds show that
///   it is at most that much better,
/// - **unresolved** otherwise (the interval reaches both 0 and the margin: the seeds cannot tell a
///   tie from a real gap), or when they share one seed (no interval).
/// "Not significantly higher" is not "tied": with 2 or 3 seeds a rival 30 points higher is often not
/// significant, and calling the method tied-best there would read a lack of evidence as evidence.
/// The method is *not best* when a rival is significantly higher, *undecided* when one is
/// unresolved, *tied-best* when every higher rival is tied, *best* when no rival is higher. The
/// claim holds when the method is best or tied-best on both metrics, does not hold when it is not
/// best on one, and is undecided else.
public struct ClaimCheck: Sendable {
    /// A metric the claim is judged on.
    public struct Metric: Sendable {
        public var name: String
        public var title: String
        /// A figure of the global model: a method's own only where that model is whole.
        var isGlobalModel: Bool { Report.isGlobalModelMetric(name) }
    }

    /// The metrics of the claim: global and personalised accuracy, last-N means.
    public static let metrics = [
        Metric(name: "global_accuracy", title: "global"),
        Metric(name: "personalized.weightedMean", title: "personalised"),
    ]

    /// One rival against the method: the paired differences rival - method.
    public struct Comparison: Sendable {
        public var rival: String
        public var seeds: [Int]
        public var difference: SeedStatistics

        /// Positive with the whole paired 95% interval above 0.
        public var isSignificantlyHigher: Bool {
            guard let half = difference.ciHalfWidth else { return false }
            return difference.mean - half > 0
        }

        /// Higher on average, with the whole paired 95% interval below `margin` (not significant).
        public func isTied(margin: Double) -> Bool {
            guard difference.mean > 0, let half = difference.ciHalfWidth, !isSignificantlyHigher else { return false }
            return difference.mean + half < margin
        }

        var text: String {
            let seedList = seeds.map(String.init).joined(separator: ",")
            let mean = String(format: "%+.1f", 100 * difference.mean)
            guard let half = difference.ciHalfWidth else { return "\(rival) (\(mean) points, seed \(seedList))" }
            let low = String(format: "%+.1f", 100 * (difference.mean - half))
            let high = String(format: "%+.1f", 100 * (difference.mean + half))
            return "\(rival) (\(mean) points, 95% CI \(low) to \(high), seeds \(seedList))"
        }
    }

    /// The verdict on one metric.
    public enum Standing: String, Sendable {
        case best = "best"
        case tiedBest = "tied-best"
        case notBest = "not best"
        case undecided = "undecided"
    }

    /// The method's comparisons on one metric.
    public struct MetricResult: Sendable {
        public var metric: Metric
        /// The method's own last-N means over its seeds.
        public var own: SeedStatistics
        public var comparisons: [Comparison]
        /// Rows left out of this metric: their global model is not a whole model of their method.
        public var leftOut: [String]
        /// The largest difference (accuracy, 0.01 = 1 point) a tied rival may be shown to have.
        public var tieMargin: Double

        /// The rival with the largest mean difference among those that decide the standing
        /// (significantly higher, else unresolved, else tied); nil when no rival is higher.
        public var strongest: Comparison? {
            let deciding = [better, unresolved, tied].first { !$0.isEmpty } ?? []
            return deciding.max { $0.difference.mean < $1.difference.mean }
        }

        public var better: [Comparison] { comparisons.filter(\.isSignificantlyHigher) }
        /// Higher on average, the interval reaching 0 but not the tie margin.
        public var tied: [Comparison] { comparisons.filter { $0.isTied(margin: tieMargin) } }
        /// Higher on average, neither significantly nor shown to be within the tie margin (one
        /// shared seed included: no interval).
        public var unresolved: [Comparison] {
            comparisons.filter { $0.difference.mean > 0 && !$0.isSignificantlyHigher && !$0.isTied(margin: tieMargin) }
        }
        public var standing: Standing {
            if !better.isEmpty { return .notBest }
            if !unresolved.isEmpty { return .undecided }
            return tied.isEmpty ? .best : .tiedBest
        }
    }

    public var experiment: String
    public var method: String
    public var lastRounds: String
    /// The tie margin, in accuracy (0.01 = 1 point).
    public var tieMargin: Double
    /// Nil for a metric the method has no figure of its own for: Local has no global model, and
    /// FedPer's global model lacks the heads its clients keep.
    public var results: [(metric: Metric, result: MetricResult?)]

    /// The claim's verdict.
    public enum Verdict: String, Sendable {
        case holds
        case doesNotHold = "does not hold"
        case undecided = "undecided"
    }

    /// Holds when the method is best or tied-best on both metrics; does not hold when it is not
    /// best on one (or has no figure for one); undecided otherwise.
    public var verdict: Verdict {
        let standings = results.map { $0.result?.standing }
        if standings.contains(where: { $0 == nil || $0 == .notBest }) { return .doesNotHold }
        return standings.allSatisfy { $0 == .best || $0 == .tiedBest } ? .holds : .undecided
    }

    /// The default tie margin: 1 point of accuracy.
    public static let defaultTieMargin = 0.01

    /// Compares `method` (`MethodResults.isNamed`) with every other row of the experiment on each
    /// of `metrics`; a higher rival is tied when its interval lies below `tieMargin`.
    public init(method: String, in experiment: ExperimentResults, tieMargin: Double = defaultTieMargin) throws {
        let matches = experiment.groups.filter { $0.isNamed(method) && !$0.complete.isEmpty }
        guard matches.count == 1, let claimed = matches.first else {
            let labels = experiment.groups.filter { !$0.complete.isEmpty }.map(\.label).joined(separator: ", ")
            throw ReportError(
                matches.isEmpty
                    ? "--claim \(method): no row of \(experiment.name) with complete runs is \(method); rows: \(labels)"
                    : "--claim \(method): several rows of \(experiment.name) are \(method) "
                        + "(\(matches.map(\.label).joined(separator: ", "))): name one by its label or --choose one")
        }
        self.experiment = experiment.name
        self.method = claimed.label
        lastRounds = MethodResults.lastRoundsTitle(experiment.groups)
        self.tieMargin = tieMargin
        results = Self.metrics.map { metric in
            let own = claimed.bySeed(metric.name, last: true)
            guard !own.isEmpty, !(metric.isGlobalModel && claimed.globalModelIsPartial) else { return (metric, nil) }
            var comparisons: [Comparison] = []
            var leftOut: [String] = []
            for rival in experiment.groups where rival.label != claimed.label {
                if metric.isGlobalModel && rival.globalModelIsPartial {
                    leftOut.append(rival.label)
                    continue
                }
                let theirs = rival.bySeed(metric.name, last: true)
                let seeds = own.keys.filter { theirs[$0] != nil }.sorted()
                guard !seeds.isEmpty else { continue }
                comparisons.append(
                    Comparison(
                        rival: rival.label, seeds: seeds,
                        difference: SeedStatistics(seeds.map { theirs[$0]! - own[$0]! })))
            }
            let ownValues = own.keys.sorted().map { own[$0]! }
            return (
                metric,
                MetricResult(
                    metric: metric, own: SeedStatistics(ownValues), comparisons: comparisons, leftOut: leftOut,
                    tieMargin: tieMargin)
            )
        }
    }

    /// One line per metric and a verdict line, as `exp report --claim` prints them.
    public var lines: [String] {
        var out: [String] = []
        let margin = marginText
        for (metric, result) in results {
            let head = "claim \(method), \(metric.title) (last \(lastRounds))"
            guard let result else {
                out.append("\(head): no figure (the method has no \(metric.name) of a model of its own)")
                continue
            }
            var parts = ["\(result.standing.rawValue)"]
            if !result.better.isEmpty {
                parts.append("significantly below " + result.better.map(\.text).joined(separator: "; "))
            }
            if !result.unresolved.isEmpty {
                parts.append(
                    "higher, neither significantly nor within \(margin): "
                        + result.unresolved.map(\.text).joined(separator: "; "))
            }
            if !result.tied.isEmpty {
                parts.append("tied (higher, within \(margin)): " + result.tied.map(\.text).joined(separator: "; "))
            }
            if !result.leftOut.isEmpty {
                parts.append("left out (global model not the method's, †): " + result.leftOut.joined(separator: ", "))
            }
            out.append("\(head): " + parts.joined(separator: " — "))
        }
        out.append(
            "claim \(method): best or tied-best on both metrics: \(verdict.rawValue) "
                + "(paired 95% intervals over shared seeds; tied = interval below \(margin); one shared seed decides nothing)")
        return out
    }

    /// The tie margin as printed: "1 point", "0.5 points".
    var marginText: String {
        let points = 100 * tieMargin
        let number = points == points.rounded() ? String(Int(points)) : String(format: "%g", points)
        return "\(number) point\(points == 1 ? "" : "s")"
    }
}

extension ClaimCheck {
    /// One row per check: the method's last-N means, its strongest rival on each metric (the
    /// largest paired difference, with its interval), each standing and the verdict: the summary
    /// table of docs/results.md.
    public static func markdownTable(_ checks: [ClaimCheck]) -> String {
        var out = [
            "| experiment | method | seeds | global | strongest rival, global | personalised | strongest rival, personalised | claim |",
            "|---|---|---|---:|---|---:|---|---|",
        ]
        for check in checks {
            var cells = [check.experiment, check.method]
            let seeds = check.results.compactMap { $0.result?.own.n }.max() ?? 0
            cells.append(String(seeds))
            for (_, result) in check.results {
                guard let result else {
                    cells += ["–", "–"]
                    continue
                }
                cells.append(Report.meanStd(result.own, scale: 100, digits: 1))
                let rival = result.strongest.map { $0.text } ?? "no rival higher"
                cells.append("\(result.standing.rawValue): \(rival)")
            }
            cells.append("**\(check.verdict.rawValue)**")
            out.append("| " + cells.joined(separator: " | ") + " |")
        }
        return out.joined(separator: "\n") + "\n"
    }
}

extension MethodResults {
    /// Whether `name` names this row: its label, or its method (a `--choose` NAME, or a method
    /// run with one setting only).
    func isNamed(_ name: String) -> Bool { label == name || method == name }
}

extension Report {
    /// `--claim` checks for each method, in every experiment of the report that has a row for it
    /// (an error when none has).
    public func claimChecks(
        _ methods: [String], tieMargin: Double = ClaimCheck.defaultTieMargin
    ) throws -> [ClaimCheck] {
        var checks: [ClaimCheck] = []
        for method in methods {
            let having = experiments.filter { $0.groups.contains { $0.isNamed(method) } }
            for experiment in having.isEmpty ? Array(experiments.prefix(1)) : having {
                checks.append(try ClaimCheck(method: method, in: experiment, tieMargin: tieMargin))
            }
        }
        return checks
    }

    /// The checks' lines, prefixed by the experiment's name when the report has several.
    public func claimLines(_ checks: [ClaimCheck]) -> [String] {
        checks.flatMap { check in check.lines.map { (experiments.count > 1 ? "\(check.experiment): " : "") + $0 } }
    }
}
