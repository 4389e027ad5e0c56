import Foundation

/// The collect step of a sweep: the tasks not complete yet, and `ReportCollector` over the sweep's
/// folder, which writes its summary.csv and report.html from the run folders' own files (seeds of
/// one cell and method together; cells told apart by the settings they differ in). Runs never write
/// these shared files themselves.
public enum SweepCollect {
    public struct Outcome: Sendable {
        /// Tasks whose run folder is not complete.
        public var missing: [SweepTask]
        /// nil when no task has a run folder yet (then nothing is written).
        public var summaryPath: String?
        public var report: Report?
    }

    public static func collect(_ plan: SweepPlan) throws -> Outcome {
        let missing = plan.tasks.indices.filter { plan.completedResult($0) == nil }.map { plan.tasks[$0] }
        try FileManager.default.createDirectory(atPath: plan.directory, withIntermediateDirectories: true)
        guard !(try ReportCollector.runFolders(under: plan.directory)).isEmpty else {
            return Outcome(missing: missing, summaryPath: nil, report: nil)
        }
        let report = try ReportCollector.collect(directories: [plan.directory])
        try report.write(to: plan.directory)
        return Outcome(missing: missing, summaryPath: "\(plan.directory)/summary.csv", report: report)
    }
}
