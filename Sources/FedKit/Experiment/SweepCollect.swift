import Foundation

/// The collect step of a sweep: reads every complete task's run folder and writes the
/// experiment folder's summary.csv and report.html (one row per cell and method, mean ± std over
/// seeds). Runs never write these shared files themselves.
public enum SweepCollect {
    public struct Outcome: Sendable {
        public var results: [RunResult]
        /// Tasks whose run folder is not complete.
        public var missing: [SweepTask]
        public var summaryPath: String
        /// Row labels in task order: `<cell>/<method>`, or the method alone without setting axes.
        public var labels: [String]
    }

    /// The summary row of a task.
    public static func label(_ task: SweepTask) -> String { task.cell.isEmpty ? task.method : "\(task.cell)/\(task.method)" }

    public static func collect(_ plan: SweepPlan) throws -> Outcome {
        var results: [RunResult] = []
        var missing: [SweepTask] = []
        var labels: [String] = []
        for (i, task) in plan.tasks.enumerated() {
            let label = label(task)
            if !labels.contains(label) { labels.append(label) }
            guard var result = plan.completedResult(i) else {
                missing.append(task)
                continue
            }
            result.method = label
            results.append(result)
        }
        try FileManager.default.createDirectory(atPath: plan.directory, withIntermediateDirectories: true)
        let summaryPath = "\(plan.directory)/summary.csv"
        try RunWriter.writeAtomically(SummaryTable.csv(results, methods: labels), to: summaryPath)
        var reportSpec = plan.base
        reportSpec.methods = labels.map { label in
            var method = plan.specs[plan.tasks.firstIndex { Self.label($0) == label }!].methods[0]
            method.label = label
            return method
        }
        reportSpec.seeds = Array(Set(plan.tasks.map(\.seed))).sorted()
        let failures = missing.map { RunFailure(method: label($0), seed: $0.seed, message: "task \($0.task) not complete") }
        try RunWriter.writeAtomically(HTMLReport.render(spec: reportSpec, results: results, failures: failures),
                                      to: "\(plan.directory)/report.html")
        return Outcome(results: results, missing: missing, summaryPath: summaryPath, labels: labels)
    }
}
