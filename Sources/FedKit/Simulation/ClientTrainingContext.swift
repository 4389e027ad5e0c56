import Torch

/// Local-training hyperparameters shared by all trainers (from the `federation` section).
public struct LocalHyperparameters: Sendable, Equatable {
    public var epochs: Int
    public var batchSize: Int
    public var learningRate: Double
    public var momentum: Double
    public var weightDecay: Double

    public init(epochs: Int, batchSize: Int, learningRate: Double, momentum: Double = 0, weightDecay: Double = 0) {
        self.epochs = epochs
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
    }
}

/// Everything a trainer may use for one client's local update. The worker owns `model`
/// and `scratch`; state is loaded into them, never deep-copied per client.
public final class ClientTrainingContext: @unchecked Sendable {
    public let client: Int
    public let round: Int
    /// The model to train, loaded with the method's start state for this client.
    public let model: Network
    /// A second network of the same architecture owned by the worker (e.g. Ditto's personal model).
    public let scratch: Network
    /// The client's training data.
    public let data: LabeledSamples
    /// The round's global model (a snapshot; do not modify).
    public let global: StateDict
    /// The client's stored personal model from earlier rounds (nil if never trained).
    /// A trainer that manages personal state itself (Ditto) replaces it.
    public var personal: StateDict?
    /// Set by trainers that wrote `personal` themselves.
    public var personalSetByTrainer = false
    public let settings: LocalHyperparameters
    /// Seeded for this (round, client) pair: batch order, dropout, augmentation.
    public let generator: RandomGenerator
    public let augmentation: (any Augmentation)?
    /// What the server sent with this round besides the global model (`RoundPayloadSource`;
    /// SCAFFOLD's control variate c). Empty when the aggregator sends nothing.
    public let payload: StateDict
    /// State this client keeps across rounds besides its personal model (SCAFFOLD's c_i, APFL's
    /// alpha), nil before its first round. A trainer that sets it has it stored for the client's
    /// next round (in a store of its own, bounded by `federation.state_memory_mb` like the
    /// personal states).
    public var carried: StateDict?
    /// What the client sends back besides its model (SCAFFOLD's delta c_i), read by the
    /// aggregator as `ClientUpdate.upload`. Empty by default.
    public var upload = StateDict([])

    public init(client: Int, round: Int, model: Network, scratch: Network, data: LabeledSamples, global: StateDict,
                personal: StateDict?, settings: LocalHyperparameters, generator: RandomGenerator,
                augmentation: (any Augmentation)? = nil, payload: StateDict = StateDict([]), carried: StateDict? = nil) {
        self.client = client
        self.round = round
        self.model = model
        self.scratch = scratch
        self.data = data
        self.global = global
        self.personal = personal
        self.settings = settings
        self.generator = generator
        self.augmentation = augmentation
        self.payload = payload
        self.carried = carried
    }
}

/// What a trainer reports.
public struct LocalTrainingReport: Sendable, Equatable {
    /// Mean training loss over the last epoch's batches.
    public var trainLoss: Double
    /// Optimiser steps taken.
    public var steps: Int

    public init(trainLoss: Double, steps: Int) {
        self.trainLoss = trainLoss
        self.steps = steps
    }
}

/// A trained client's contribution to aggregation.
public struct ClientUpdate: @unchecked Sendable {
    public var client: Int
    /// The client's model after local training (a snapshot, same names as the global state).
    public var state: StateDict
    /// Number of training samples (the aggregation weight).
    public var samples: Int
    /// What the trainer sent besides the model (`ClientTrainingContext.upload`).
    public var upload: StateDict

    public init(client: Int, state: StateDict, samples: Int, upload: StateDict = StateDict([])) {
        self.client = client
        self.state = state
        self.samples = samples
        self.upload = upload
    }
}
