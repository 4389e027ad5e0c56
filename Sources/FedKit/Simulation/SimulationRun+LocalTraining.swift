import Foundation
import Torch

/// Phase 1 of a round: the round's payload and the sampled clients' local updates (one at a time
/// per worker here; in stacks in SimulationRun+StackedTraining.swift).
extension SimulationRun {
    /// Trains the sampled clients. Largest clients first, so that no long client runs alone at the
    /// end of the round. Personal states go to the store as each client finishes, and updates
    /// nobody reads are dropped: a round of 1,000 clients holds 1,000 states only when they are
    /// aggregated.
    func localUpdates(round: Int, sampled: [Int], global: StateDict, payload: StateDict) throws -> [ClientOutcome] {
        let updatesNeeded = aggregator.updatesGlobalModel || distiller != nil || generator != nil
        let outcomes = try trainClients(sampled, round: round, global: global, payload: payload) { trained in
            var outcome = trained
            if let personal = outcome.personal { try self.store.put(trained.update.client, personal) }
            if let carried = outcome.carried { try self.carriedStore.put(trained.update.client, carried) }
            outcome.personal = nil
            outcome.carried = nil
            if !updatesNeeded { outcome.update.state = StateDict([]) }
            return outcome
        }
        for o in outcomes { timesSampled[o.update.client] += 1 }
        roundOutput = [:]
        return outcomes
    }

    struct ClientOutcome {
        var update: ClientUpdate
        var personal: StateDict?
        /// What the client keeps besides its personal model (nil: nothing to store).
        var carried: StateDict?
        var report: LocalTrainingReport
    }

    /// Loads the client's start state into the worker's model and runs the trainer.
    func trainClient(
        _ client: Int, round: Int, worker: Worker, global: StateDict,
        payload: StateDict = StateDict([])
    ) throws -> ClientOutcome {
        let personal = try store.get(client)
        let model = worker.model
        try model.load(global)
        switch method.localStart {
        case .global: break
        case .personal: if let personal { try model.load(personal, strict: false) }
        case .globalBody: if let personal { try model.load(personal.under("head"), strict: false) }
        }
        model.setTraining(true)
        model.generator.reseed(Seeds.derive(seed64, "dropout", round, client))
        let context = ClientTrainingContext(
            client: client, round: round, model: model, scratch: worker.scratch, data: clients[client].train,
            global: global, personal: personal, settings: settings.local,
            generator: RandomGenerator(seed: Seeds.derive(seed64, "train", round, client)),
            augmentation: dataset.augmentation,
            payload: payload, carried: try carriedStore.get(client))
        let report: LocalTrainingReport
        do {
            report = try trainer.train(context)
        } catch {
            throw RunFailure(method: method.label, seed: seed, round: round, client: client, message: "\(error)")
        }
        return try outcome(client: client, round: round, state: model.stateDict().copy(), report: report)
    }

    /// A trained client's outcome from its model's state (a copy) and its trainer's report: checks
    /// the state is finite and picks what the client keeps (the method's `personal`).
    func outcome(client: Int, round: Int, state: StateDict, report: LocalTrainingReport) throws -> ClientOutcome {
        try checkFinite(state, round: round, client: client, what: "the local model")
        let kept: StateDict?
        if let personal = report.personal {
            kept = personal
        } else {
            switch method.personal {
            case .none: kept = nil
            case .head: kept = state.under("head")
            case .model: kept = state
            case .unshared:
                let shared = Set(aggregator.communicated(state).names)
                kept = state.filter { !shared.contains($0) }
            }
        }
        return ClientOutcome(
            update: ClientUpdate(
                client: client, state: state, samples: clients[client].train.count,
                upload: report.upload),
            personal: kept, carried: report.carried, report: report)
    }

    func checkFinite(_ state: StateDict, round: Int, client: Int? = nil, what: String) throws {
        guard try state.flattened().allFinite() else {
            throw RunFailure(
                method: method.label, seed: seed, round: round, client: client,
                message: "diverged: \(what) has NaN or infinite weights (try a smaller lr)")
        }
    }

    /// The round's payload: the entries of every payload source, in source order (two sources
    /// sending an entry of the same name is an error).
    func roundPayload(_ round: Int) throws -> StateDict {
        var entries: [(name: String, tensor: Tensor)] = []
        var names = Set<String>()
        for source in payloadSources {
            for entry in try source.payload(round: round).entries {
                guard names.insert(entry.name).inserted else {
                    throw RunFailure(
                        method: method.label, seed: seed, round: round,
                        message: "two server plugins send a payload entry named '\(entry.name)'")
                }
                entries.append(entry)
            }
        }
        return StateDict(entries)
    }
}
