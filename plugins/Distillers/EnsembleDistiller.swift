import FedKit
import Foundation
import Torch

/// `ensemble`: server-side ensemble distillation into the aggregated global model, the server
/// step of FedDF (Lin et al., "Ensemble Distillation for Robust Model Fusion in Federated
/// Learning", NeurIPS 2020) and FedFTG (Zhang et al., "Fine-tuning Global Model via Data-Free
/// Knowledge Distillation for Non-IID Federated Learning", CVPR 2022).
///
/// After aggregation the global model w (the student, every parameter: `context.global`, the
/// server's copy, returned whole as `DistillationResult.global`) takes `steps` optimiser
/// steps, each on a fresh batch x of the source (the method's generator, or Gaussian noise
/// without one) for labels y drawn over the classes the round's clients have seen, minimising
///
///     T^2 KL(softmax(E(x) / T) || softmax(f_w(x) / T)),   E(x_i) = sum_k a_{k,y_i} f_k(x_i)
///
/// with the sampled clients' models f_k as frozen teachers and `teacher_weights` a: `uniform`
/// 1/K (FedDF: the mean of the client logits), `samples` n_k / sum_j n_j, or `class`
/// n_{k,y} / sum_j n_{j,y} (FedFTG's label-wise weights: a client speaks for a class in
/// proportion to its share of that class). Labels are `balanced` over the seen classes or
/// `proportional` to the clients' sample counts (FedFTG's label sampling).
///
/// `iterations` > 1 alternates with a trainable generator (the source is a `GeneratorSource`):
/// before every iteration but the first (the engine trains the generator before the distiller
/// runs), the generator trains again against the teachers and the now changed global model
/// (FedFTG's hard-sample mining: a generator with an adversarial term seeks the samples where
/// the global model and the ensemble disagree); the result reports the generator's metrics of
/// its last training, in place of the engine's. With a source that cannot train, the
/// iterations simply continue distilling.
///
/// The student runs in eval mode (batch-norm statistics are not moved toward synthetic data;
/// no dropout); a fresh optimiser each round. The plugin keeps no state across rounds.
public struct EnsembleDistiller: DistillerPlugin {
    public enum TeacherWeighting: String, CaseIterable, Sendable { case uniform, samples, `class` }
    public enum LabelSampling: String, CaseIterable, Sendable { case balanced, proportional }
    public enum OptimizerKind: String, CaseIterable, Sendable { case adam, sgd }

    public static let steps = ParameterKey.int(
        "steps", default: 100, min: 1,
        doc: "optimiser steps per iteration, each on a fresh batch (FedDF distils for a fixed budget of steps per round; FedFTG: I_d steps per iteration)")
    public static let iterations = ParameterKey.int(
        "iterations", default: 1, min: 1,
        doc: "iterations per round; with a trainable generator, it trains again before each iteration after the first (FedFTG's alternation); 1: distil once (FedDF)")
    public static let batchSize = ParameterKey.int(
        "batch_size", default: 128, min: 2, doc: "synthetic samples per step (FedDF: 128)")
    public static let temperature = ParameterKey.double(
        "temperature", default: 1, min: 0, minExclusive: true,
        doc: "softmax temperature T of both sides (the KL is scaled by T^2)")
    public static let teacherWeights = ParameterKey.choice(
        "teacher_weights", default: TeacherWeighting.uniform,
        doc: "ensemble weights a_{k,y}: uniform 1/K (FedDF), by samples n_k / n, or by class n_{k,y} / n_y (FedFTG)")
    public static let labels = ParameterKey.choice(
        "labels", default: LabelSampling.balanced,
        doc: "labels of the synthetic batch: uniform over the classes the round's clients have seen, or proportional to their sample counts (FedFTG)")
    public static let optimizer = ParameterKey.choice(
        "optimizer", default: OptimizerKind.adam, doc: "the student's optimiser (FedDF: Adam)")
    public static let learningRate = ParameterKey.double(
        "lr", default: 1e-3, min: 0, minExclusive: true, doc: "the student's learning rate (FedDF: Adam lr 1e-3)")
    public static let momentum = ParameterKey.double(
        "momentum", default: 0.9, min: 0, max: 0.999, doc: "SGD momentum (optimizer: sgd)")

    public static let descriptor = PluginDescriptor(
        kind: .distiller, name: "ensemble",
        summary: "distils the weighted ensemble of the round's client models into the global model on synthetic samples (FedDF, FedFTG)",
        keys: [steps, iterations, batchSize, temperature, teacherWeights, labels, optimizer, learningRate, momentum])

    public let steps: Int
    public let iterations: Int
    public let batchSize: Int
    public let temperature: Double
    public let teacherWeights: TeacherWeighting
    public let labelSampling: LabelSampling
    public let optimizerKind: OptimizerKind
    public let learningRate: Double
    public let momentum: Double

    public init(parameters p: Parameters) throws {
        steps = p[Self.steps]
        iterations = p[Self.iterations]
        batchSize = p[Self.batchSize]
        temperature = p[Self.temperature]
        teacherWeights = p[Self.teacherWeights]
        labelSampling = p[Self.labels]
        optimizerKind = p[Self.optimizer]
        learningRate = p[Self.learningRate]
        momentum = p[Self.momentum]
    }

    /// a_{k,c}: how much teacher k's logits count for samples of class c (rows sum to 1 over k
    /// for every class some teacher has seen).
    public func ensembleWeights(_ teachers: [Teacher], classes: Int) -> [[Double]] {
        switch teacherWeights {
        case .class:
            return TeacherWeights.make(teachers, classes: classes)
        case .uniform:
            return teachers.map { _ in [Double](repeating: 1 / Double(teachers.count), count: classes) }
        case .samples:
            let sizes = teachers.map { Double($0.classCounts.reduce(0) { $0 + max(0, $1) }) }
            let total = sizes.reduce(0, +)
            return sizes.map { n in [Double](repeating: total > 0 ? n / total : 1 / Double(teachers.count), count: classes) }
        }
    }

    /// The label distribution of the synthetic batches: over the classes some teacher has seen.
    public func labelProbabilities(_ teachers: [Teacher], classes: Int) -> [Double] {
        (0..<classes).map { c in
            let n = teachers.reduce(0) { $0 + (c < $1.classCounts.count ? max(0, $1.classCounts[c]) : 0) }
            guard n > 0 else { return 0 }
            return labelSampling == .balanced ? 1 : Double(n)
        }
    }

    public func distill(_ context: ServerRoundContext, source: any SyntheticDataSource) throws -> DistillationResult {
        let start = Date()
        let teachers = context.teachers
        guard !teachers.isEmpty else { return .unchanged }
        let weights = ensembleWeights(teachers, classes: context.classes)
        let probabilities = labelProbabilities(teachers, classes: context.classes)
        guard probabilities.contains(where: { $0 > 0 }) else {
            throw PluginError("ensemble: the sampled clients report no training samples of any class")
        }
        let slots = try TeacherSlots(workspace: context.workspace, states: teachers.map(\.state))
        defer { slots.release() }
        let student = context.global
        let parameters = student.parameters
        let optimizer: any Optimizer = optimizerKind == .adam
            ? try Adam([ParameterGroup(parameters, weightDecay: 0)], learningRate: learningRate)
            : try SGD([ParameterGroup(parameters, weightDecay: 0)], learningRate: learningRate, momentum: momentum)
        student.setTraining(false)
        defer {
            student.setTraining(true)
            for p in parameters { try? p.zeroGrad() }
        }
        var first: Double?
        var lastIteration: [Double] = []
        var generatorRounds = 0
        var metrics: [String: Double] = [:]
        for iteration in 0..<iterations {
            if iteration > 0, let trainable = source as? GeneratorSource {
                metrics.merge(try trainable.generator.train(context).metrics) { _, new in new }
                generatorRounds += 1
                // The generator leaves the global model in training mode: back to eval mode, so
                // every iteration distils as the first (no dropout, batch-norm statistics kept).
                student.setTraining(false)
            }
            lastIteration = []
            for step in 1...steps {
                let y = try LabelDraw.draw(batchSize, probabilities: probabilities, generator: context.generator)
                let x = try withoutGrad { try source.sample(labels: Tensor(y), generator: context.generator) }
                let target = try ensembleLogits(slots, weights: weights, x, labels: y, kind: context.inputKind)
                let loss = try Loss.distillationKL(student: SampleSpace.logits(student, x, kind: context.inputKind),
                                                   teacher: target, temperature: temperature)
                let value = try loss.item()
                guard value.isFinite else {
                    throw PluginError("ensemble: the distillation loss became \(value) at iteration \(iteration + 1), step \(step) (try a smaller lr)")
                }
                try optimizer.zeroGrad()
                try loss.backward()
                try optimizer.step()
                if first == nil { first = value }
                lastIteration.append(value)
            }
        }
        metrics["distill.kl_first_step"] = first ?? 0
        metrics["distill.kl_last_iteration"] = lastIteration.reduce(0, +) / Double(max(1, lastIteration.count))
        metrics["distill.steps"] = Double(steps * iterations)
        if generatorRounds > 0 { metrics["distill.generator_retrained"] = Double(generatorRounds) }
        metrics["distill.seconds"] = Date().timeIntervalSince(start)
        return DistillationResult(global: student.stateDict(), metrics: metrics)
    }

    /// E(x_i) = sum_k a_{k,y_i} f_k(x_i), without gradient.
    func ensembleLogits(_ slots: TeacherSlots, weights: [[Double]], _ x: Tensor, labels: [Int], kind: InputKind) throws -> Tensor {
        try withoutGrad {
            var sum: Tensor?
            for k in weights.indices {
                let a = labels.map { Float(weights[k][$0]) }
                guard a.contains(where: { $0 > 0 }) else { continue }
                let term = try SampleSpace.logits(slots.network(k), x, kind: kind) * Tensor(a, shape: [a.count, 1])
                sum = try sum.map { try $0 + term } ?? term
            }
            guard let sum else { throw PluginError("ensemble: no client model speaks for the drawn labels") }
            return sum
        }
    }
}
