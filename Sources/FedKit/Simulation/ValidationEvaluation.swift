import Torch

extension SimulationRun {
    /// Per-client accuracy on the clients' validation splits with the model `evaluate_with` picks
    /// (nil: not scored, as for the test figure, or an empty split), and the global model's
    /// accuracy on the global validation set (the union of those splits; nil without a global
    /// model). Nil when no client has a validation split (`eval.validation_fraction: 0`).
    ///
    /// The splits are one pool (`validationPool`): one pass of the global model over all of them in
    /// evaluation batches gives the global figure and every client tested with the global model or
    /// its own head on the global body; only whole personal models run a pass per client.
    func validationAccuracies(composed: [Int: Double] = [:]) throws -> (clients: [Double?], global: Double?)? {
        guard validationPool.count > 0 else { return nil }
        let tests = clientTests(validationPool)
        let needs = Self.passNeeds(tests)
        let measuresGlobal = aggregator.updatesGlobalModel
        let pass = needs.pass || measuresGlobal ? try sharedPass(over: validationPool, features: needs.features) : nil
        let accuracies = try clientAccuracies(
            tests, pass: pass, split: { self.clients[$0].validation }, emptySplit: nil, measured: composed)
        return (accuracies, measuresGlobal ? pass.map { Accuracy.fraction($0.correct) } : nil)
    }
}
