import FedKit
import Foundation
import Torch

/// L2GD's server side (Hanzely & Richtárik, "Federated Learning of a Mixture of Global and Local
/// Models", 2020): loopless local gradient descent on
///     min_x  (1/n) sum_i f_i(x_i) + lambda / (2n) sum_i ||x_i - x_bar||^2.
/// Each L2GD step flips a coin: with probability 1 - p every client takes a local step
/// x_i <- x_i - lr / (1 - p) grad f_i(x_i); with probability p every client takes an averaging step
/// x_i <- x_i - (lr lambda / p) (x_i - x_bar). Communication happens only where a run of local
/// steps ends, so one round here is one run of K >= 1 local steps followed by one run of m >= 1
/// averaging steps, both drawn by flipping the coins one by one from the stream (seed, "l2gd",
/// round): K ~ Geometric(p), m ~ Geometric(1 - p), and the long-run fraction of averaging steps
/// is p. The round's payload tells the clients K and the step scale 1 / (1 - p) (`l2gd` trainer).
/// The server averages the participants' models into x_bar (the global model), and, since x_bar
/// does not change during averaging steps, m steps move each participant to
///     x_i <- x_bar + (1 - theta)^m (x_i - x_bar),   theta = lr lambda / p  (must be <= 1).
/// With partial participation the coins, the average and the pull apply to the sampled clients.
public final class L2GDAggregator: AggregatorPlugin, RoundPayloadSource, ParticipantRefresh, @unchecked Sendable {
    public static let descriptor = PluginDescriptor(
        kind: .aggregator, name: "l2gd",
        summary:
            "loopless local GD: coin-flipped runs of local and averaging steps; participants pulled toward the mean (L2GD)",
        keys: [probability, lambda, weighting])

    public static let probability = ParameterKey.double(
        "p", default: 0.1, min: 0, max: 1, minExclusive: true,
        doc: "probability that an L2GD step is an averaging step (the mean number of local steps per round is 1/p)")
    public static let lambda = ParameterKey.double(
        "lambda", default: 5, min: 0, minExclusive: true,
        doc:
            "penalty lambda of the distance to the mean; each averaging step moves a model by theta = lr lambda / p of its distance to the mean"
    )
    public static let weighting = ParameterKey.choice(
        "weighting", default: WeightedAverage.Weighting.uniform,
        doc: "weights of the clients' models in the mean x_bar (L2GD: uniform)")

    public let probability: Double
    public let lambda: Double
    let average: WeightedAverage
    var seed: UInt64 = 0
    /// theta = lr lambda / p, set by `start`.
    var averagingStep = 0.0
    /// The coin runs drawn for each round so far: round -> (local steps K, averaging steps m).
    private(set) var draws: [Int: (local: Int, averaging: Int)] = [:]

    public init(parameters p: Parameters) throws {
        probability = p[Self.probability]
        lambda = p[Self.lambda]
        average = try WeightedAverage.make(
            Parameters().setting(WeightedAverage.scope, .all).setting(WeightedAverage.weighting, p[Self.weighting]))
    }

    /// p = 1 passes the declared range (0, 1] but never takes a local step.
    public func validate() throws {
        guard probability < 1 else { throw PluginError("l2gd: p must be below 1 (p = 1 never takes a local step)") }
    }

    public var updatesGlobalModel: Bool { true }

    public func start(_ federation: FederationFacts) throws {
        seed = federation.seed
        averagingStep = federation.localLearningRate * lambda / probability
        draws = [:]
        guard averagingStep <= 1 else {
            throw PluginError(
                "l2gd: the averaging step lr * lambda / p = \(federation.localLearningRate) * \(lambda) / \(probability) = \(averagingStep) exceeds 1 (it would overshoot the mean); lower lambda or lr, or raise p"
            )
        }
    }

    /// The coin runs of `round`: K local steps (the run starts with the local step that ended the
    /// previous averaging run), then m averaging steps.
    public func coinRuns(round: Int) -> (local: Int, averaging: Int) {
        if let drawn = draws[round] { return drawn }
        var coins = Seeds.stream(seed, "l2gd", round)
        var local = 1
        while coins.nextUnit() >= probability { local += 1 }
        var averaging = 1
        while coins.nextUnit() < probability { averaging += 1 }
        draws[round] = (local, averaging)
        return (local, averaging)
    }

    /// K and the local step scale 1 / (1 - p).
    public func payload(round: Int) throws -> StateDict {
        let runs = coinRuns(round: round)
        return StateDict([
            ("local_steps", try Tensor([Float(runs.local)])),
            ("step_scale", try Tensor([Float(1 / (1 - probability))])),
        ])
    }

    public func aggregate(_ updates: [ClientUpdate], global: StateDict) throws -> AggregationResult {
        try average.aggregate(updates, global: global)
    }

    /// x_bar + (1 - theta)^m (x_i - x_bar), entry by entry.
    public func refreshed(personal: StateDict, client: Int, round: Int, global: StateDict) throws -> StateDict {
        let keep = pow(1 - averagingStep, Double(coinRuns(round: round).averaging))
        let mean = Dictionary(uniqueKeysWithValues: global.entries.map { ($0.name, $0.tensor) })
        return StateDict(
            try withoutGrad {
                try personal.entries.map { entry in
                    guard let xBar = mean[entry.name] else {
                        throw PluginError("l2gd: the global model has no entry \(entry.name)")
                    }
                    return (entry.name, try xBar + (entry.tensor - xBar) * keep)
                }
            })
    }
}
