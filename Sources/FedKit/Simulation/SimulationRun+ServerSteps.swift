import Foundation
import Torch

/// Phases 3-4 of a round: generator training and distillation on the server.
extension SimulationRun {
    /// Generator training and distillation against the sampled clients' models. The steps see
    /// `serverModel`, loaded with the aggregated global model, never the global model itself:
    /// only what they return changes the run (`apply(_:teachers:round:)`). Returns the round's
    /// server metrics.
    func serverSteps(
        round: Int, sampled: [Int], outcomes: [ClientOutcome], serverModel: Network
    ) throws -> [String: Double] {
        // One worker's thread count, whatever the number of workers: parallel reductions split
        // by thread count would otherwise make the server steps' results depend on `workers`.
        let callerThreads = TorchThreads.current
        TorchThreads.set(settings.threadsPerWorker)
        defer { TorchThreads.set(callerThreads) }
        var teachers: [Teacher] = []
        for o in outcomes {
            let client = o.update.client
            let state = method.personal == .model ? try store.get(client) ?? o.update.state : o.update.state
            teachers.append(Teacher(client: client, state: state, classCounts: clients[client].classCounts))
        }
        try serverModel.load(global.stateDict())
        let context = ServerRoundContext(
            round: round, global: serverModel, workspace: pool.workers.flatMap { [$0.model, $0.scratch] },
            teachers: teachers,
            classes: dataset.classes, inputShape: dataset.inputShape, inputKind: dataset.inputKind,
            generator: RandomGenerator(seed: Seeds.derive(seed64, "server", round)),
            localBatchSize: settings.local.batchSize, pixelScaling: dataset.pixelScaling)
        var metrics: [String: Double] = [:]
        do {
            // A generator without a distiller (FedGen's) reaches the clients as a round payload.
            if let generator { metrics = try generator.train(context).metrics }
            if let distiller {
                let source: any SyntheticDataSource
                if let generator {
                    source = GeneratorSource(generator: generator)
                } else {
                    // The space the models are fed in: for token models, sequences of embedding vectors.
                    source = GaussianNoiseSource(shape: try SampleSpace.shape(context))
                }
                let result = try distiller.distill(context, source: source)
                // The distiller's metrics win: a distiller that trains the generator again
                // (FedFTG) reports the generator's last metrics.
                metrics.merge(result.metrics) { _, new in new }
                try apply(result, teachers: teachers, round: round)
            }
        } catch let failure as RunFailure {
            throw failure
        } catch {
            throw RunFailure(method: method.label, seed: seed, round: round, message: "server step failed: \(error)")
        }
        // Sample statistics compare generated model inputs with the real ones (not features).
        if let generator, generator.samplesModelInputs {
            do {
                if realDataStatistics == nil {
                    realDataStatistics = try GeneratorSampleStatistics.realData(
                        clients, kind: dataset.inputKind, network: global,
                        batchSize: settings.evalBatchSize)
                }
                let generated = try GeneratorSampleStatistics.generated(
                    generator, classes: dataset.classes, seed: seed64, round: round)
                metrics.merge(GeneratorSampleStatistics.metrics(generated: generated, real: realDataStatistics!)) {
                    _, new in new
                }
            } catch {
                throw RunFailure(
                    method: method.label, seed: seed, round: round,
                    message: "generator sample statistics failed: \(error)")
            }
        }
        return metrics
    }

    /// Puts a distiller's result where the method says: the global entries it changed (checked
    /// finite first) into the global model; each sampled client's model after distillation (its
    /// teacher state when the result lists none) into this round's evaluation for
    /// `evaluate_with: round-output` — with `personal: head` the store keeps the head and next
    /// round restarts from the global body + that head (docs/design.md §6.6 step 5) — or into the
    /// store for `personal: model`.
    func apply(_ result: DistillationResult, teachers: [Teacher], round: Int) throws {
        let sampledClients = Set(teachers.map(\.client))
        if let stray = result.personal.keys.sorted().first(where: { !sampledClients.contains($0) }) {
            throw RunFailure(
                method: method.label, seed: seed, round: round,
                message: "the distiller returned a model for client \(stray), which was not sampled this round")
        }
        if !result.global.entries.isEmpty {
            try checkFinite(result.global, round: round, what: "the global model after distillation")
            try global.stateDict().update(from: result.global)
        }
        for teacher in teachers {
            let state = result.personalState(for: teacher)
            if method.evaluateWith == .roundOutput {
                roundOutput[teacher.client] = state
            } else if method.personal == .model {
                try store.put(teacher.client, state)
            }
        }
    }
}
