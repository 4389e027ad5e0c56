import Foundation
import XCTest

@testable import FedKit

/// eval.personal_global_test: personal models tested on the whole test set after the last round.
final class EnginePersonalGlobalTestTests: XCTestCase {
    func testPersonalModelsAreTestedOnTheWholeTestSet() throws {
        let dir = try EngineFixture.temporaryDirectory(self)
        let yaml = EngineFixture.yaml(output: dir, methods: "[local, fedavg]", rounds: 2, personalGlobalTest: true)
        let (outcome, runner, _) = try EngineFixture.run(yaml)
        XCTAssertTrue(outcome.failures.isEmpty, "\(outcome.failures)")

        let local = try XCTUnwrap(outcome.results.first { $0.method == "local" })
        let mean = try XCTUnwrap(local.summary["personal_on_global_test_mean"]).final
        let best = try XCTUnwrap(local.summary["personal_on_global_test_max"]).final
        XCTAssertTrue((0...1).contains(mean))
        XCTAssertGreaterThanOrEqual(best, mean)
        let rows = try EngineFixture.lines("\(runner.directory)/local/seed-1/clients.csv").dropFirst()
        // The last column; a never-trained client (evaluated_with never-trained) has no personal model to test.
        var values: [Double] = []
        for row in rows {
            let cells = row.split(separator: ",", omittingEmptySubsequences: false)
            if cells[7] == "never-trained" {
                XCTAssertEqual(cells.last, "", row)
            } else {
                values.append(try XCTUnwrap(Double(cells.last!), row))
            }
        }
        XCTAssertFalse(values.isEmpty)
        XCTAssertEqual(values.reduce(0, +) / Double(values.count), mean, accuracy: 1e-12)

        // A method without personal state has nothing extra to test.
        let fedavg = try XCTUnwrap(outcome.results.first { $0.method == "fedavg" })
        XCTAssertNil(fedavg.summary["personal_on_global_test_mean"])
    }
}
