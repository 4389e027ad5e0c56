import Foundation
import XCTest

@testable import FedKit

/// One writer per run folder: a second process given the same run stops before it touches it.
final class RunFolderLockTests: XCTestCase {
    func testSecondLockIsRefusedWithTheHolderAndFreedWhenTheFirstGoes() throws {
        let root = try EngineFixture.temporaryDirectory(self)
        let run = "\(root)/exp/fedavg/seed-1"
        var first: RunFolderLock? = try RunFolderLock(runDirectory: run)
        XCTAssertEqual(first?.held, true)
        XCTAssertEqual(first?.path, "\(root)/exp/fedavg/.seed-1.lock")
        XCTAssertFalse(FileManager.default.fileExists(atPath: run), "the lock creates no run folder")
        // The holder's status.json names it.
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        try """
        {"state": "running", "round": 7, "rounds": 50, "host": "node12", "pid": 4242, "slurm_job": "991_3",
         "started_at": "2026-11-30T08:00:00Z", "updated_at": "2026-11-30T08:10:00Z"}
        """.write(toFile: "\(run)/status.json", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try RunFolderLock(runDirectory: run)) { error in
            XCTAssertEqual(
                "\(error)",
                "run folder \(run): another process is running it (pid 4242 on node12, Slurm job 991_3, round 7 of 50, "
                    + "status.json updated 2026-11-30T08:10:00Z); not starting a second writer (wait for it, or stop "
                    + "it and run again with --resume)")
        }
        // Another seed of the same method is another lock.
        XCTAssertEqual(try RunFolderLock(runDirectory: "\(root)/exp/fedavg/seed-2").held, true)
        first = nil
        XCTAssertEqual(try RunFolderLock(runDirectory: run).held, true)
    }

    /// `exp run` (with or without --resume) on a run another process holds: the run fails, naming
    /// the folder, and its files are left exactly as they were; the experiment's other runs go on.
    func testRunnerLeavesAHeldRunFolderUntouched() throws {
        let root = try EngineFixture.temporaryDirectory(self)
        let yaml = EngineFixture.yaml(output: root, methods: "[fedavg, local]", rounds: 2)
        XCTAssertTrue(try EngineFixture.run(yaml).outcome.failures.isEmpty)
        let held = "\(root)/engine/fedavg/seed-1"
        func files() throws -> [String: Data] {
            var out: [String: Data] = [:]
            for name in try FileManager.default.contentsOfDirectory(atPath: held) where !name.hasPrefix("checkpoint") {
                out[name] = FileManager.default.contents(atPath: "\(held)/\(name)")
            }
            return out
        }
        let before = try files()
        XCTAssertNotNil(before["rounds.jsonl"])
        var lock: RunFolderLock? = try RunFolderLock(runDirectory: held)
        XCTAssertEqual(lock?.held, true)
        for resume in [false, true] {
            let (outcome, _, _) = try EngineFixture.run(yaml, resume: resume)
            XCTAssertEqual(outcome.failures.map(\.method), ["fedavg"], "resume \(resume)")
            XCTAssertTrue(
                outcome.failures[0].message.contains("run folder \(held): another process is running it"),
                outcome.failures[0].message)
            XCTAssertEqual(outcome.results.map(\.method), ["local"])
            XCTAssertEqual(try files(), before, "resume \(resume)")
        }
        lock = nil
        XCTAssertTrue(try EngineFixture.run(yaml).outcome.failures.isEmpty, "released: the run goes ahead")
    }
}
