import Torch

/// An aggregator whose server step also moves the personal states of the round's participants,
/// after the global model is aggregated (L2GD's averaging step pulls every participant's model
/// toward the new mean). The engine reads each participant's stored personal state, passes it
/// here and stores what comes back; personal states of clients not sampled this round are untouched.
public protocol ParticipantRefresh {
    /// The participant's personal state after the round's server step. `global` is the freshly
    /// aggregated global model (read only).
    func refreshed(personal: StateDict, client: Int, round: Int, global: StateDict) throws -> StateDict
}
