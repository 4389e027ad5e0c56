import Torch

extension SimulationRun {
    /// Per-client accuracy on the clients' validation splits with the model `evaluate_with` picks
    /// (nil: not scored, as for the test figure, or an empty split), and the global model's
    /// accuracy on the global validation set (the union of those splits; nil without a global
    /// model). Nil when no client has a validation split (`eval.validation_fraction: 0`).
    func validationAccuracies() throws -> (clients: [Double?], global: Double?)? {
        guard clients.contains(where: { $0.validation.count > 0 }) else { return nil }
        let globalState = global.stateDict()
        let measuresGlobal = aggregator.updatesGlobalModel
        let batchSize = settings.evalBatchSize
        let parts = try pool.map(Array(clients.indices)) { worker, client -> (personal: Double?, globalCorrect: Int, globalCount: Int) in
            let data = self.clients[client].validation
            guard data.count > 0 else { return (nil, 0, 0) }
            let model = worker.model
            var globalCorrect: [Bool] = []
            if measuresGlobal {
                try model.load(globalState)
                model.setTraining(false)
                globalCorrect = try Accuracy.correctness(of: model, on: data, batchSize: batchSize)
            }
            var personal: Double? = nil
            if self.isScored(client) {
                if self.method.evaluateWith == .global, measuresGlobal {
                    personal = Accuracy.fraction(globalCorrect)
                } else {
                    try self.evaluationState(client: client, worker: worker)
                    model.setTraining(false)
                    personal = Accuracy.fraction(try Accuracy.correctness(of: model, on: data, batchSize: batchSize))
                }
            }
            return (personal, globalCorrect.filter { $0 }.count, globalCorrect.count)
        }
        let total = parts.reduce(0) { $0 + $1.globalCount }
        let globalAccuracy = measuresGlobal && total > 0 ? Double(parts.reduce(0) { $0 + $1.globalCorrect }) / Double(total) : nil
        return (parts.map(\.personal), globalAccuracy)
    }
}
