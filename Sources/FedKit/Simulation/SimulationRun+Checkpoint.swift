import Foundation
import Torch

/// Round checkpoints and exact resume of a run (see `RunCheckpoint`). The round loop calls
/// `restoreCheckpoint()` before its first round and `afterRound` after each one.
extension SimulationRun {
    /// This run's plugin instances that carry state across rounds, by role.
    var carriedStatePlugins: [(role: String, plugin: any RoundCarriedState)] {
        let plugins: [(String, Any?)] = [
            ("trainer", trainer), ("aggregator", aggregator), ("generator", generator), ("distiller", distiller),
        ]
        return plugins.compactMap { role, plugin in (plugin as? any RoundCarriedState).map { (role, $0) } }
    }

    /// Restores the state of `resumeFrom` (when set): the global model, every personal state, the
    /// clients' sampling counts, the latest accuracies and the carried plugin state. Returns the
    /// records so far and the first round to run (rounds + 1 when every round is done).
    func restoreCheckpoint() throws -> (records: [RoundRecord], firstRound: Int) {
        guard let checkpoint = resumeFrom else { return ([], 1) }
        let state = checkpoint.state
        guard state.rounds == settings.rounds, state.timesSampled.count == clients.count,
            state.personalClients.allSatisfy({ clients.indices.contains($0) }),
            (state.carriedClients ?? []).allSatisfy({ clients.indices.contains($0) })
        else {
            throw CheckpointError(
                path: checkpoint.directory,
                message:
                    "checkpoint of \(state.rounds) rounds and \(state.timesSampled.count) clients, the run has \(settings.rounds) rounds and \(clients.count) clients"
            )
        }
        do {
            try global.load(checkpoint.global())
            for c in state.personalClients { try store.put(c, checkpoint.personal(c)) }
            for c in state.carriedClients ?? [] { try carriedStore.put(c, checkpoint.clientCarried(c)) }
        } catch let error as CheckpointError {
            throw error
        } catch {
            throw CheckpointError(path: checkpoint.directory, message: "does not fit this run's model: \(error)")
        }
        let plugins = carriedStatePlugins
        guard plugins.map(\.role).sorted() == state.carried.sorted() else {
            throw CheckpointError(
                path: checkpoint.directory,
                message:
                    "checkpoint carries state of [\(state.carried.joined(separator: ", "))], this run's plugins of [\(plugins.map(\.role).joined(separator: ", "))]"
            )
        }
        for (role, plugin) in plugins {
            do { try plugin.restoreCarriedState(checkpoint.carried(role)) } catch {
                throw CheckpointError(path: "\(checkpoint.directory)/carried/\(role).safetensors", message: "\(error)")
            }
        }
        timesSampled = state.timesSampled
        lastClientAccuracies = state.lastClientAccuracies
        lastValidationAccuracies = state.lastValidationAccuracies
        return (state.records, state.round + 1)
    }

    /// After round `round`'s record is written: a checkpoint when one is due.
    func afterRound(_ round: Int, records: [RoundRecord]) throws {
        TestHooks.roundRecorded(round: round)
        guard let checkpointer, let writer, checkpointer.isDue(round: round, rounds: settings.rounds) else { return }
        let lengths = try writer.lengths()
        try checkpointer.save(
            RunCheckpointContent(
                round: round, rounds: settings.rounds, global: global.stateDict(), store: store, clients: clients.count,
                timesSampled: timesSampled, lastClientAccuracies: lastClientAccuracies,
                lastValidationAccuracies: lastValidationAccuracies, records: records,
                carried: try carriedStatePlugins.map { ($0.role, try $0.plugin.saveCarriedState()) },
                clientCarried: carriedStore,
                roundsBytes: lengths.rounds, timingsBytes: lengths.timings))
    }
}
