import Foundation
import Torch

/// Phases 3-4 of a round: generator training and distillation on the server.
extension SimulationRun {
    /// Generator training and distillation against the sampled clients' models.
    func serverSteps(round: Int, sampled: [Int], outcomes: [ClientOutcome]) throws -> [String: Double] {
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
        let context = ServerRoundContext(
            round: round, global: global, workspace: pool.workers.flatMap { [$0.model, $0.scratch] },
            teachers: teachers,
            classes: dataset.classes, inputShape: dataset.inputShape, inputKind: dataset.inputKind,
            generator: RandomGenerator(seed: Seeds.derive(seed64, "server", round)),
            localBatchSize: settings.local.batchSize)
        do {
            // A generator without a distiller (FedGen's) reaches the clients as a round payload.
            if let generator { try generator.train(context) }
            if let distiller {
                let source: any SyntheticDataSource
                if let generator {
                    source = GeneratorSource(generator: generator)
                } else {
                    // The space the models are fed in: for token models, sequences of embedding vectors.
                    source = GaussianNoiseSource(shape: try SampleSpace.shape(context))
                }
                try distiller.distill(context, source: source)
            }
        } catch let failure as RunFailure {
            throw failure
        } catch {
            throw RunFailure(method: method.label, seed: seed, round: round, message: "server step failed: \(error)")
        }
        if distiller == nil {
            // Nothing changed the teachers.
        } else if method.evaluateWith == .roundOutput {
            // Evaluated only: with personal: head the store keeps the head, next round restarts
            // from the global body + that head (docs/design.md §6.6 step 5).
            for teacher in context.teachers { roundOutput[teacher.client] = teacher.state }
        } else if method.personal == .model {
            for teacher in context.teachers { try store.put(teacher.client, teacher.state) }
        }
        try checkFinite(global.stateDict(), round: round, what: "the global model after distillation")
        var metrics = context.metrics
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
}
