import Torch

/// Local-training hyperparameters shared by all trainers (from the `federation` section).
public struct LocalHyperparameters: Sendable, Equatable {
    public var epochs: Int
    public var batchSize: Int
    public var learningRate: Double
    public var momentum: Double
    public var weightDecay: Double
    /// Skip each epoch's last, smaller batch (PyTorch's `DataLoader(drop_last=True)`, as PFLlib
    /// trains); a client with fewer samples than a batch then trains nothing.
    public var dropLast: Bool

    public init(
        epochs: Int, batchSize: Int, learningRate: Double, momentum: Double = 0, weightDecay: Double = 0,
        dropLast: Bool = false
    ) {
        self.epochs = epochs
        self.batchSize = batchSize
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.dropLast = dropLast
    }
}

/// Everything a trainer may use for one client's local update.
///
/// ### Lifetime and threads
/// The engine creates one context per (round, client) on the worker that trains the client and
/// drops it when `train` returns. Contexts of different clients live on different threads at the
/// same time; nothing in one is shared with another except `global` (read-only).
///
/// ### Ownership
/// The worker owns `model` and `scratch`: state is loaded into them, never deep-copied per
/// client, so a trainer must not keep references to them (or to their tensors) after `train`
/// returns. `global`, `personal` and `data` are snapshots the trainer reads and must not modify.
///
/// ### What the engine reads back
/// Only `model` (its state is the client's update) and the returned `LocalTrainingReport`; the
/// context itself carries nothing back.
public final class ClientTrainingContext: @unchecked Sendable {
    /// The client's index (0-based), as in clients.csv.
    public let client: Int
    /// The round (1-based).
    public let round: Int
    /// The model to train, loaded with the method's start state for this client (`local_start`),
    /// in training mode, its dropout stream seeded for (round, client).
    public let model: Network
    /// A second network of the same architecture owned by the worker (e.g. Ditto's personal
    /// model); its contents on entry are unspecified: load a state before using it.
    public let scratch: Network
    /// The client's training data.
    public let data: LabeledSamples
    /// The round's global model (a snapshot; do not modify).
    public let global: StateDict
    /// The client's stored personal state from earlier rounds (nil if never trained): a whole
    /// model or only its head, as the method's `personal` key says. Read-only: a trainer that
    /// produces a new personal model returns it in `LocalTrainingReport.personal`.
    public let personal: StateDict?
    /// Local hyperparameters from the `federation` section (epochs, batch size, lr, ...).
    public let settings: LocalHyperparameters
    /// Seeded for this (round, client) pair: batch order, dropout, augmentation.
    public let generator: RandomGenerator
    /// The dataset's training augmentation, if any (`LocalLoop` applies it to every batch).
    public let augmentation: (any Augmentation)?
    /// What the server sent with this round besides the global model (`RoundPayloadSource`;
    /// SCAFFOLD's control variate c). Empty when the aggregator sends nothing.
    public let payload: StateDict
    /// State this client keeps across rounds besides its personal model (SCAFFOLD's c_i, APFL's
    /// alpha) as the trainer last returned it (`LocalTrainingReport.carried`), nil before its first
    /// round. Read-only.
    public let carried: StateDict?

    public init(
        client: Int, round: Int, model: Network, scratch: Network, data: LabeledSamples, global: StateDict,
        personal: StateDict?, settings: LocalHyperparameters, generator: RandomGenerator,
        augmentation: (any Augmentation)? = nil, payload: StateDict = StateDict([]), carried: StateDict? = nil
    ) {
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

/// What a trainer returns.
public struct LocalTrainingReport: @unchecked Sendable {
    /// Mean training loss over the last epoch's batches.
    public var trainLoss: Double
    /// Optimiser steps taken.
    public var steps: Int
    /// A personal model the trainer trained itself, apart from `context.model` (Ditto); the engine
    /// stores it as the client's personal state. nil: the engine keeps the part of the trained
    /// model the method's `personal` key names.
    public var personal: StateDict?
    /// State the client keeps across rounds besides its personal state (SCAFFOLD's c_i, APFL's
    /// alpha); the engine stores it (in a store of its own, bounded by `federation.state_memory_mb`
    /// like the personal states) and passes it back as `context.carried` in the client's next round.
    /// nil: nothing to store (an earlier carried state is kept).
    public var carried: StateDict?
    /// What the client sends back besides its model (SCAFFOLD's delta c_i), read by the aggregator
    /// as `ClientUpdate.upload`. Empty by default.
    public var upload: StateDict

    public init(
        trainLoss: Double, steps: Int, personal: StateDict? = nil, carried: StateDict? = nil,
        upload: StateDict = StateDict([])
    ) {
        self.trainLoss = trainLoss
        self.steps = steps
        self.personal = personal
        self.carried = carried
        self.upload = upload
    }
}

/// A trained client's contribution to aggregation.
public struct ClientUpdate: @unchecked Sendable {
    public var client: Int
    /// The client's model after local training (a snapshot, same names as the global state).
    public var state: StateDict
    /// Number of training samples (the aggregation weight).
    public var samples: Int
    /// What the trainer sent besides the model (`LocalTrainingReport.upload`).
    public var upload: StateDict

    public init(client: Int, state: StateDict, samples: Int, upload: StateDict = StateDict([])) {
        self.client = client
        self.state = state
        self.samples = samples
        self.upload = upload
    }
}
