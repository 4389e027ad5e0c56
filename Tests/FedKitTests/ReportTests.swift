import Foundation
import XCTest

@testable import FedKit

/// Run folders written by hand, as `exp run` (or a sweep on another machine) leaves them.
enum ReportFixture {
    static func temporaryDirectory(_ test: XCTestCase) throws -> String {
        let path =
            NSTemporaryDirectory() + "fedkit-report-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    static func config(
        experiment: String, method: String, seed: Int, rounds: Int = 3, lastRounds: Int = 2, lr: Double = 0.05,
        personal: String = "head", workers: Int = 2
    ) -> String {
        """
        name: "\(experiment)"
        seeds: [\(seed)]
        output: "/somewhere/seed\(seed)"
        dataset:
          name: "synthetic"
        partition:
          name: "dirichlet"
          clients: 3
          alpha: 0.5
        model:
          name: "mlp"
        federation:
          rounds: \(rounds)
          fraction: 0.5
          lr: \(lr)
          workers: \(workers)
        eval:
          local_test: "matched"
          last_rounds: \(lastRounds)
        methods:
          - name: "\(method)"
            label: "\(method)"
            personal: \(personal)

        """
    }

    /// clients.csv as the engine writes it: a never-trained client marked, its accuracy cells empty.
    static let clientsCSV = """
        client,train_samples,validation_samples,test_samples,classes,times_sampled,has_personal_state,evaluated_with,personalized_accuracy,validation_accuracy,global_test_accuracy
        0,10,1,5,2,3,true,personal,0.8,0.7,0.3
        1,12,1,6,2,1,true,personal,0.6,0.5,0.5
        2,8,1,4,1,0,false,never-trained,,,

        """

    /// clients.csv of runs written before never-trained clients were marked: every client has a number.
    static let oldClientsCSV = """
        client,train_samples,test_samples,classes,times_sampled,has_personal_state,personalized_accuracy,global_test_accuracy
        0,10,5,2,3,true,0.8,0.3
        1,12,6,2,1,true,0.6,0.5
        2,8,4,1,0,false,0.1,0.1

        """

    /// Writes one run folder. `accuracies[r]` is round r+1's global accuracy; the personalised
    /// figures are 0.1 above it over `r+1` scored clients (`participants` of them trained), with
    /// validation metrics nested. `oldFormat`: no participant count, every client scored.
    static func writeRun(
        _ dir: String, experiment: String, method: String, seed: Int, accuracies: [Double], rounds: Int = 3,
        lr: Double = 0.05, personal: String = "head", clients: String? = nil, partition: Bool = true,
        workers: Int = 2, oldFormat: Bool = false
    ) throws {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try config(
            experiment: experiment, method: method, seed: seed, rounds: rounds, lr: lr, personal: personal,
            workers: workers
        )
        .write(toFile: "\(dir)/config.yaml", atomically: true, encoding: .utf8)
        try """
        {"experiment": "\(experiment)", "method": "\(method)", "seed": \(seed), "git_commit": "abc123", "dataset_hash": "d1",
         "partition_hash": "p\(seed)", "fedkit_version": "0.1.0", "started_at": "2026-11-29T00:00:00Z", "host": "vm"}
        """.write(toFile: "\(dir)/manifest.json", atomically: true, encoding: .utf8)
        var lines = "", timings = ""
        for (i, a) in accuracies.enumerated() {
            let participants = oldFormat ? "" : "\"participants\":\(i + 1),"
            lines += """
                {"round":\(i + 1),"sampled_clients":[0,1],"train_loss":\(1.0 / Double(i + 1)),"global_accuracy":\(a),\(participants)\
                "personalized":{"weightedMean":\(a + 0.1),"worst":\(a - 0.1),"bottomDecile":\(a - 0.05),"clients":\(oldFormat ? 3 : i + 1)},\
                "validation":{"global_accuracy":\(a - 0.02)},"server":{"generator.loss":\(0.5 * Double(i + 1)),"flag":true,"note":"x"}}

                """
            timings +=
                "{\"round\":\(i + 1),\"local_s\":2,\"aggregate_s\":0,\"server_s\":1,\"eval_s\":1,\"total_s\":\(4 + seed)}\n"
        }
        try lines.write(toFile: "\(dir)/rounds.jsonl", atomically: true, encoding: .utf8)
        try timings.write(toFile: "\(dir)/timings.jsonl", atomically: true, encoding: .utf8)
        if accuracies.count == rounds {
            try (clients ?? (oldFormat ? oldClientsCSV : clientsCSV)).write(
                toFile: "\(dir)/clients.csv", atomically: true, encoding: .utf8)
        }
        if partition {
            try "client,size,c0,c1,c2\n0,10,5,5,0\n1,12,0,6,6\n2,8,8,0,0\n".write(
                toFile: "\(dir)/partition.csv", atomically: true, encoding: .utf8)
        }
    }

    /// exp/A seeds 1 and 2, exp/B seed 1 (no personal state: every client scored), exp/A seed 3
    /// stopped after round 1, and a sweep-like nested cell exp/lr-0.1/A/seed-1 with another
    /// learning rate, written in the format before participant counts.
    static func standard(_ root: String) throws {
        try writeRun("\(root)/exp/A/seed-1", experiment: "exp", method: "A", seed: 1, accuracies: [0.2, 0.4, 0.5])
        try writeRun(
            "\(root)/exp/A/seed-2", experiment: "exp", method: "A", seed: 2, accuracies: [0.3, 0.5, 0.7], workers: 1)
        try writeRun("\(root)/exp/A/seed-3", experiment: "exp", method: "A", seed: 3, accuracies: [0.1])
        try writeRun(
            "\(root)/exp/B/seed-1", experiment: "exp", method: "B", seed: 1, accuracies: [0.25, 0.5, 0.75],
            personal: "none",
            clients: clientsCSV.replacingOccurrences(of: "never-trained,,,", with: "global,0.1,0.2,0.1"),
            partition: false)
        try writeRun(
            "\(root)/exp/lr-0.1/A/seed-1", experiment: "exp", method: "A", seed: 1, accuracies: [0.3, 0.3, 0.3],
            lr: 0.1,
            oldFormat: true)
        try "name: exp\nmethods: [B, A]\n".write(toFile: "\(root)/exp/config.yaml", atomically: true, encoding: .utf8)
    }

    /// summary.csv as rows keyed by "method|variant|seed|metric".
    static func rows(_ csv: String) throws -> [String: [String: String]] {
        let table = try CSVTable(text: csv, path: "summary.csv")
        var out: [String: [String: String]] = [:]
        for row in table.rows {
            let cells = Dictionary(uniqueKeysWithValues: zip(table.header, row))
            out["\(cells["method"]!)|\(cells["variant"]!)|\(cells["seed"]!)|\(cells["metric"]!)"] = cells
        }
        return out
    }
}

final class ReportTests: XCTestCase {
    // MARK: - Statistics

    func testStudentTQuantilesMatchScipy() {
        // scipy.stats.t.ppf(0.975, df)
        let expected: [Int: Double] = [
            1: 12.706204736, 2: 4.30265273, 3: 3.182446305, 4: 2.776445105, 9: 2.262157163,
            10: 2.228138852, 29: 2.045229642, 30: 2.042272456, 31: 2.039513446, 40: 2.02107539,
            60: 2.000297822, 120: 1.979930405, 1000: 1.962339081,
        ]
        for (df, t) in expected {
            XCTAssertEqual(StudentT.quantile975(degreesOfFreedom: df), t, accuracy: 2e-6, "df \(df)")
        }
        // Decreasing towards the normal quantile.
        let values = (1...200).map { StudentT.quantile975(degreesOfFreedom: $0) }
        XCTAssertTrue(zip(values, values.dropFirst()).allSatisfy { $0 > $1 })
        XCTAssertGreaterThan(values.last!, 1.959963984)
    }

    func testSeedStatistics() throws {
        let s = SeedStatistics([1, 2, 3])
        XCTAssertEqual(s.mean, 2)
        XCTAssertEqual(s.std, 1, accuracy: 1e-12)  // sample std (n - 1)
        XCTAssertEqual(try XCTUnwrap(s.ciHalfWidth), 4.30265273 / 3.0.squareRoot(), accuracy: 1e-8)
        XCTAssertEqual(try XCTUnwrap(s.ci).lowerBound, 2 - 4.30265273 / 3.0.squareRoot(), accuracy: 1e-8)
        let one = SeedStatistics([0.7])
        XCTAssertNil(one.ci, "one seed has no interval")
        XCTAssertEqual(one.std, 0)
        XCTAssertEqual(Report.cells(one, percent: true), ["70.00", "n=1"])
        XCTAssertEqual(Report.cells(SeedStatistics([0.5, 0.7]), percent: true)[0], "60.00 ± 14.14")
    }

    func testAxisTicks() {
        XCTAssertEqual(SVG.ticks(1, 2, count: 10, integers: true), [1, 2])
        XCTAssertEqual(SVG.ticks(1, 100, count: 10, integers: true), [10, 20, 30, 40, 50, 60, 70, 80, 90, 100])
        XCTAssertEqual(SVG.ticks(0, 1).map { ($0 * 1e6).rounded() / 1e6 }, [0, 0.2, 0.4, 0.6, 0.8, 1])
        XCTAssertEqual(SVG.ticks(0.31, 0.33).count, 5)
        XCTAssertEqual(SVG.ticks(3, 3), [3])
    }

    // MARK: - Collect and summary.csv

    func testSummaryCSVIsTidyAndReadsEveryNumber() throws {
        let root = try ReportFixture.temporaryDirectory(self)
        try ReportFixture.standard(root)
        let report = try ReportCollector.collect(directories: [root])
        XCTAssertEqual(report.runs.count, 5)
        let experiment = try XCTUnwrap(report.experiments.first)
        XCTAssertEqual(report.experiments.map(\.name), ["exp"])
        // Method order from the experiment's config.yaml; A's two settings told apart by the learning rate;
        // the worker count does not split seeds.
        XCTAssertEqual(experiment.groups.map(\.label), ["B", "A [federation.lr=0.05]", "A [federation.lr=0.1]"])
        XCTAssertEqual(experiment.groups[1].runs.map(\.seed), [1, 2, 3])
        XCTAssertEqual(experiment.groups[1].complete.map(\.seed), [1, 2])

        let csv = report.summaryCSV(relativeTo: root)
        XCTAssertTrue(
            csv.hasPrefix(
                "experiment,method,variant,seed,metric,final,last_mean,last_n,mean,count,rounds,planned_rounds,complete,run\n"
            ))
        let rows = try ReportFixture.rows(csv)
        let global = try XCTUnwrap(rows["A|federation.lr=0.05|2|global_accuracy"])
        XCTAssertEqual(global["final"], "0.7")
        XCTAssertEqual(Double(global["last_mean"]!)!, 0.6, accuracy: 1e-12)  // last 2 of 0.3, 0.5, 0.7
        XCTAssertEqual(global["last_n"], "2")
        XCTAssertEqual(Double(global["mean"]!)!, 0.5, accuracy: 1e-12)
        XCTAssertEqual(global["count"], "3")
        XCTAssertEqual(global["complete"], "true")
        XCTAssertEqual(global["run"], "exp/A/seed-2")
        // Nested keys flattened with dots; metrics nobody declared (validation, participants, server) included;
        // booleans, strings and arrays left out.
        XCTAssertEqual(rows["A|federation.lr=0.05|1|validation.global_accuracy"]?["final"], "0.48")
        XCTAssertEqual(rows["A|federation.lr=0.05|1|participants"]?["final"], "3")
        XCTAssertEqual(rows["A|federation.lr=0.05|1|server.generator.loss"]?["final"], "1.5")
        XCTAssertNil(rows["A|federation.lr=0.05|1|server.flag"])
        XCTAssertNil(rows["A|federation.lr=0.05|1|sampled_clients"])
        XCTAssertNil(rows["A|federation.lr=0.05|1|round"])
        XCTAssertNil(rows["A|federation.lr=0.05|1|timing.total_s"], "no wall times in summary.csv")
        XCTAssertEqual(experiment.groups[1].runs[0].metrics["timing.total_s"]?.mean, 5)
        // The incomplete run is in the tidy file, marked.
        let stopped = try XCTUnwrap(rows["A|federation.lr=0.05|3|global_accuracy"])
        XCTAssertEqual(stopped["complete"], "false")
        XCTAssertEqual(stopped["rounds"], "1")
        XCTAssertEqual(stopped["planned_rounds"], "3")

        // Per-client accuracies never average in a client that has not trained (A keeps a personal head),
        // whether clients.csv leaves its cells empty or (runs written before) gives it a number ...
        for variant in ["federation.lr=0.05", "federation.lr=0.1"] {
            let personal = try XCTUnwrap(rows["A|\(variant)|1|clients.personalized_accuracy.mean"])
            XCTAssertEqual(Double(personal["final"]!)!, 0.7, accuracy: 1e-12, variant)
            XCTAssertEqual(personal["count"], "2", variant)
            XCTAssertEqual(rows["A|\(variant)|1|clients.never_trained"]?["final"], "1", variant)
        }
        XCTAssertEqual(rows["A|federation.lr=0.05|1|clients.validation_accuracy.min"]?["final"], "0.5")
        // ... while a method without personal state tests every client with the global model.
        let global3 = try XCTUnwrap(rows["B||1|clients.personalized_accuracy.mean"])
        XCTAssertEqual(Double(global3["final"]!)!, 0.5, accuracy: 1e-12)
        XCTAssertEqual(global3["count"], "3")

        // Statistics over the complete seeds only.
        let stats = try XCTUnwrap(experiment.groups[1].statistics("global_accuracy"))
        XCTAssertEqual(stats.values, [0.5, 0.7])
        XCTAssertEqual(
            try XCTUnwrap(experiment.groups[1].statistics("global_accuracy", last: true)).mean, 0.525, accuracy: 1e-12)
        XCTAssertEqual(
            experiment.groups[1].countsBeside("personalized.weightedMean"), "personalized.clients 3, participants 3")
        // The run written before participant counts is named.
        XCTAssertEqual(report.notes.filter { $0.contains("without a participant count") }.count, 1)
        XCTAssertTrue(
            report.notes.contains { $0.hasPrefix("\(root)/exp/lr-0.1/A/seed-1: records without a participant count") })
    }

    func testMarkdownAndTimingTables() throws {
        let root = try ReportFixture.temporaryDirectory(self)
        try ReportFixture.standard(root)
        let report = try ReportCollector.collect(directories: ["\(root)/exp"])
        let markdown = report.markdown()
        let lines = markdown.split(separator: "\n").map(String.init)
        XCTAssertEqual(
            lines[0],
            "| method | seeds | rounds | global | global, last 2 | personal (w) | personal, last 2 | worst client | "
                + "personal on global test (mean) | (best client) | clients scored | val global | val global, last 2 | s/round |"
        )
        // A at lr 0.05: seeds 1 and 2 (seed 3 is incomplete): global 50 and 70 -> 60.0 ± 14.1.
        let a = try XCTUnwrap(lines.first { $0.hasPrefix("| A [federation.lr=0.05] |") })
        XCTAssertTrue(a.hasPrefix("| A [federation.lr=0.05] | 1,2 | 3 | 60.0 ± 14.1 | 52.5 ± 10.6 | 70.0 ± 14.1 |"), a)
        XCTAssertTrue(a.hasSuffix("| 40.0 ± 0.0 | 50.0 ± 0.0 | 3.0 | 58.0 ± 14.1 | 50.5 ± 10.6 | 5.5 |"), a)
        // B ran one seed: a single draw has no spread, so its cells carry no "± 0.0".
        let b = try XCTUnwrap(lines.first { $0.hasPrefix("| B |") })
        XCTAssertFalse(b.contains("±"), b)
        let timing = try report.timingMarkdown(reference: "B")
        let aTiming = try XCTUnwrap(timing.split(separator: "\n").first { $0.hasPrefix("| A [federation.lr=0.05] |") })
        // Seed 1 only is shared with B: 5 s / 5 s.
        XCTAssertEqual(
            String(aTiming), "| A [federation.lr=0.05] | 1,2 | 5.5 | 2.0 | 1.0 | 1.0 | 18 % | 1.00x (1.00-1.00) |")
        XCTAssertThrowsError(try report.timingMarkdown(reference: "nope")) { error in
            XCTAssertTrue("\(error)".contains("no method labelled 'nope'"), "\(error)")
        }
        let text = report.text()
        XCTAssertTrue(text.contains("not in the table: A seed 3, incomplete (1 of 3 rounds)"), text)
    }

    // MARK: - report.html

    func testHTMLIsSelfContainedAndBalanced() throws {
        let root = try ReportFixture.temporaryDirectory(self)
        try ReportFixture.standard(root)
        let report = try ReportCollector.collect(directories: [root])
        try report.write(to: root)
        let html = try String(contentsOfFile: "\(root)/report.html", encoding: .utf8)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(root)/summary.csv"))
        // Nothing from the network: no URL at all, no scripts, no style sheets or fonts from elsewhere.
        XCTAssertFalse(html.contains("http"), "report.html names a URL")
        for forbidden in ["<script", "<link", "<img", "<iframe", "@import", "url("] {
            XCTAssertFalse(html.contains(forbidden), forbidden)
        }
        for attribute in try matches(#"(?:src|href)="([^"]*)""#, in: html) {
            XCTAssertTrue(attribute.hasPrefix("#"), "only links inside the page: \(attribute)")
        }
        try assertBalanced(html)
        // What the page must show.
        XCTAssertTrue(html.contains("<svg"), "plots")
        XCTAssertTrue(html.contains("<polygon"), "a band over seeds")
        // A's final global accuracy over seeds 1 and 2 (0.5, 0.7): t(0.975, 1) = 12.706.
        let half = 12.706204736 * 0.14142135623730953 / 2.0.squareRoot() * 100
        XCTAssertTrue(
            html.contains(String(format: "[%.2f, %.2f]", 60 - half, 60 + half)), "95% CI of A's final global accuracy")
        XCTAssertTrue(html.contains("n=1"), "one seed: no interval")
        XCTAssertTrue(html.contains("client 1, class 2: 6"), "partition heatmap with class counts")
        XCTAssertTrue(html.contains("1 never trained"), "never-trained clients left out and counted")
        XCTAssertTrue(html.contains("participants 3"), "participant counts shown")
        XCTAssertTrue(html.contains("incomplete (1 of 3 rounds)"))
        XCTAssertTrue(html.contains("abc123"), "manifests")
        XCTAssertTrue(html.contains("validation.global_accuracy"))
    }

    /// Every opened tag closed in order (void elements aside), text outside tags without raw `<`.
    func assertBalanced(_ html: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let void: Set<String> = ["meta", "br", "hr", "img", "input", "link", "!doctype"]
        var stack: [String] = []
        let tag = try NSRegularExpression(pattern: #"<(/?)([a-zA-Z!][a-zA-Z0-9]*)[^<>]*?(/?)>"#)
        let ns = html as NSString
        var last = 0
        for m in tag.matches(in: html, range: NSRange(location: 0, length: ns.length)) {
            let between = ns.substring(with: NSRange(location: last, length: m.range.location - last))
            XCTAssertFalse(
                between.contains("<") || between.contains(">"), "stray < or > in text: \(between.prefix(80))",
                file: file, line: line)
            last = m.range.location + m.range.length
            let closing = ns.substring(with: m.range(at: 1)) == "/"
            let name = ns.substring(with: m.range(at: 2)).lowercased()
            let selfClosing = ns.substring(with: m.range(at: 3)) == "/"
            if void.contains(name) || selfClosing { continue }
            if closing {
                guard stack.last == name else {
                    XCTFail("</\(name)> closes <\(stack.last ?? "nothing")>", file: file, line: line)
                    return
                }
                stack.removeLast()
            } else {
                stack.append(name)
            }
        }
        XCTAssertEqual(stack, [], "unclosed tags", file: file, line: line)
    }

    func matches(_ pattern: String, in text: String) throws -> [String] {
        let regex = try NSRegularExpression(pattern: pattern)
        let ns = text as NSString
        return regex.matches(in: text, range: NSRange(location: 0, length: ns.length)).map {
            ns.substring(with: $0.range(at: 1))
        }
    }

    func testHTMLEscapesWhatRunsWrote() throws {
        let root = try ReportFixture.temporaryDirectory(self)
        try ReportFixture.writeRun(
            "\(root)/x/<u>/seed-1", experiment: "x<i>&", method: "<u>", seed: 1, accuracies: [0.5, 0.6, 0.7])
        let html = try ReportCollector.collect(directories: [root]).html()
        XCTAssertFalse(html.contains("<u>") || html.contains("<i>"))
        XCTAssertTrue(html.contains("&lt;u&gt;") && html.contains("x&lt;i&gt;&amp;"))
        try assertBalanced(html)
    }

    // MARK: - Robustness and errors

    func testRunInProgressAndBadFiles() throws {
        let root = try ReportFixture.temporaryDirectory(self)
        let run = "\(root)/e/m/seed-1"
        try ReportFixture.writeRun(run, experiment: "e", method: "m", seed: 1, accuracies: [0.5, 0.6])
        // A record being written right now: a last line without its newline is skipped.
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: "\(run)/rounds.jsonl"))
        handle.seekToEndOfFile()
        handle.write(Data("{\"round\":3,\"global_acc".utf8))
        try handle.close()
        let collected = try ReportCollector.collect(directories: [root])
        XCTAssertEqual(collected.runs.first?.rounds.count, 2)
        XCTAssertEqual(collected.runs.first?.isComplete, false)

        // A broken line in the middle is an error naming the file and line.
        try "{\"round\":1}\nnot json\n{\"round\":3}\n".write(
            toFile: "\(run)/rounds.jsonl", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ReportCollector.collect(directories: [root])) { error in
            XCTAssertEqual("\(error)", "\(run)/rounds.jsonl:2: not a JSON object")
        }
        try "{\"round\":2}\n{\"round\":1}\n".write(toFile: "\(run)/rounds.jsonl", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ReportCollector.collect(directories: [root])) { error in
            XCTAssertEqual("\(error)", "\(run)/rounds.jsonl:2: round 1 after round 2")
        }
        try "{\"round\":1}\n".write(toFile: "\(run)/rounds.jsonl", atomically: true, encoding: .utf8)
        try "client,size,c0\n0,3\n".write(toFile: "\(run)/partition.csv", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try ReportCollector.collect(directories: [root])) { error in
            XCTAssertEqual("\(error)", "\(run)/partition.csv:2: 2 cells, the header has 3")
        }
        try FileManager.default.removeItem(atPath: "\(run)/partition.csv")
        try FileManager.default.removeItem(atPath: "\(run)/manifest.json")
        XCTAssertThrowsError(try ReportCollector.collect(directories: [root])) { error in
            XCTAssertTrue("\(error)".contains("rounds.jsonl without manifest.json"), "\(error)")
        }
        let empty = try ReportFixture.temporaryDirectory(self)
        XCTAssertThrowsError(try ReportCollector.collect(directories: [empty])) { error in
            XCTAssertTrue("\(error)".contains("no run folders found"), "\(error)")
        }
        XCTAssertThrowsError(try ReportCollector.collect(directories: ["\(empty)/missing"])) { error in
            XCTAssertEqual("\(error)", "\(empty)/missing: not a folder")
        }
    }

    func testTheSameSeedTwiceIsAnError() throws {
        let a = try ReportFixture.temporaryDirectory(self), b = try ReportFixture.temporaryDirectory(self)
        try ReportFixture.writeRun(
            "\(a)/e/m/seed-1", experiment: "e", method: "m", seed: 1, accuracies: [0.5, 0.6, 0.7])
        try ReportFixture.writeRun(
            "\(b)/e/m/seed-1", experiment: "e", method: "m", seed: 1, accuracies: [0.5, 0.6, 0.7])
        try ReportFixture.writeRun(
            "\(b)/e/m/seed-2", experiment: "e", method: "m", seed: 2, accuracies: [0.5, 0.6, 0.7])
        XCTAssertThrowsError(try ReportCollector.collect(directories: [a, b])) { error in
            XCTAssertTrue("\(error)".contains("both are m seed 1 of e with the same settings"), "\(error)")
        }
        // Seeds run into separate folders merge; the same folder given twice counts once.
        try FileManager.default.removeItem(atPath: "\(b)/e/m/seed-1")
        let merged = try ReportCollector.collect(directories: [a, b, "\(a)/e"])
        XCTAssertEqual(merged.experiments.first?.groups.map { $0.runs.map(\.seed) }, [[1, 2]])
    }

    /// Runs of one setting written by different builds group as seeds of one row: a key added
    /// since, at the value that reproduces the earlier behaviour, equals its absence, a renamed
    /// value equals its new name, and the evaluation batch size is ignored; any other value of
    /// those keys is a setting of its own.
    func testRunsOfEarlierBuildsGroupWithTodays() throws {
        let root = try ReportFixture.temporaryDirectory(self)
        func write(seed: Int, _ edit: (String) -> String) throws {
            let dir = "\(root)/e/m/seed-\(seed)"
            try ReportFixture.writeRun(dir, experiment: "e", method: "m", seed: seed, accuracies: [0.5, 0.6, 0.7])
            let config = try String(contentsOfFile: "\(dir)/config.yaml", encoding: .utf8)
            try edit(config).write(toFile: "\(dir)/config.yaml", atomically: true, encoding: .utf8)
        }
        func earlier(_ c: String) -> String {
            c.replacingOccurrences(of: "  name: \"synthetic\"\n", with: "  name: \"synthetic\"\n  normalize: true\n")
                .replacingOccurrences(of: "  last_rounds: 2\n", with: "  last_rounds: 2\n  batch_size: 1000\n")
        }
        func today(serverLR: String) -> (String) -> String {
            { c in
                c.replacingOccurrences(
                    of: "  name: \"synthetic\"\n", with: "  name: \"synthetic\"\n  normalize: \"standard\"\n"
                )
                .replacingOccurrences(of: "  last_rounds: 2\n", with: "  last_rounds: 2\n  batch_size: 250\n")
                .replacingOccurrences(
                    of: "  workers: 2\n", with: "  workers: 2\n  drop_last: false\n  batched_clients: \"off\"\n"
                )
                .replacingOccurrences(
                    of: "    personal: head\n",
                    with: "    personal: head\n    aggregator:\n      top_layers: 2\n      server_lr: \(serverLR)\n")
            }
        }
        try write(seed: 1, earlier)
        try write(seed: 2, today(serverLR: "1.0"))
        try write(seed: 3, today(serverLR: "0.5"))
        let groups = try XCTUnwrap(ReportCollector.collect(directories: [root]).experiments.first).groups
        XCTAssertEqual(groups.map { $0.runs.map(\.seed) }, [[3], [1, 2]])  // variants in name order
        XCTAssertEqual(groups.map(\.variant), ["aggregator.server_lr=0.5", "aggregator.server_lr=–"])
    }

    func testFailedRunIsListedFromItsOwnFolder() throws {
        let root = try ReportFixture.temporaryDirectory(self)
        try ReportFixture.writeRun("\(root)/e/m/seed-1", experiment: "e", method: "m", seed: 1, accuracies: [0.5])
        try "method m, seed 1, round 2: diverged\n".write(
            toFile: "\(root)/e/m/seed-1/failure.txt", atomically: true, encoding: .utf8)
        let report = try ReportCollector.collect(directories: [root])
        XCTAssertEqual(report.runs.first?.state, "failed: method m, seed 1, round 2: diverged")
        XCTAssertTrue(report.html().contains("failed: method m, seed 1, round 2: diverged"))
        XCTAssertEqual(report.notes.count, 1)
    }

    /// `exp run` ends with the collect step; a sweep task switches it off and writes no shared file.
    func testExperimentRunnerCollectStep() throws {
        let dir = try ReportFixture.temporaryDirectory(self)
        let yaml = EngineFixture.yaml(output: dir, methods: "[fedavg, local]", rounds: 2)
        let runner = ExperimentRunner(spec: try EngineFixture.spec(yaml), registry: EngineFixture.registry)
        runner.log = { _ in }
        runner.runFoldersOnly = true
        let quiet = try runner.run()
        XCTAssertNil(quiet.report)
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(dir)/engine/summary.csv"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(dir)/engine/report.html"))
        // The collect step afterwards gives what `exp run` gives by itself.
        let collected = try ReportCollector.collect(directories: ["\(dir)/engine"])
        let (outcome, _, _) = try EngineFixture.run(yaml)
        let report = try XCTUnwrap(outcome.report)
        XCTAssertEqual(collected.experiments.first?.groups.map(\.label), ["fedavg", "local"])
        XCTAssertEqual(report.experiments.first?.groups.map(\.label), ["fedavg", "local"])
        for metric in ["global_accuracy", "personalized.weightedMean"] {
            XCTAssertEqual(
                collected.experiments[0].groups[0].statistics(metric),
                report.experiments[0].groups[0].statistics(metric))
        }
        // Records read back equal the run's own.
        XCTAssertEqual(
            report.runs.first { $0.method == "fedavg" }?.metrics["global_accuracy"]?.final,
            outcome.results.first { $0.method == "fedavg" }?.records.last?.globalAccuracy)
        let partition = try CSVTable(
            text: String(contentsOfFile: "\(dir)/engine/fedavg/seed-1/partition.csv", encoding: .utf8),
            path: "partition.csv")
        XCTAssertEqual(partition.rows.count, 6, "one row per client")
        XCTAssertEqual(report.runs.first?.classCounts?.count, 6)
    }

    func testCommittedResultRunsAreReadable() throws {
        let runs = ExperimentCorpus.packageRoot.appendingPathComponent("experiments/results/runs").path
        guard FileManager.default.fileExists(atPath: runs) else { throw XCTSkip("\(runs) is absent") }
        let report = try ReportCollector.collect(directories: [runs])
        XCTAssertTrue(report.runs.allSatisfy(\.isComplete))
        // docs/results.md: FedAvg, 2 shards, 3 seeds, wave-1 protocol: global 59.1 ± 8.1. Later
        // runs of the same experiment under other settings live in other folders; collect this one.
        let wave1 = try ReportCollector.collect(directories: ["\(runs)/fmnist-shards2"])
        let shards = try XCTUnwrap(wave1.experiments.first { $0.name == "fmnist-shards2" })
        XCTAssertTrue(report.experiments.contains { $0.name == "fmnist-shards2" })
        let fedavg = try XCTUnwrap(shards.groups.first { $0.label == "fedavg" }?.statistics("global_accuracy"))
        XCTAssertEqual(fedavg.n, 3)
        XCTAssertEqual(String(format: "%.1f ± %.1f", 100 * fedavg.mean, 100 * fedavg.std), "59.1 ± 8.1")
        try assertBalanced(report.html())
    }
}

/// `exp report` through the built tool.
final class ReportCommandTests: XCTestCase {
    func testExpReport() throws {
        _ = try ExpTool.requireBinary()
        let root = try ReportFixture.temporaryDirectory(self)
        try ReportFixture.standard(root)
        let other = try ReportFixture.temporaryDirectory(self)
        try ReportFixture.writeRun(
            "\(other)/e/m/seed-1", experiment: "e", method: "m", seed: 1, accuracies: [0.5, 0.6, 0.7])
        try "seeds: [1\n".write(toFile: "\(other)/e/m/seed-1/config.yaml", atomically: true, encoding: .utf8)
        let empty = try ReportFixture.temporaryDirectory(self)
        let out = try ReportFixture.temporaryDirectory(self) + "/new/folder"
        let results = try ExpTool.runAll([
            ["report", root],
            ["report", "--markdown", "\(root)/exp"],
            ["report", "--timing", "B", root],
            ["report", root, "\(root)/exp"],
            ["report", root, "\(root)/exp", "--out", out],
            ["report", empty],
            ["report", other],
            ["report", "--timing", "nope", root],
        ])
        for r in results { XCTAssertFalse(r.crashed, r.summary) }
        let (written, markdown, timing, several, withOut, none, badConfig, badTiming) =
            (results[0], results[1], results[2], results[3], results[4], results[5], results[6], results[7])
        XCTAssertEqual(written.status, 0, written.summary)
        XCTAssertTrue(written.stdout.contains("A [federation.lr=0.05]"), written.summary)
        XCTAssertTrue(written.stderr.contains("incomplete (1 of 3 rounds)"), written.summary)
        for file in ["summary.csv", "report.html"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(root)/\(file)"), file)
        }

        XCTAssertEqual(markdown.status, 0, markdown.summary)
        XCTAssertTrue(markdown.stdout.hasPrefix("| method | seeds | rounds | global |"), markdown.summary)
        XCTAssertFalse(
            FileManager.default.fileExists(atPath: "\(root)/exp/summary.csv"), "--markdown writes nothing without --out"
        )
        XCTAssertEqual(timing.status, 0, timing.summary)
        XCTAssertTrue(timing.stdout.contains("| vs B |"), timing.summary)

        XCTAssertEqual(several.status, 2, several.summary)
        XCTAssertTrue(several.stderr.contains("--out"), several.summary)
        XCTAssertEqual(withOut.status, 0, withOut.summary)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(out)/report.html"))

        XCTAssertEqual(none.status, 1, none.summary)
        XCTAssertTrue(none.stderr.contains("no run folders found"), none.summary)
        XCTAssertEqual(badConfig.status, 1, badConfig.summary)
        XCTAssertTrue(
            badConfig.stderr.contains("\(other)/e/m/seed-1/config.yaml:"), "file:line:col: \(badConfig.summary)")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(other)/summary.csv"), "nothing half-written")
        XCTAssertEqual(badTiming.status, 1, badTiming.summary)
        XCTAssertTrue(badTiming.stderr.contains("no method labelled 'nope'"), badTiming.summary)
    }
}
