import FedKit
import XCTest

/// `exp report --claim`: best, tied-best or not best, by paired 95% intervals over shared seeds.
final class ClaimCheckTests: XCTestCase {
    /// Last-2 means by seed (global; personalised is 0.1 above in the fixture):
    /// A 0.45 / 0.55 / 0.50; B = A + 0.105 / 0.10 / 0.105 (consistently higher);
    /// C 0.75 / 0.35 / 0.55 (higher than A on average, by a spread that 3 seeds cannot separate);
    /// D seed 1 only, 0.95 (higher than everyone on its one seed).
    func experiment() throws -> Report {
        let root = try ReportFixture.temporaryDirectory(self)
        let runs: [(String, [[Double]])] = [
            ("A", [[0.2, 0.4, 0.5], [0.3, 0.5, 0.6], [0.25, 0.45, 0.55]]),
            ("B", [[0.3, 0.5, 0.61], [0.4, 0.6, 0.70], [0.35, 0.55, 0.66]]),
            ("C", [[0.1, 0.7, 0.8], [0.1, 0.3, 0.4], [0.1, 0.5, 0.6]]),
            ("D", [[0.1, 0.9, 1.0]]),
        ]
        for (method, seeds) in runs {
            for (i, accuracies) in seeds.enumerated() {
                try ReportFixture.writeRun(
                    "\(root)/exp/\(method)/seed-\(i + 1)", experiment: "exp", method: method, seed: i + 1,
                    accuracies: accuracies)
            }
        }
        return try ReportCollector.collect(directories: ["\(root)/exp"])
    }

    func testConsistentlyHigherRivalMakesTheMethodNotBest() throws {
        let check = try ClaimCheck(method: "A", in: try experiment().experiments[0])
        for (_, result) in check.results {
            let result = try XCTUnwrap(result)
            XCTAssertEqual(result.standing, .notBest)
            XCTAssertEqual(result.better.map(\.rival), ["B"])
            XCTAssertEqual(result.higherNotSignificantly.map(\.rival), ["C"])
            XCTAssertEqual(result.higherOnOneSeed.map(\.rival), ["D"])
            let b = try XCTUnwrap(result.comparisons.first { $0.rival == "B" })
            XCTAssertEqual(b.seeds, [1, 2, 3])
            XCTAssertEqual(b.difference.mean, (0.105 + 0.10 + 0.105) / 3, accuracy: 1e-9)
        }
        XCTAssertEqual(check.verdict, .doesNotHold)
        XCTAssertTrue(check.lines.last!.hasSuffix("does not hold (paired 95% intervals over shared seeds; one shared seed decides nothing)"))
    }

    func testNoisyRivalsTieAndSingleSeedRivalsLeaveItUndecided() throws {
        let report = try experiment()
        // B: C is lower on average; D is higher on its one seed, which decides nothing.
        let b = try ClaimCheck(method: "B", in: report.experiments[0])
        XCTAssertEqual(b.results.map { $0.result?.standing }, [.undecided, .undecided])
        XCTAssertEqual(b.results[0].result?.higherOnOneSeed.map(\.rival), ["D"])
        XCTAssertEqual(b.verdict, .undecided)
        XCTAssertTrue(b.lines[0].contains("higher on one seed (untestable): D (+39.5 points, seed 1)"), b.lines[0])
        // C: B is higher on average (+0.053), not significantly: tied-best, D listed beside it.
        let c = try ClaimCheck(method: "C", in: report.experiments[0])
        XCTAssertEqual(c.results[0].result?.standing, .tiedBest)
        XCTAssertEqual(c.results[0].result?.higherNotSignificantly.map(\.rival), ["B"])
        XCTAssertEqual(c.results[0].result?.higherOnOneSeed.map(\.rival), ["D"])
        XCTAssertEqual(c.verdict, .holds)
        // D is compared on seed 1 alone, where it is the highest: best.
        let d = try ClaimCheck(method: "D", in: report.experiments[0])
        XCTAssertEqual(d.results.map { $0.result?.standing }, [.best, .best])
        XCTAssertEqual(d.results[0].result?.comparisons.map(\.seeds), [[1], [1], [1]])
        XCTAssertTrue(d.lines[0].hasPrefix("claim D, global (last 2): best"), d.lines[0])
        XCTAssertEqual(d.verdict, .holds)
    }

    /// The summary table: one row per check, the strongest rival among those that decide the standing.
    func testTableNamesTheDecidingRivalAndTheVerdict() throws {
        let report = try experiment()
        let table = ClaimCheck.markdownTable(try report.claimChecks(["A", "C", "D"]))
        let rows = table.split(separator: "\n").map(String.init)
        XCTAssertEqual(rows.count, 5, table)
        XCTAssertTrue(rows[2].hasPrefix("| exp | A | 3 | 50.0 ± 5.0 | not best: B (+10.3 points, 95% CI +9.6 to +11.1, seeds 1,2,3) |"), rows[2])
        XCTAssertTrue(rows[2].hasSuffix("| **does not hold** |"), rows[2])
        XCTAssertTrue(rows[3].contains("| tied-best: B (+5.3 points, 95% CI"), rows[3])
        XCTAssertTrue(rows[4].hasPrefix("| exp | D | 1 | 95.0 | best: no rival higher | 105.0 | best: no rival higher | **holds** |"), rows[4])
    }

    func testUnknownMethodIsNamedWithTheRows() throws {
        XCTAssertThrowsError(try experiment().claimChecks(["E"])) { error in
            XCTAssertEqual(
                "\(error)", "--claim E: no row of exp with complete runs is E; rows: A, B, C, D")
        }
    }

    func testExpReportPrintsTheClaimAndNeedsMarkdown() throws {
        let root = try ReportFixture.temporaryDirectory(self)
        for (method, shift) in [("A", 0.0), ("B", 0.1)] {
            for seed in 1...2 {
                try ReportFixture.writeRun(
                    "\(root)/exp/\(method)/seed-\(seed)", experiment: "exp", method: method, seed: seed,
                    accuracies: [0.2, 0.4, 0.5 + 0.01 * Double(seed)].map { $0 + shift })
            }
        }
        _ = try ExpTool.requireBinary()
        let results = try ExpTool.runAll([
            ["report", "--markdown", "--claim", "B", "\(root)/exp"],
            ["report", "--claim", "B", "\(root)/exp"],
        ])
        let (ok, bad) = (results[0], results[1])
        XCTAssertEqual(ok.status, 0, ok.summary)
        XCTAssertTrue(ok.stdout.contains("- claim B, global (last 2): best"), ok.summary)
        XCTAssertTrue(ok.stdout.contains("- claim B: best or tied-best on both metrics: holds"), ok.summary)
        XCTAssertTrue(ok.stdout.contains("| experiment | method | seeds | global | strongest rival, global |"), ok.summary)
        XCTAssertNotEqual(bad.status, 0, bad.summary)
        XCTAssertFalse(bad.crashed, bad.summary)
        XCTAssertTrue(bad.stderr.contains("--claim applies to the --markdown table"), bad.summary)
    }
}
