import Torch

/// Clients of one round trained as one stacked computation (`federation.batched_clients`):
/// the engine loads each client's start state into one slot of `network` and, after the
/// trainer returns, reads each slot back as that client's trained model.
///
/// Slots are ordered by decreasing training-set size, so the slots whose data ends first sit at
/// the end of the stack and a step's remaining slots are one contiguous range.
public final class ClientStack: @unchecked Sendable {
    /// One context per slot, in slot order. Their `model` and `scratch` are the worker's networks
    /// and are not loaded with the client's state: a stacked trainer trains `network`. Everything
    /// else (data, generator, global, personal, settings, augmentation) is as for one client.
    public let contexts: [ClientTrainingContext]
    /// The clients' models, slot k holding `contexts[k].client`'s start state.
    public let network: StackedNetwork
    /// A network of the clients' architecture to build further stacks from (Ditto's personal
    /// models); its values are unspecified.
    public let template: Network

    /// The federation's local hyperparameters (the same for every client).
    public let settings: LocalHyperparameters

    /// `contexts` must not be empty and must match `network`'s slots.
    public init(contexts: [ClientTrainingContext], network: StackedNetwork, template: Network) {
        precondition(!contexts.isEmpty && contexts.count == network.count, "a stack needs one context per slot")
        self.contexts = contexts
        settings = contexts[0].settings
        self.network = network
        self.template = template
    }

    /// The number of slots.
    public var count: Int { contexts.count }
}

/// A trainer that can train many clients as one stack, with the same result per client as
/// `train(_:)` up to float rounding (summation order changes inside the stacked kernels).
///
/// The engine uses it when `federation.batched_clients` is not `off`, the model can be stacked
/// (`StackedNetwork.unsupportedLayer(in:)` is nil) and `canTrainStacked` holds; otherwise it
/// calls `train(_:)` per client.
public protocol StackedTrainer: TrainerPlugin {
    /// Whether this instance (with its parameters) trains stacked; true by default.
    var canTrainStacked: Bool { get }
    /// Trains every client of `stack` in place; one report per slot, in slot order. A failure of
    /// one client is a `StackedClientFailure` naming its slot.
    func train(_ stack: ClientStack) throws -> [LocalTrainingReport]
}

extension StackedTrainer {
    public var canTrainStacked: Bool { true }
}

/// An error of one client of a stack (e.g. its loss diverged), so that the engine can name it.
public struct StackedClientFailure: Error, CustomStringConvertible {
    /// The slot in the stack.
    public var slot: Int
    /// What went wrong, as training that client alone would have said it.
    public var error: any Error

    public init(slot: Int, error: any Error) {
        self.slot = slot
        self.error = error
    }

    public var description: String { "\(error)" }
}
