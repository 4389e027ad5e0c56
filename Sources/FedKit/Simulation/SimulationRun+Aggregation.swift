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
}
