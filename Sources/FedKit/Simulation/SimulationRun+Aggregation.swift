import Foundation
import Torch

/// Phase 2 of a round: aggregation into the global model, and the participants' refresh.
extension SimulationRun {
    /// Aggregates the round's updates into the global model (when the aggregator has one) and lets
    /// a `ParticipantRefresh` aggregator move the participants' personal states. Returns the
    /// aggregator's metrics.
    func aggregationStep(
        round: Int, sampled: [Int], outcomes: [ClientOutcome], global globalSnapshot: StateDict
    ) throws
        -> [String: Double]
    {
        var metrics: [String: Double] = [:]
        if aggregator.updatesGlobalModel {
            let aggregate = try aggregator.aggregate(outcomes.map(\.update), global: globalSnapshot)
            try global.stateDict().update(from: aggregate.state)
            metrics = aggregate.metrics
            try checkFinite(global.stateDict(), round: round, what: "the aggregated global model")
        }
        if let participantRefresh {
            let aggregated = global.stateDict()
            for client in sampled {
                guard let personal = try store.get(client) else { continue }
                try store.put(
                    client,
                    participantRefresh.refreshed(personal: personal, client: client, round: round, global: aggregated))
            }
        }
        return metrics
    }

    /// Whether the server's global model is a whole model of the method: no entry that clients
    /// keep for themselves (`personal: head` or `unshared`) is left out of what the aggregator
    /// exchanges. False for FedPer and FedRep (their heads never reach the server: the global
    /// model holds the initial head) and LG-FedAvg (its lower layers); true for FedBKD, whose
    /// clients keep heads that are averaged too, and for FedBABU, whose fixed head is shared.
    /// Recorded in manifest.json (`global_model`), so that reports do not read such a global
    /// accuracy as the method's.
    func globalModelIsWhole() throws -> Bool {
        let state = try global.stateDict()
        let exchanged = Set(aggregator.communicated(state).names)
        switch method.personal {
        case .none, .model: return true
        case .head: return state.under("head").names.allSatisfy(exchanged.contains)
        case .unshared: return state.names.allSatisfy(exchanged.contains)
        }
    }
}
