import Config
import Foundation

/// A run folder left by an earlier `exp run` that `--resume` can keep instead of running again:
/// complete (every round recorded, clients.csv and the final checkpoint written) and made from
/// the same setting (`RunFingerprint.sameSetting`: how it was executed, e.g. its worker count,
/// does not matter, nor keys added since at their earlier behaviour).
public enum CompletedRun {
    /// The run's result read back from `directory`, or nil when the folder is missing, incomplete
    /// or from another configuration (then the run starts again from round 1).
    public static func load(
        directory: String, method: String, seed: Int, config: String, rounds: Int,
        lastRounds: Int
    ) -> RunResult? {
        let fm = FileManager.default
        guard let written = try? String(contentsOfFile: "\(directory)/config.yaml", encoding: .utf8),
            written == config || sameSetting(written, config),
            fm.fileExists(atPath: "\(directory)/checkpoint/global.safetensors"),
            let lines = try? String(contentsOfFile: "\(directory)/rounds.jsonl", encoding: .utf8),
            let clients = try? String(contentsOfFile: "\(directory)/clients.csv", encoding: .utf8)
        else { return nil }
        let decoder = JSONDecoder()
        var records: [RoundRecord] = []
        for line in lines.split(separator: "\n") where !line.isEmpty {
            guard let record = try? decoder.decode(RoundRecord.self, from: Data(line.utf8)) else { return nil }
            records.append(record)
        }
        guard records.map(\.round) == Array(1...rounds) else { return nil }
        // clients.csv's last column: the personal model on the whole test set, when measured.
        let onGlobalTest = clients.split(separator: "\n").dropFirst().compactMap { row in
            row.split(separator: ",", omittingEmptySubsequences: false).last.flatMap { Double($0) }
        }
        return RunResult(
            method: method, seed: seed, records: records,
            summary: RunSummary.metrics(records, last: lastRounds, personalOnGlobalTest: onGlobalTest))
    }

    private static func sameSetting(_ written: String, _ config: String) -> Bool {
        guard let current = try? YAMLParser.parse(string: config, fileName: "config.yaml") else { return false }
        return RunFingerprint.sameSetting(writtenText: written, current: current)
    }
}
