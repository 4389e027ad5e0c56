/// One row of clients.csv.
public struct ClientRow: Sendable {
    public var client: Int
    public var trainSamples: Int
    public var validationSamples: Int
    public var testSamples: Int
    public var classes: Int
    public var timesSampled: Int
    public var hasPersonalState: Bool
    /// The model the final accuracy is from (`global`, `personal`, `round-output`), or
    /// `never-trained` for a client that was never scored.
    public var evaluatedWith: String
    /// Its final personalised accuracy; nil when never scored.
    public var personalizedAccuracy: Double?
    /// The same on its validation split; nil when never scored or the split is empty.
    public var validationAccuracy: Double?
    /// The client's personal model on the whole test set (eval.personal_global_test), else nil.
    public var globalTestAccuracy: Double?
}
