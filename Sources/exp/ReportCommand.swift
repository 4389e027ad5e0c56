import ArgumentParser
import FedKit
import Foundation

/// `exp report DIR...`: the collect step over run folders (summary.csv, report.html, tables).
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Collect run folders into summary.csv and report.html, or print results tables.",
        discussion: """
            Finds run folders (rounds.jsonl, config.yaml, manifest.json) at any depth under each DIR and reads
            only their files; runs of one method with the same settings are the seeds of one row. Writes
            summary.csv (one row per run and metric) and report.html (self-contained) into --out, by default
            the only DIR. With --markdown or --timing it prints a table and writes files only when --out is given.
            """)

    @Argument(
        help: ArgumentHelp(
            "Folders holding run folders (an experiment's output, a sweep, a whole runs/ folder).", valueName: "DIR"))
    var directories: [String]

    @Option(help: ArgumentHelp("Where to write summary.csv and report.html (default: the only DIR).", valueName: "DIR"))
    var out: String?

    @Flag(
        help: "Print a markdown table: mean ± std over seeds (in %) of the final round and of the last N evaluations.")
    var markdown = false

    @Option(
        help: ArgumentHelp(
            "Print a markdown table of seconds per round by phase, with each method's time relative to METHOD.",
            valueName: "METHOD"))
    var timing: String?

    @Option(
        name: .customLong("choose"),
        help: ArgumentHelp(
            "With --markdown: keep, of the rows whose label matches PATTERN (`*` = anything), only the one with "
                + "the best validation CRITERION (val-global, val-global-last [default], val-personal, "
                + "val-personal-last), shown as NAME [chosen: LABEL]. Repeatable.",
            valueName: "NAME=PATTERN[:CRITERION]"))
    var choices: [String] = []

    @Option(
        name: .customLong("claim"),
        help: ArgumentHelp(
            "With --markdown: whether METHOD (a row's label, or a --choose NAME) is best or tied-best on global "
                + "and personalised accuracy (last-N test means), each other row compared seed by seed with "
                + "paired 95% intervals. Repeatable.",
            valueName: "METHOD"))
    var claims: [String] = []

    @Option(
        name: .customLong("tie-margin"),
        help: ArgumentHelp(
            "With --claim: a higher rival counts as tied when its paired 95% interval lies below POINTS "
                + "percentage points (default 1); otherwise, unless significantly higher, it leaves the claim undecided.",
            valueName: "POINTS"))
    var tieMargin: Double?

    func run() throws {
        let report: Report
        do { report = try ReportCollector.collect(directories: directories) } catch let error as ReportError {
            throw CommandFailure(status: .invalidInput, message: "error: \(error)")
        }
        let printsTable = markdown || timing != nil
        if !choices.isEmpty && !markdown {
            throw ValidationError("--choose applies to the --markdown table: add --markdown")
        }
        if !claims.isEmpty && !markdown {
            throw ValidationError("--claim applies to the --markdown table: add --markdown")
        }
        if tieMargin != nil && claims.isEmpty {
            throw ValidationError("--tie-margin applies to --claim: add --claim METHOD")
        }
        if let tieMargin, !(tieMargin > 0 && tieMargin < 100) {
            throw ValidationError("--tie-margin \(tieMargin): must be above 0 and below 100 (percentage points)")
        }
        if markdown {
            do {
                let parsed = try choices.map(VariantChoice.init(argument:))
                let (chosen, lines) = try report.choosing(parsed)
                print(chosen.markdown())
                let checks = try chosen.claimChecks(
                    claims, tieMargin: tieMargin.map { $0 / 100 } ?? ClaimCheck.defaultTieMargin)
                let claimLines = chosen.claimLines(checks)
                for line in lines + claimLines { print("- \(line)") }
                if !(lines + claimLines).isEmpty { print("") }
                if !checks.isEmpty { print(ClaimCheck.markdownTable(checks)) }
            } catch let error as ReportError {
                throw CommandFailure(status: .invalidInput, message: "error: \(error)")
            }
        }
        if let timing {
            do { print(try report.timingMarkdown(reference: timing)) } catch let error as ReportError {
                throw CommandFailure(status: .invalidInput, message: "error: \(error)")
            }
        }
        for note in report.notes { FileHandle.standardError.write(Data("note: \(note)\n".utf8)) }
        guard out != nil || !printsTable else { return }
        guard let destination = out ?? (directories.count == 1 ? directories[0] : nil) else {
            throw ValidationError(
                "several folders given: say where to write summary.csv and report.html with --out DIR")
        }
        try report.write(to: destination)
        if !printsTable { print(report.text()) }
        print("\nwrote \(destination)/summary.csv and \(destination)/report.html (\(report.runs.count) runs)")
    }
}
