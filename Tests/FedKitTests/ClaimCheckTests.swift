import FedKit
import XCTest

/// `exp report --claim`: best, tied-best, not best or undecided, by paired 95% intervals over
/// shared seeds and a tie margin.
final class ClaimCheckTests: XCTestCase {
    /// Last-2 means by seed (global; personalised is 0.1 above in the fixture):
    /// A 0.45 / 0.55 / 0.50; B = A + 0.105 / 0.10 / 0.105 (consistently higher);
    /// C 0.75 / 0.35 / 0.55 (higher than A on average, by a spread that 3 seeds cannot separate);
    /// D seed 1 only, 0.95 (higher than everyone on its one seed);
    /// E (with `tiedRival`) = A + 0.003 / -0.001 / +0.001: higher by 0.1 point, interval -0.4 to +0.6.
    func experiment(tiedRival: Bool = false) throws -> Report {
        let root = try ReportFixture.temporaryDirectory(self)
        let runs: [(String, [[Double]])] = [
            ("A", [[0.2, 0.4, 0.5], [0.3, 0.5, 0.6], [0.25, 0.45, 0.55]]),
            ("B", [[0.3, 0.5, 0.61], [0.4, 0.6, 0.70], [0.35, 0.55, 0.66]]),
            ("C", [[0.1, 0.7, 0.8], [0.1, 0.3, 0.4], [0.1, 0.5, 0.6]]),
            ("D", [[0.1, 0.9, 1.0]]),
        ] + (tiedRival ? [("E", [[0.2, 0.403, 0.503], [0.3, 0.499, 0.599], [0.25, 0.451, 0.551]])] : [])
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
            XCTAssertEqual(result.unresolved.map(\.rival), ["C", "D"])
            XCTAssertEqual(result.tied.map(\.rival), [])
            let b = try XCTUnwrap(result.comparisons.first { $0.rival == "B" })
            XCTAssertEqual(b.seeds, [1, 2, 3])
            XCTAssertEqual(b.difference.mean, (0.105 + 0.10 + 0.105) / 3, accuracy: 1e-9)
        }
        XCTAssertEqual(check.verdict, .doesNotHold)
        XCTAssertTrue(check.lines.last!.hasSuffix("does not hold (paired 95% intervals over shared seeds; tied = interval below 1 point; one shared seed decides nothing)"))
    }

    func testNoisyAndSingleSeedRivalsLeaveItUndecided() throws {
        let report = try experiment()
        // B: C is lower on average; D is higher on its one seed, which decides nothing.
        let b = try ClaimCheck(method: "B", in: report.experiments[0])
        XCTAssertEqual(b.results.map { $0.result?.standing }, [.undecided, .undecided])
        XCTAssertEqual(b.results[0].result?.unresolved.map(\.rival), ["D"])
        XCTAssertEqual(b.verdict, .undecided)
        XCTAssertTrue(
            b.lines[0].contains("higher, neither significantly nor within 1 point: D (+39.5 points, seed 1)"), b.lines[0])
        // C: B is higher on average (+5.3 points), with an interval reaching both 0 and the margin:
        // not significant is not tied.
        let c = try ClaimCheck(method: "C", in: report.experiments[0])
        XCTAssertEqual(c.results[0].result?.standing, .undecided)
        XCTAssertEqual(c.results[0].result?.unresolved.map(\.rival), ["B", "D"])
        XCTAssertEqual(c.verdict, .undecided)
        // A margin wider than B's interval (upper end +66.8 points) makes B tied; D still decides nothing.
        let wide = try ClaimCheck(method: "C", in: report.experiments[0], tieMargin: 0.7)
        XCTAssertEqual(wide.results[0].result?.tied.map(\.rival), ["B"])
        XCTAssertEqual(wide.results[0].result?.unresolved.map(\.rival), ["D"])
        XCTAssertTrue(wide.lines.last!.contains("tied = interval below 70 points"), wide.lines.last!)
        // D is compared on seed 1 alone, where it is the highest: best.
        let d = try ClaimCheck(method: "D", in: report.experiments[0])
        XCTAssertEqual(d.results.map { $0.result?.standing }, [.best, .best])
        XCTAssertEqual(d.results[0].result?.comparisons.map(\.seeds), [[1], [1], [1]])
        XCTAssertTrue(d.lines[0].hasPrefix("claim D, global (last 2): best"), d.lines[0])
        XCTAssertEqual(d.verdict, .holds)
    }

    /// A rival higher by 0.1 point whose interval (-0.4 to +0.6) lies below the margin is tied.
    func testRivalWithinTheMarginIsTied() throws {
        let report = try experiment(tiedRival: true)
        let b = try ClaimCheck(method: "B", in: report.experiments[0])
        XCTAssertEqual(b.results[0].result?.tied.map(\.rival), [])
        let e = try XCTUnwrap(ClaimCheck(method: "E", in: report.experiments[0]).results[0].result)
        // E against A: A is lower, B significantly higher.
        XCTAssertEqual(e.standing, .notBest)
        let a = try XCTUnwrap(ClaimCheck(method: "A", in: report.experiments[0]).results[0].result)
        XCTAssertEqual(a.tied.map(\.rival), ["E"])
        let tie = try XCTUnwrap(a.comparisons.first { $0.rival == "E" })
        XCTAssertEqual(tie.difference.mean, 0.001, accuracy: 1e-9)
        XCTAssertTrue(tie.isTied(margin: 0.01))
        XCTAssertFalse(tie.isTied(margin: 0.005), "the interval's upper end is +0.6 points")
        XCTAssertFalse(tie.isSignificantlyHigher)
    }

    /// The summary table: one row per check, the strongest rival among those that decide the standing.
    func testTableNamesTheDecidingRivalAndTheVerdict() throws {
        let report = try experiment()
        let table = ClaimCheck.markdownTable(try report.claimChecks(["A", "C", "D"]))
        let rows = table.split(separator: "\n").map(String.init)
        XCTAssertEqual(rows.count, 5, table)
        XCTAssertTrue(rows[2].hasPrefix("| exp | A | 3 | 50.0 ± 5.0 | not best: B (+10.3 points, 95% CI +9.6 to +11.1, seeds 1,2,3) |"), rows[2])
        XCTAssertTrue(rows[2].hasSuffix("| **does not hold** |"), rows[2])
        XCTAssertTrue(rows[3].contains("| undecided: D (+20.0 points, seed 1) |"), rows[3])
        XCTAssertTrue(rows[3].hasSuffix("| **undecided** |"), rows[3])
        XCTAssertTrue(rows[4].hasPrefix("| exp | D | 1 | 95.0 | best: no rival higher | 105.0 | best: no rival higher | **holds** |"), rows[4])
    }

    func testUnknownMethodIsNamedWithTheRows() throws {
        XCTAssertThrowsError(try experiment().claimChecks(["E"])) { error in
            XCTAssertEqual(
                "\(error)", "--claim E: no row of exp with complete runs is E; rows: A, B, C, D")
        }
    }

    func testExpReportPrintsTheClaimAndChecksItsOptions() throws {
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
            ["report", "--markdown", "--tie-margin", "2", "\(root)/exp"],
            ["report", "--markdown", "--claim", "B", "--tie-margin", "0", "\(root)/exp"],
        ])
        let (ok, bad) = (results[0], results[1])
        for (result, message) in [
            (results[2], "--tie-margin applies to --claim"), (results[3], "--tie-margin 0.0: must be above 0"),
        ] {
            XCTAssertNotEqual(result.status, 0, result.summary)
            XCTAssertTrue(result.stderr.contains(message), result.summary)
        }
        XCTAssertEqual(ok.status, 0, ok.summary)
        XCTAssertTrue(ok.stdout.contains("- claim B, global (last 2): best"), ok.summary)
        XCTAssertTrue(ok.stdout.contains("- claim B: best or tied-best on both metrics: holds"), ok.summary)
        XCTAssertTrue(ok.stdout.contains("| experiment | method | seeds | global | strongest rival, global |"), ok.summary)
        XCTAssertNotEqual(bad.status, 0, bad.summary)
        XCTAssertFalse(bad.crashed, bad.summary)
        XCTAssertTrue(bad.stderr.contains("--claim applies to the --markdown table"), bad.summary)
    }
}
