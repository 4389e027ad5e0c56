import Foundation
import XCTest

@testable import FedKit

/// manifest.json's `global_model`: whether the server's model is a whole model of the method, and
/// what the report does with a global accuracy that is not.
final class GlobalModelWholeTests: XCTestCase {
    /// Personal entries that never reach the server make the global model partial: FedPer's heads
    /// (scope body), LG-FedAvg's lower layers. Heads that are kept *and* averaged (scope all, as
    /// FedBKD's) and FedBABU's shared fixed head leave it whole.
    func testEngineRecordsWhetherTheGlobalModelIsWhole() throws {
        let root = try EngineFixture.temporaryDirectory(self)
        let methods = """
            [fedavg, fedper, fedbabu, { name: lg-fedavg, aggregator: { top_layers: 1 } },
             { name: fedper, label: fedper-all, aggregator: { scope: all } }]
            """
        let (outcome, _, _) = try EngineFixture.run(EngineFixture.yaml(output: root, methods: methods, rounds: 1))
        XCTAssertTrue(outcome.failures.isEmpty, "\(outcome.failures)")
        var recorded: [String: String] = [:]
        for method in ["fedavg", "fedper", "fedbabu", "lg-fedavg", "fedper-all"] {
            let data = try XCTUnwrap(FileManager.default.contents(atPath: "\(root)/engine/\(method)/seed-1/manifest.json"))
            recorded[method] = try JSONDecoder().decode(RunManifest.self, from: data).globalModel
        }
        XCTAssertEqual(
            recorded,
            ["fedavg": "whole", "fedper": "partial", "fedbabu": "whole", "lg-fedavg": "partial", "fedper-all": "whole"])
        let report = try ReportCollector.collect(directories: ["\(root)/engine"])
        let partial = report.experiments[0].groups.filter(\.globalModelIsPartial).map(\.label)
        XCTAssertEqual(Set(partial), ["fedper", "lg-fedavg"])
    }

    /// A row whose global model is partial: its global cells are marked † with a footnote, and
    /// `--claim` leaves it out of the global comparison (and gives it no global figure of its own).
    func testReportMarksAndClaimLeavesOutAPartialGlobalModel() throws {
        let root = try ReportFixture.temporaryDirectory(self)
        for (method, shift, partial) in [("A", 0.0, false), ("P", 0.3, true)] {
            for seed in 1...2 {
                let dir = "\(root)/exp/\(method)/seed-\(seed)"
                try ReportFixture.writeRun(
                    dir, experiment: "exp", method: method, seed: seed,
                    accuracies: [0.2, 0.4, 0.5 + 0.01 * Double(seed)].map { $0 + shift })
                let path = "\(dir)/manifest.json"
                let manifest = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(
                    of: "\"host\": \"vm\"}", with: "\"host\": \"vm\", \"global_model\": \"\(partial ? "partial" : "whole")\"}")
                XCTAssertTrue(manifest.contains("global_model"))
                try manifest.write(toFile: path, atomically: true, encoding: .utf8)
            }
        }
        let report = try ReportCollector.collect(directories: ["\(root)/exp"])
        let table = report.markdown()
        let p = try XCTUnwrap(table.split(separator: "\n").first { $0.hasPrefix("| P |") })
        XCTAssertTrue(p.contains("| 81.5 ± 0.7 † | 75.8 ± 0.4 † | 91.5 ± 0.7 | 85.8 ± 0.4 |"), String(p))
        XCTAssertTrue(p.contains("| 79.5 ± 0.7 † | 73.8 ± 0.4 † |"), "validation global too: \(p)")
        XCTAssertTrue(table.contains("† not the method's model"), table)
        XCTAssertFalse(try XCTUnwrap(table.split(separator: "\n").first { $0.hasPrefix("| A |") }).contains("†"))

        let a = try ClaimCheck(method: "A", in: report.experiments[0])
        XCTAssertEqual(a.results[0].result?.standing, .best)
        XCTAssertEqual(a.results[0].result?.leftOut, ["P"])
        XCTAssertEqual(a.results[1].result?.standing, .notBest, "P's personalised figure still counts")
        XCTAssertTrue(a.lines[0].contains("left out (global model not the method's, †): P"), a.lines[0])
        let pCheck = try ClaimCheck(method: "P", in: report.experiments[0])
        XCTAssertNil(pCheck.results[0].result)
        XCTAssertEqual(pCheck.verdict, .doesNotHold)
    }
}
