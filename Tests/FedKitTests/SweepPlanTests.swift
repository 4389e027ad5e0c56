import BuiltinPlugins
import Config
import Foundation
import XCTest

@testable import FedKit

/// Planning sweeps: grids, zip groups, method and seed axes, folder names, errors, the task file,
/// and the Slurm script.
final class SweepPlanTests: XCTestCase {
    let registry = try! BuiltinPlugins.registry()

    func file(
        _ dir: String, sweep: String, methods: String = "[fedavg, fedrep]", seeds: String = "[1, 2]"
    ) throws -> String {
        let text = EngineFixture.yaml(name: "grid", output: dir, methods: methods, seeds: seeds) + "\n" + sweep + "\n"
        let path = "\(dir)/grid.yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testGridTimesZipTimesMethodsAndSeeds() throws {
        let dir = try EngineFixture.temporaryDirectory(self)
        let path = try file(
            dir,
            sweep: """
                sweep:
                  grid:
                    federation.lr: [0.05, 0.1]
                  zip:
                    - { federation.local_epochs: [1, 2], federation.batch_size: [8, 16] }
                """)
        let plan = try SweepPlanner(registry: registry).plan(file: path)
        XCTAssertEqual(plan.tasks.count, 2 * 2 * 2 * 2)
        XCTAssertEqual(plan.tasks.map(\.task), Array(0..<16))
        XCTAssertEqual(plan.tasks[0].run, "lr=0.05,local_epochs=1,batch_size=8/fedavg/seed-1")
        XCTAssertEqual(plan.tasks[1].run, "lr=0.05,local_epochs=1,batch_size=8/fedavg/seed-2")
        XCTAssertEqual(plan.tasks[2].run, "lr=0.05,local_epochs=1,batch_size=8/fedrep/seed-1")
        XCTAssertEqual(plan.tasks[4].run, "lr=0.05,local_epochs=2,batch_size=16/fedavg/seed-1")
        XCTAssertEqual(plan.tasks[15].run, "lr=0.1,local_epochs=2,batch_size=16/fedrep/seed-2")
        XCTAssertEqual(
            plan.tasks[15].set, ["federation.lr=0.1", "federation.local_epochs=2", "federation.batch_size=16"])
        XCTAssertEqual(plan.specs[15].federation[Sections.Federation.learningRate], 0.1)
        XCTAssertEqual(plan.specs[15].federation[Sections.Federation.batchSize], 16)
        XCTAssertEqual(plan.specs[15].methods.map(\.label), ["fedrep"])
        XCTAssertEqual(plan.specs[15].seeds, [2])
        XCTAssertEqual(Set(plan.tasks.map(\.config)).count, 16, "every run has its own configuration")
        // Planned twice: the same list, byte for byte.
        XCTAssertEqual(try SweepPlanner(registry: registry).plan(file: path).taskFileText, plan.taskFileText)
    }

    func testCommandLineGridMethodAndSeedAxes() throws {
        let dir = try EngineFixture.temporaryDirectory(self)
        let path = try file(dir, sweep: "sweep: { grid: { federation.lr: [0.05, 0.1] } }")
        let plan = try SweepPlanner(registry: registry).plan(
            file: path, overrides: ["federation.rounds=2"],
            grid: ["federation.lr=0.2", "method=fedrep", "seed=7,8", "methods[0].trainer.name=sgd,prox"])
        XCTAssertEqual(
            plan.tasks.map(\.run),
            [
                "lr=0.2,name=sgd/fedrep/seed-7", "lr=0.2,name=prox/fedrep/seed-7",
                "lr=0.2,name=sgd/fedrep/seed-8", "lr=0.2,name=prox/fedrep/seed-8",
            ], "axes in order, the first slowest; --grid replaces the file's federation.lr")
        XCTAssertEqual(plan.specs[0].federation[Sections.Federation.rounds], 2)
        XCTAssertEqual(
            SweepGrid.splitTopLevel("[1, 2],{a: 1, b: 2},\"x,y\",3"), ["[1, 2]", "{a: 1, b: 2}", "\"x,y\"", "3"])
        // Only methods and seeds swept: the run folders of a plain run.
        let plain = try SweepPlanner(registry: registry).plan(
            file: try file(dir, sweep: "sweep: { grid: { seed: [3, 4] } }"))
        XCTAssertEqual(plain.tasks.map(\.run), ["fedavg/seed-3", "fedrep/seed-3", "fedavg/seed-4", "fedrep/seed-4"])
    }

    func testCellNamesAreFilesystemSafeAndDistinct() {
        func axis(_ key: String, _ values: [String], quoted: Bool = false) -> SweepAxis {
            let here = SourceLocation(file: "t", line: 1, column: 1)
            return SweepAxis(
                key: key, path: key.split(separator: ".").map(String.init),
                values: values.map { YAMLNode(kind: .scalar($0, quoted: quoted), location: here) }, location: here)
        }
        let names = SweepPlanner.cellNames(
            SweepGrid(groups: [[axis("a.lr", ["0.1"])], [axis("b.lr", ["x/y", "x y", ".."])]]))
        XCTAssertEqual(names[0], "a.lr=0.1,b.lr=x_y~" + names[0].split(separator: "~")[1])
        XCTAssertTrue(names[1].hasPrefix("a.lr=0.1,b.lr=x_y~"))
        XCTAssertNotEqual(names[0], names[1])
        XCTAssertEqual(names[2], "a.lr=0.1,b.lr=_.")
        let long = SweepPlanner.cellNames(SweepGrid(groups: [[axis("k", [String(repeating: "v", count: 300)])]]))
        XCTAssertLessThanOrEqual(long[0].count, 130)
    }

    func testSweepErrorsNameTheLine() throws {
        let dir = try EngineFixture.temporaryDirectory(self)
        func errors(_ sweep: String, grid: [String] = []) throws -> String {
            let path = try file(dir, sweep: sweep)
            do {
                _ = try SweepPlanner(registry: registry).plan(file: path, grid: grid)
                XCTFail("no error for \(sweep) \(grid)")
                return ""
            } catch let e as ConfigErrors { return e.description } catch let e as ConfigError {
                return e.description
            } catch { return "\(error)" }
        }
        // The sweep section starts at line 11 of the generated file.
        var text = try errors("sweep: { gird: { federation.lr: [0.1] } }")
        XCTAssertTrue(
            text.contains("grid.yaml:11:10: unknown key 'gird' in sweep; valid keys: grid, zip (did you mean 'grid'?)"),
            text)
        text = try errors("sweep:\n  zip:\n    - { federation.lr: [0.1, 0.2], federation.momentum: [0.5] }")
        XCTAssertTrue(
            text.contains("grid.yaml:13:7: sweep.zip[0]: the lists of a zip group must have the same length"), text)
        text = try errors("sweep: { grid: { federation.lr: 0.1 } }")
        XCTAssertTrue(text.contains("sweep.grid.federation.lr must be a non-empty list of values"), text)
        text = try errors("sweep: { grid: { federation.lr: [0.1, -1] } }")
        XCTAssertTrue(text.contains("grid.yaml:11:39: in sweep cell federation.lr=-1: federation.lr"), text)
        text = try errors("sweep: { grid: { method: [fedavg, fedbkd] } }")
        XCTAssertTrue(
            text.contains(
                "grid.yaml:11:35: sweep: method 'fedbkd' is not a label of the file's methods (fedavg, fedrep)"), text)
        text = try errors("sweep: { grid: { name: [a, b] } }")
        XCTAssertTrue(text.contains("'name' cannot be swept"), text)
        text = try errors("sweep: { grid: { federation.lr: [0.1] } }", grid: ["federation.lr"])
        XCTAssertTrue(text.contains("--grid must look like KEY=V1,V2"), text)
        text = try errors("sweep: { grid: { seed: [1, 1] } }")
        XCTAssertTrue(text.contains("both run fedavg/seed-1"), text)
    }

    func testTaskFileIsCheckedAndReplanned() throws {
        let dir = try EngineFixture.temporaryDirectory(self)
        let path = try file(dir, sweep: "sweep: { grid: { federation.lr: [0.05, 0.1] } }")
        let plan = try SweepPlanner(registry: registry).plan(file: path)
        XCTAssertThrowsError(try plan.checkTaskFile()) {
            XCTAssertTrue("\($0)".contains("plan the sweep first"), "\($0)")
        }
        try plan.writeTaskFile(replan: false)
        let written = try String(contentsOfFile: plan.taskFile, encoding: .utf8)
        XCTAssertEqual(written.split(separator: "\n").count, 8)
        try plan.checkTaskFile()
        try SweepPlanner(registry: registry).plan(file: path).writeTaskFile(replan: false)
        XCTAssertEqual(try String(contentsOfFile: plan.taskFile, encoding: .utf8), written)
        let other = try SweepPlanner(registry: registry).plan(file: path, grid: ["federation.lr=0.2"])
        XCTAssertThrowsError(try other.writeTaskFile(replan: false)) {
            XCTAssertTrue("\($0)".contains("--replan"), "\($0)")
        }
        XCTAssertThrowsError(try other.checkTaskFile()) {
            XCTAssertTrue("\($0)".contains("planned from other settings"), "\($0)")
        }
        try other.writeTaskFile(replan: true)
        try other.checkTaskFile()
        // A worker count does not change the plan (a task's share of the cores is its own).
        try SweepPlanner(registry: registry).plan(
            file: path, overrides: ["federation.workers=1"], grid: ["federation.lr=0.2"]
        ).checkTaskFile()
    }

    /// A task list planned by an earlier build is still this plan: one without the `setting`
    /// field (before session 9) when the fingerprints agree; one whose fingerprints differ (keys
    /// added since) when its settings agree. Other settings are still another plan.
    func testTaskFileOfAnEarlierBuildIsThisPlan() throws {
        let dir = try EngineFixture.temporaryDirectory(self)
        let path = try file(dir, sweep: "sweep: { grid: { federation.lr: [0.05, 0.1] } }")
        let plan = try SweepPlanner(registry: registry).plan(file: path)
        func lines(_ edit: (inout [String: Any]) -> Void) throws -> String {
            try plan.taskFileText.split(separator: "\n").map { line in
                var task = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                edit(&task)
                return String(decoding: try JSONSerialization.data(withJSONObject: task, options: [.sortedKeys]), as: UTF8.self)
            }.joined(separator: "\n") + "\n"
        }
        XCTAssertNotNil(plan.tasks.first?.setting)
        let withoutSetting = try lines { $0["setting"] = nil }
        XCTAssertNotEqual(withoutSetting, plan.taskFileText)
        XCTAssertTrue(plan.isThisPlan(withoutSetting))
        XCTAssertTrue(plan.isThisPlan(try lines { $0["config"] = "0000000000000000" }), "same setting, new keys")
        XCTAssertFalse(plan.isThisPlan(try lines { $0["config"] = "0000000000000000"; $0["setting"] = nil }))
        XCTAssertFalse(plan.isThisPlan(try lines { $0["config"] = "0000000000000000"; $0["setting"] = "1111111111111111" }))
        try FileManager.default.createDirectory(atPath: plan.directory, withIntermediateDirectories: true)
        try withoutSetting.write(toFile: plan.taskFile, atomically: true, encoding: .utf8)
        try plan.checkTaskFile()
        try plan.writeTaskFile(replan: false)
        XCTAssertEqual(try String(contentsOfFile: plan.taskFile, encoding: .utf8), withoutSetting, "left as planned")
    }

    func testThreadsAndSlurmScript() {
        XCTAssertEqual(TaskThreads.fitting(cpus: 8, workers: 2), TaskThreads(workers: 2, threadsPerWorker: 4))
        XCTAssertEqual(TaskThreads.fitting(cpus: 1, workers: 4), TaskThreads(workers: 1, threadsPerWorker: 1))
        XCTAssertEqual(TaskThreads.fitting(cpus: 5, workers: 2), TaskThreads(workers: 2, threadsPerWorker: 2))
        XCTAssertEqual(SlurmScript.ranges([0, 1, 2, 3, 7, 9, 10]), "0-3,7,9-10")
        XCTAssertEqual(SlurmScript.quote("runs/a b"), "'runs/a b'")
        XCTAssertEqual(SlurmScript.quote("it's"), "'it'\\''s'")
        let script = SlurmScript(
            jobName: "fedkit-x", tasks: [0, 1, 2, 5], cpusPerTask: 4, memory: "8G", time: "01:00:00",
            partition: "cpu", account: nil, maxParallel: 2, requeue: true, extra: ["--qos=long"],
            logDirectory: "/r/x/logs", workingDirectory: "/home/me/fedkit",
            command: ["/bin/exp", "run", "e.yaml", "--set", "federation.lr=0.1", "--task", "$SLURM_ARRAY_TASK_ID"])
        let text = script.arrayScript
        for line in [
            "#SBATCH --array=0-2,5%2", "#SBATCH --cpus-per-task=4", "#SBATCH --mem=8G", "#SBATCH --time=01:00:00",
            "#SBATCH --partition=cpu", "#SBATCH --requeue", "#SBATCH --qos=long",
            "#SBATCH --output=/r/x/logs/slurm-%A_%a.log",
            "cd /home/me/fedkit", "exec /bin/exp run e.yaml --set federation.lr=0.1 --task \"$SLURM_ARRAY_TASK_ID\"",
        ] {
            XCTAssertTrue(text.contains(line + "\n"), "missing \(line) in\n\(text)")
        }
        XCTAssertFalse(text.contains("--account"))
        XCTAssertTrue(
            script.collectScript(command: ["/bin/exp", "sweep", "e.yaml", "--collect"]).contains(
                "exec /bin/exp sweep e.yaml --collect\n"))
    }

    func testSlurmSectionIsValidated() throws {
        let dir = try EngineFixture.temporaryDirectory(self)
        let good = try file(dir, sweep: "slurm: { cpus_per_task: 2, mem: 4G, extra: [--qos=long] }")
        let spec = try ExperimentLoader(registry: registry).load(file: good)
        XCTAssertEqual(spec.slurm[SlurmSettings.cpusPerTask], 2)
        XCTAssertEqual(SlurmSettings.extra(spec.slurm), ["--qos=long"])
        XCTAssertEqual(spec.slurm[SlurmSettings.requeue], true)
        for (bad, message) in [
            ("slurm: { cpus: 2 }", "unknown key 'cpus' in slurm"),
            ("slurm: { extra: qos }", "slurm.extra must be a list of strings"),
            ("slurm: { extra: [qos=long] }", "starting with '-'"),
            ("slurm: { cpus_per_task: 0 }", "slurm.cpus_per_task"),
        ] {
            let path = try file(dir, sweep: bad)
            XCTAssertThrowsError(try ExperimentLoader(registry: registry).load(file: path), bad) {
                XCTAssertTrue("\($0)".contains(message), "\(bad): \($0)")
            }
        }
    }
}
