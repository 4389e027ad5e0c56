import Torch

/// Local training of a round's clients in stacks (`federation.batched_clients`, `ClientStack`).
extension SimulationRun {
    /// The trainer as a stacked trainer and the largest stack, when this run trains stacked:
    /// batching is not off, the trainer supports it and the model can be stacked.
    var stacking: (trainer: any StackedTrainer, size: Int)? {
        guard let size = settings.batchedClients.maximumStack, let stacked = trainer as? any StackedTrainer,
            stacked.canTrainStacked, let worker = pool.workers.first,
            StackedNetwork.unsupportedLayer(in: worker.model) == nil, worker.model.namedBuffers.isEmpty
        else { return nil }
        return (stacked, size)
    }

    /// The stacks of a round: ceil(n / size) stacks of at most `size` clients, filled by decreasing
    /// training-set size, each client going to the stack with the least data so far (so the stacks,
    /// which the workers take largest first, carry similar amounts of work; within a stack the
    /// clients whose data ends first come last). Depends on the clients and the size only, not on
    /// the number of workers: every client gets the same floats for any worker count.
    static func stacks(of sampled: [Int], size: Int, trainingSize: (Int) -> Int) -> [[Int]] {
        guard !sampled.isEmpty else { return [] }
        let order = sampled.sorted {
            trainingSize($0) != trainingSize($1) ? trainingSize($0) > trainingSize($1) : $0 < $1
        }
        let count = (order.count + size - 1) / size
        var stacks = Array(repeating: [Int](), count: count)
        var totals = Array(repeating: 0, count: count)
        for client in order {
            let open = stacks.indices.filter { stacks[$0].count < size }
            let j = open.min { totals[$0] != totals[$1] ? totals[$0] < totals[$1] : $0 < $1 }!
            stacks[j].append(client)
            totals[j] += trainingSize(client)
        }
        return stacks
    }

    /// Trains the sampled clients; outcomes in `sampled` order. `finish` runs on the worker for each
    /// outcome as soon as its client (or stack) is done (storing personal state, dropping updates).
    func trainClients(
        _ sampled: [Int], round: Int, global: StateDict, payload: StateDict,
        finish: (ClientOutcome) throws -> ClientOutcome
    ) throws -> [ClientOutcome] {
        guard let stacking else {
            return try pool.map(sampled, cost: { self.clients[$0].train.count }) { worker, client in
                try finish(try self.trainClient(client, round: round, worker: worker, global: global, payload: payload))
            }
        }
        let stacks = Self.stacks(of: sampled, size: stacking.size) { self.clients[$0].train.count }
        let trained = try pool.map(stacks, cost: { $0.reduce(0) { $0 + self.clients[$1].train.count } }) {
            worker, stack in
            try self.trainStack(
                stack, trainer: stacking.trainer, round: round, worker: worker, global: global, payload: payload
            )
            .map(finish)
        }
        var byClient: [Int: ClientOutcome] = [:]
        for outcome in trained.joined() { byClient[outcome.update.client] = outcome }
        return sampled.map { byClient[$0]! }
    }

    /// `trainClient` for a stack of clients: each slot starts from the state `trainClient` would
    /// load, with the same generator; each slot's result becomes that client's outcome.
    func trainStack(
        _ stackClients: [Int], trainer: any StackedTrainer, round: Int, worker: Worker, global: StateDict,
        payload: StateDict
    ) throws -> [ClientOutcome] {
        let network = try StackedNetwork(template: worker.model, count: stackClients.count)
        var contexts: [ClientTrainingContext] = []
        for (slot, client) in stackClients.enumerated() {
            let personal = try store.get(client)
            try network.load(global, into: slot)
            if let personal {
                switch method.localStart {
                case .global: break
                case .personal: try network.load(personal, into: slot, strict: false)
                case .globalBody: try network.load(personal.under("head"), into: slot, strict: false)
                }
            }
            contexts.append(
                ClientTrainingContext(
                    client: client, round: round, model: worker.model, scratch: worker.scratch,
                    data: clients[client].train,
                    global: global, personal: personal, settings: settings.local,
                    generator: RandomGenerator(seed: Seeds.derive(seed64, "train", round, client)),
                    augmentation: dataset.augmentation,
                    payload: payload, carried: try carriedStore.get(client)))
        }
        let reports: [LocalTrainingReport]
        do {
            reports = try trainer.train(ClientStack(contexts: contexts, network: network, template: worker.scratch))
        } catch let failure as StackedClientFailure {
            throw RunFailure(
                method: method.label, seed: seed, round: round, client: stackClients[failure.slot],
                message: "\(failure.error)")
        } catch {
            throw RunFailure(
                method: method.label, seed: seed, round: round,
                message: "training the stack of clients \(stackClients): \(error)")
        }
        guard reports.count == stackClients.count else {
            throw RunFailure(
                method: method.label, seed: seed, round: round,
                message: "the trainer returned \(reports.count) reports for a stack of \(stackClients.count) clients")
        }
        return try stackClients.enumerated().map { slot, client in
            try outcome(client: client, round: round, state: network.state(of: slot), report: reports[slot])
        }
    }
}
