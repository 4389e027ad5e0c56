import FedKit
import Foundation
import XCTest

/// The real `exp` killed with SIGKILL at deterministic points (the FEDKIT_TEST_* hooks of
/// docs/sweeps.md), then resumed: the result must be byte-identical to an uninterrupted run.
/// And sweeps through the CLI: an interrupted sweep re-run redoes only what is unfinished.
final class ResumeCLITests: XCTestCase {
    var dir = ""

    override func setUpWithError() throws {
        _ = try ExpTool.requireBinary()
        dir = try EngineFixture.temporaryDirectory(self)
    }

    func write(_ yaml: String, _ name: String = "kill.yaml") throws -> String {
        let path = "\(dir)/\(name)"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func exp(_ arguments: [String], env: [String] = []) throws -> ExpTool.Result {
        try ExpTool.run(arguments, launcher: env.isEmpty ? [] : ["/usr/bin/env"] + env)
    }

    func bytes(_ path: String) -> Data? { FileManager.default.contents(atPath: path) }

    /// Every result file of two run folders, byte for byte (timings.jsonl, manifest.json and
    /// status.json hold wall times and are left out; config.yaml names the output folder).
    func assertSameRun(_ a: String, _ b: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let fm = FileManager.default
        // config.yaml differs only in `output`, which is not part of the run's fingerprint.
        var names = ["rounds.jsonl", "clients.csv", "checkpoint/global.safetensors"]
        names += ((try? fm.contentsOfDirectory(atPath: "\(a)/checkpoint/personal")) ?? []).map {
            "checkpoint/personal/\($0)"
        }
        for name in names {
            XCTAssertNotNil(bytes("\(a)/\(name)"), "\(a)/\(name) missing", file: file, line: line)
            XCTAssertEqual(bytes("\(a)/\(name)"), bytes("\(b)/\(name)"), "\(name) differs", file: file, line: line)
        }
        let state = { (p: String) in
            try JSONSerialization.jsonObject(with: self.bytes("\(p)/checkpoint/state.json") ?? Data()) as? [String: Any]
        }
        XCTAssertEqual(try state(a)?["round"] as? Int, try state(b)?["round"] as? Int, file: file, line: line)
    }

    func killYAML(every: Int) -> String {
        EngineFixture.yaml(
            name: "kill", output: dir, methods: "[ditto, fedrep]", rounds: 6,
            extraFederation: ", checkpoint_every: \(every)")
    }

    /// Ditto of killYAML(every:) run uninterrupted into `full`, then into `killed` with the
    /// `kill` hook set (it must crash): the experiment file and the killed run's folder.
    func fullThenKilledDitto(every: Int, kill: String) throws -> (file: String, run: String) {
        let file = try write(killYAML(every: every))
        let full = try exp(["run", file, "--out", "\(dir)/full", "--only", "ditto"])
        XCTAssertEqual(full.status, 0, full.summary)
        let killed = try exp(["run", file, "--out", "\(dir)/killed", "--only", "ditto"], env: [kill])
        XCTAssertTrue(killed.crashed, killed.summary)
        return (file, "\(dir)/killed/kill/ditto/seed-1")
    }

    /// kill -9 during round 3 of 6 (recorded, not yet checkpointed; the last checkpoint is round 2),
    /// then --resume: rounds.jsonl, clients.csv and the final weights equal an uninterrupted run's.
    func testKilledInRoundThreeThenResumedIsByteIdentical() throws {
        let file = try write(killYAML(every: 2))
        let full = try exp(["run", file, "--out", "\(dir)/full"])
        XCTAssertEqual(full.status, 0, full.summary)
        let killed = try exp(["run", file, "--out", "\(dir)/killed"], env: ["FEDKIT_TEST_KILL_IN_ROUND=3"])
        XCTAssertTrue(killed.crashed, killed.summary)
        let run = "\(dir)/killed/kill/ditto/seed-1"
        XCTAssertEqual(try EngineFixture.lines("\(run)/rounds.jsonl").count, 3, "round 3 recorded before the kill")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(run)/clients.csv"))
        let resumed = try exp(["run", file, "--out", "\(dir)/killed", "--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.summary)
        XCTAssertTrue(resumed.stderr.contains("run ditto seed 1: resuming after round 2 of 6"), resumed.stderr)
        for method in ["ditto", "fedrep"] {
            try assertSameRun("\(dir)/full/kill/\(method)/seed-1", "\(dir)/killed/kill/\(method)/seed-1")
        }
        XCTAssertEqual(bytes("\(dir)/full/kill/summary.csv"), bytes("\(dir)/killed/kill/summary.csv"))
    }

    /// kill -9 in the middle of writing round 4's checkpoint: the round-3 checkpoint is intact and
    /// the resumed run is byte-identical.
    func testKilledDuringCheckpointWriteThenResumedIsByteIdentical() throws {
        let (file, run) = try fullThenKilledDitto(every: 1, kill: "FEDKIT_TEST_KILL_DURING_CHECKPOINT=4")
        XCTAssertTrue(
            FileManager.default.fileExists(atPath: "\(run)/checkpoint.partial/global.safetensors"), "killed mid-write")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "\(run)/checkpoint.partial/state.json"))
        let resumed = try exp(["run", file, "--out", "\(dir)/killed", "--only", "ditto", "--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.summary)
        XCTAssertTrue(resumed.stderr.contains("resuming after round 3 of 6"), resumed.stderr)
        try assertSameRun("\(dir)/full/kill/ditto/seed-1", run)
    }

    /// A run folder written by an earlier FedKit: its config.yaml lacks a key added since
    /// (`federation.batched_clients`, whose default `off` is the earlier behaviour) and its
    /// checkpoint carries that config's fingerprint. --resume continues it (byte-identical to an
    /// uninterrupted run), keeps its config.yaml and records the resumption in manifest.json; once
    /// complete it is kept. A folder whose config.yaml differs in a setting that matters starts
    /// again from round 1.
    func testRunOfAnEarlierBuildIsContinuedAndKept() throws {
        let (file, run) = try fullThenKilledDitto(every: 2, kill: "FEDKIT_TEST_KILL_IN_ROUND=3")

        // Make it an earlier build's folder: no batched_clients key, the checkpoint's fingerprint of that config.
        let configPath = "\(run)/config.yaml"
        let current = try String(contentsOfFile: configPath, encoding: .utf8)
        let earlier = current.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.contains("batched_clients:") }.joined(separator: "\n")
        XCTAssertNotEqual(earlier, current, "the fixture's config.yaml has batched_clients")
        try earlier.write(toFile: configPath, atomically: true, encoding: .utf8)
        let statePath = "\(run)/checkpoint/state.json"
        var state = try XCTUnwrap(
            JSONSerialization.jsonObject(with: XCTUnwrap(bytes(statePath))) as? [String: Any])
        state["config"] = try XCTUnwrap(RunFingerprint.of(text: earlier))
        try JSONSerialization.data(withJSONObject: state).write(to: URL(fileURLWithPath: statePath))

        let resumed = try exp(["run", file, "--out", "\(dir)/killed", "--only", "ditto", "--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.summary)
        XCTAssertTrue(resumed.stderr.contains("made by an earlier FedKit"), resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("resuming after round 2 of 6"), resumed.stderr)
        try assertSameRun("\(dir)/full/kill/ditto/seed-1", run)
        XCTAssertEqual(try String(contentsOfFile: configPath, encoding: .utf8), earlier, "config.yaml is kept")
        let manifest = try JSONDecoder().decode(RunManifest.self, from: XCTUnwrap(bytes("\(run)/manifest.json")))
        XCTAssertEqual(manifest.resumed?.map(\.afterRound), [2])
        XCTAssertEqual(manifest.resumed?.first?.gitCommit, manifest.gitCommit, "the same binary resumed it")

        let again = try exp(["run", file, "--out", "\(dir)/killed", "--only", "ditto", "--resume"])
        XCTAssertEqual(again.status, 0, again.summary)
        XCTAssertTrue(again.stderr.contains("complete in"), again.stderr)
        XCTAssertEqual(bytes("\(run)/manifest.json"), try JSONEncoder.sortedPretty(manifest), "a kept run is not resumed")

        // batched_clients: auto in config.yaml is not the earlier behaviour: another setting, started again.
        let killedAgain = try exp(
            ["run", file, "--out", "\(dir)/other", "--only", "ditto"], env: ["FEDKIT_TEST_KILL_IN_ROUND=3"])
        XCTAssertTrue(killedAgain.crashed, killedAgain.summary)
        let otherConfig = "\(dir)/other/kill/ditto/seed-1/config.yaml"
        let changed = try String(contentsOfFile: otherConfig, encoding: .utf8)
            .replacingOccurrences(of: "batched_clients: \"off\"", with: "batched_clients: \"auto\"")
        try changed.write(toFile: otherConfig, atomically: true, encoding: .utf8)
        let restarted = try exp(["run", file, "--out", "\(dir)/other", "--only", "ditto", "--resume"])
        XCTAssertEqual(restarted.status, 0, restarted.summary)
        XCTAssertTrue(restarted.stderr.contains("made with another configuration"), restarted.stderr)
        try assertSameRun("\(dir)/full/kill/ditto/seed-1", "\(dir)/other/kill/ditto/seed-1")
    }

    /// A sweep whose every task was killed in round 3, run again, continues each from its
    /// checkpoint; the summary equals an uninterrupted sweep's. Run again after a task's folder
    /// is removed, it redoes only that task.
    func testInterruptedSweepRerunRedoesOnlyWhatIsUnfinished() throws {
        let file = ExperimentCorpus.packageRoot.appendingPathComponent("experiments/sweep-synthetic.yaml").path
        let set = ["--set", "federation.rounds=4", "--grid", "federation.lr=0.05"]  // 2 tasks: fedavg, fedrep
        let clean = try exp(["sweep", file, "--out", "\(dir)/clean", "--jobs", "2"] + set)
        XCTAssertEqual(clean.status, 0, clean.summary)
        let killed = try exp(
            ["sweep", file, "--out", "\(dir)/s", "--jobs", "2"] + set, env: ["FEDKIT_TEST_KILL_IN_ROUND=3"])
        XCTAssertEqual(killed.status, 3, killed.summary)
        XCTAssertTrue(killed.stderr.contains("2 task(s) failed"), killed.stderr)
        let status = try exp(["sweep", file, "--out", "\(dir)/s", "--status"] + set)
        XCTAssertTrue(
            status.stdout.contains("2 task(s): 0 done, 0 running, 0 failed, 2 interrupted, 0 pending"), status.stdout)
        XCTAssertTrue(status.stdout.contains("resumes from checkpoint"), status.stdout)

        let rerun = try exp(["sweep", file, "--out", "\(dir)/s", "--jobs", "2"] + set)
        XCTAssertEqual(rerun.status, 0, rerun.summary)
        let logs = "\(dir)/s/sweep-synthetic/logs"
        for task in 0..<2 {
            let log = String(decoding: bytes("\(logs)/task-\(task).log") ?? Data(), as: UTF8.self)
            XCTAssertTrue(log.contains("resuming after round 2 of 4"), "task \(task): \(log)")
        }
        XCTAssertEqual(bytes("\(dir)/clean/sweep-synthetic/summary.csv"), bytes("\(dir)/s/sweep-synthetic/summary.csv"))
        XCTAssertEqual(bytes("\(dir)/clean/sweep-synthetic/tasks.jsonl"), bytes("\(dir)/s/sweep-synthetic/tasks.jsonl"))

        let kept = "\(dir)/s/sweep-synthetic/lr=0.05/fedavg/seed-1/manifest.json"
        let manifest = bytes(kept)
        try FileManager.default.removeItem(atPath: "\(dir)/s/sweep-synthetic/lr=0.05/fedrep/seed-1")
        let third = try exp(["sweep", file, "--out", "\(dir)/s", "--jobs", "2"] + set)
        XCTAssertEqual(third.status, 0, third.summary)
        XCTAssertTrue(third.stderr.contains("1 task(s) already done, kept"), third.stderr)
        XCTAssertEqual(bytes(kept), manifest, "a done task is not run again")
        XCTAssertEqual(bytes("\(dir)/clean/sweep-synthetic/summary.csv"), bytes("\(dir)/s/sweep-synthetic/summary.csv"))
    }

    /// `--backend slurm --dry-run` plans and writes the scripts without submitting; re-planning the
    /// same file gives the same task list; `exp run --task` checks the list it runs from.
    func testSlurmDryRunAndTaskChecks() throws {
        let file = ExperimentCorpus.packageRoot.appendingPathComponent("experiments/sweep-synthetic.yaml").path
        let out = "\(dir)/runs"
        let dry = try exp([
            "sweep", file, "--out", out, "--backend", "slurm", "--dry-run", "--mem", "2G", "--sbatch=--qos=test",
        ])
        XCTAssertEqual(dry.status, 0, dry.summary)
        let folder = "\(out)/sweep-synthetic"
        let script = String(decoding: bytes("\(folder)/sweep.sbatch") ?? Data(), as: UTF8.self)
        for line in [
            "#SBATCH --array=0-3", "#SBATCH --cpus-per-task=1", "#SBATCH --mem=2G", "#SBATCH --time=00:10:00",
            "#SBATCH --requeue", "#SBATCH --qos=test",
            "--task \"$SLURM_ARRAY_TASK_ID\" --set federation.workers=1 --set federation.threads_per_worker=1",
        ] {
            XCTAssertTrue(script.contains(line), "missing \(line) in\n\(script)")
        }
        XCTAssertTrue(
            String(decoding: bytes("\(folder)/collect.sbatch") ?? Data(), as: UTF8.self).contains("--collect"))
        let tasks = bytes("\(folder)/tasks.jsonl")
        XCTAssertEqual(String(decoding: tasks ?? Data(), as: UTF8.self).split(separator: "\n").count, 4)
        XCTAssertEqual(try exp(["sweep", file, "--out", out, "--backend", "slurm", "--dry-run"]).status, 0)
        XCTAssertEqual(bytes("\(folder)/tasks.jsonl"), tasks, "re-planned: the same task list")

        let changed = try exp([
            "sweep", file, "--out", out, "--backend", "slurm", "--dry-run", "--grid", "federation.lr=0.2",
        ])
        XCTAssertEqual(changed.status, 3, changed.summary)
        XCTAssertTrue(changed.stderr.contains("--replan"), changed.stderr)
        let stale = try exp(["run", file, "--out", out, "--task", "0", "--grid", "federation.lr=0.2"])
        XCTAssertNotEqual(stale.status, 0)
        XCTAssertTrue(stale.stderr.contains("planned from other settings"), stale.stderr)
        let range = try exp(["run", file, "--out", out, "--task", "4"])
        XCTAssertEqual(range.status, 2, range.summary)
        XCTAssertTrue(range.stderr.contains("the sweep has tasks 0 to 3"), range.stderr)
        let plain = try exp(["run", file, "--out", out])
        XCTAssertEqual(plain.status, 2, plain.summary)
        XCTAssertTrue(plain.stderr.contains("describes a sweep (4 tasks): run it with `exp sweep"), plain.stderr)

        let task = try exp(["run", file, "--out", out, "--task", "3"])
        XCTAssertEqual(task.status, 0, task.summary)
        XCTAssertTrue(FileManager.default.fileExists(atPath: "\(folder)/lr=0.1/fedrep/seed-1/clients.csv"))
        XCTAssertFalse(
            FileManager.default.fileExists(atPath: "\(folder)/summary.csv"), "a task writes its run folder only")
        let status = try exp(["sweep", file, "--out", out, "--status"])
        XCTAssertTrue(
            status.stdout.contains("4 task(s): 1 done, 0 running, 0 failed, 0 interrupted, 3 pending"), status.stdout)
    }
}

extension JSONEncoder {
    /// A value as manifest.json is written: pretty-printed, sorted keys, a final newline.
    static func sortedPretty<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try encoder.encode(value) + Data("\n".utf8)
    }
}
