import Torch

/// A plugin whose instance carries state from one round to the next (a warm-started
/// generator and its optimiser moments, server control variates, fixed inputs drawn once
/// per run, ...). One instance lives for one run (method x seed). The engine saves this
/// state in every round checkpoint and restores it on `--resume`, so an interrupted run
/// continues exactly as if it had never stopped. Plugins without such state do not adopt it.
public protocol RoundCarriedState: AnyObject {
    /// Everything the plugin carries into the next round, as named tensors (counters and
    /// other scalars as 0- or 1-element int64/float64 tensors). Values, not views: the engine
    /// may write them to disk while the next round runs.
    func saveCarriedState() throws -> StateDict
    /// Restores what `saveCarriedState` returned (before the first round after a resume).
    /// Throws a `PluginError` naming the missing or mismatched entry.
    func restoreCarriedState(_ state: StateDict) throws
}
