import Foundation
import Torch

/// Phase 5 of a round, evaluation (docs/design.md §7): which model each client is tested with,
/// personalised, validation and fine-tuned figures, and the per-client rows of clients.csv. The
/// shared and stacked passes are in SimulationRun+SharedEvaluation.swift and +StackedEvaluation.swift.
extension SimulationRun {
    /// The state a client is tested with, as `evaluate_with` declares (docs/design.md §7): the global
    /// model, the round's output for this round's clients (round-output), else its personal state
    /// composed over the global model (its head on the global body, or its whole model).
    func evaluationState(client: Int, worker: Worker) throws {
        try worker.model.load(global.stateDict())
        switch method.evaluateWith {
        case .global: break
        case .roundOutput:
            if let output = roundOutput[client] {
                try worker.model.load(output, strict: false)
                return
            }
            _ = try store.load(client, into: worker.model)
        case .personal:
            _ = try store.load(client, into: worker.model)
        }
        try composeEvaluationModel(client: client, worker: worker)
    }

    /// When the trainer composes the tested model (`EvaluationComposition`: APFL's mixture,
    /// Per-FedAvg's local step, FedBABU's fine-tuning), that composition over the loaded state,
    /// seeded by (seed, round being evaluated, client).
    func composeEvaluationModel(client: Int, worker: Worker) throws {
        guard let evaluationComposition else { return }
        let round = evaluationRound
        worker.model.setTraining(true)
        worker.model.generator.reseed(Seeds.derive(seed64, "evaluate-dropout", round, client))
        let context = ClientTrainingContext(
            client: client, round: round, model: worker.model, scratch: worker.scratch, data: clients[client].train,
            global: global.stateDict(), personal: try store.get(client),
            settings: settings.local, generator: RandomGenerator(seed: Seeds.derive(seed64, "evaluate", round, client)),
            carried: try carriedStore.get(client))
        try evaluationComposition.composeEvaluationModel(context)
    }

    /// With a composed test model (`EvaluationComposition`: FedBABU's fine-tuning, APFL's mixture,
    /// Per-FedAvg's step) and validation splits, each client tested with its own composed model is
    /// composed once per evaluation and tested on both its test and its validation split, instead of
    /// once per split. The composition is seeded by (seed, round, client) and reads the client's
    /// training data only, so both figures are those two separate compositions give.
    func composedAccuracies() throws -> (test: [Int: Double], validation: [Int: Double]) {
        guard evaluationComposition != nil, validationPool.count > 0 else { return ([:], [:]) }
        let testTests = clientTests(clientTestPool), validationTests = clientTests(validationPool)
        let both = clients.indices.filter {
            testTests[$0] == .full && validationTests[$0] == .full
                && clients[$0].test.count > 0 && clients[$0].validation.count > 0
        }
        let batchSize = settings.evalBatchSize
        let measured = try pool.map(both) { worker, client -> (test: Double, validation: Double) in
            try self.evaluationState(client: client, worker: worker)
            worker.model.setTraining(false)
            return (
                Accuracy.fraction(
                    try Accuracy.correctness(of: worker.model, on: self.clients[client].test, batchSize: batchSize)),
                Accuracy.fraction(
                    try Accuracy.correctness(
                        of: worker.model, on: self.clients[client].validation, batchSize: batchSize))
            )
        }
        var test: [Int: Double] = [:], validation: [Int: Double] = [:]
        for (client, accuracy) in zip(both, measured) {
            test[client] = accuracy.test
            validation[client] = accuracy.validation
        }
        return (test, validation)
    }

    /// Whether a client is scored: tested with the global model, or it has trained at least once
    /// (a client that never trained has no personal model; it is never scored with a random head).
    func isScored(_ client: Int) -> Bool {
        method.evaluateWith == .global || timesSampled[client] > 0
    }

    /// Every client's accuracy with the model docs/design.md §7 names (see `evaluationState`), plus the global
    /// model's accuracy on the whole test set when the method has a global model.
    ///
    /// Shared passes (SimulationRun+SharedEvaluation.swift): when the clients' test splits are rows
    /// of the test set (local_test: matched or natural), one pass of the global model over the test
    /// set serves every client tested with the global model (FedAvg, FedProx, every client not
    /// sampled yet) and, through its body features, every client with a personal head; holdout
    /// splits are pooled into one pass of their own in large batches. Only whole personal models
    /// (Local, Ditto, FedBKD) run a forward pass per client.
    ///
    /// `composed`: accuracies already measured for some clients (`composedAccuracies`), used as they are.
    func personalizedAccuracies(composed: [Int: Double] = [:]) throws -> (clients: [Double?], global: Double?) {
        let tests = clientTests(clientTestPool)
        let needs = Self.passNeeds(tests)
        let measuresGlobal = aggregator.updatesGlobalModel
        let pass =
            needs.pass || (measuresGlobal && settings.clientTestsFromTestSet)
            ? try sharedPass(over: clientTestPool, features: needs.features) : nil
        let accuracies = try clientAccuracies(
            tests, pass: pass, split: { self.clients[$0].test }, emptySplit: 0, measured: composed)
        var globalAccuracy: Double? = nil
        if measuresGlobal {
            let testPass =
                try settings.clientTestsFromTestSet
                ? pass!
                : sharedPass(
                    over: EvaluationPool(samples: dataset.test, clientRows: clients.map { _ in nil }), features: false)
            globalAccuracy = Accuracy.fraction(testPass.correct)
        }
        return (accuracies, globalAccuracy)
    }

    func evaluate(into record: inout RoundRecord) throws {
        evaluationRound = record.round
        let composed = try composedAccuracies()
        let (accuracies, globalAccuracy) = try personalizedAccuracies(composed: composed.test)
        lastClientAccuracies = accuracies
        record.globalAccuracy = globalAccuracy
        let sizes = clients.map(\.test.count)
        record.personalized = PersonalizedAccuracy.over(accuracies, testSizes: sizes)
        if accuracies.allSatisfy({ $0 != nil }) { record.personalizedAll = record.personalized }
        if let validation = try validationAccuracies(composed: composed.validation) {
            lastValidationAccuracies = validation.clients
            record.validation = ValidationMetrics(
                globalAccuracy: validation.global,
                personalized: PersonalizedAccuracy.over(validation.clients, testSizes: clients.map(\.validation.count)))
        }
        if let finetuner {
            let globalSnapshot = try global.stateDict().copy()
            let tuned = try pool.map(Array(clients.indices)) { worker, client -> Double in
                try self.evaluationState(client: client, worker: worker)
                worker.model.setTraining(true)
                var local = self.settings.local
                local.epochs = self.settings.finetuneEpochs
                let context = ClientTrainingContext(
                    client: client, round: record.round, model: worker.model, scratch: worker.scratch,
                    data: self.clients[client].train, global: globalSnapshot, personal: nil, settings: local,
                    generator: RandomGenerator(seed: Seeds.derive(self.seed64, "finetune", record.round, client)))
                _ = try finetuner.train(context)
                worker.model.setTraining(false)
                return Accuracy.fraction(
                    try Accuracy.correctness(
                        of: worker.model, on: self.clients[client].test,
                        batchSize: self.settings.evalBatchSize))
            }
            record.personalizedFinetuned = PersonalizedAccuracy(accuracies: tuned, testSizes: sizes)
        }
    }

    /// Per-client final figures for clients.csv (the final round is always evaluated: its
    /// accuracies are reused, not recomputed).
    func clientReport() throws -> [ClientRow] {
        evaluationRound = settings.rounds
        let accuracies = try lastClientAccuracies ?? personalizedAccuracies().clients
        let validation = try lastValidationAccuracies ?? validationAccuracies()?.clients
        var onGlobalTest: [Double?]? = nil
        if settings.personalGlobalTest, method.evaluateWith != .global || evaluationComposition != nil {
            onGlobalTest = try pool.map(Array(clients.indices)) { worker, client -> Double? in
                guard self.isScored(client) else { return nil }
                try self.evaluationState(client: client, worker: worker)
                worker.model.setTraining(false)
                return Accuracy.fraction(
                    try Accuracy.correctness(
                        of: worker.model, on: self.dataset.test,
                        batchSize: self.settings.evalBatchSize))
            }
        }
        return clients.indices.map { c in
            let evaluatedWith =
                !isScored(c)
                ? "never-trained"
                : method.evaluateWith == .roundOutput && roundOutput[c] == nil
                    ? EvaluationModel.personal.rawValue
                    : method.evaluateWith.rawValue
            return ClientRow(
                client: c, trainSamples: clients[c].train.count, validationSamples: clients[c].validation.count,
                testSamples: clients[c].test.count, classes: clients[c].classCounts.filter { $0 > 0 }.count,
                timesSampled: timesSampled[c], hasPersonalState: store.contains(c), evaluatedWith: evaluatedWith,
                personalizedAccuracy: accuracies[c], validationAccuracy: validation?[c] ?? nil,
                globalTestAccuracy: onGlobalTest?[c] ?? nil)
        }
    }
}
