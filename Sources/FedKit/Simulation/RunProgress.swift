/// Progress of a run, for the live status line.
public struct RunProgress: Sendable {
    public var method: String
    public var seed: Int
    public var round: Int
    public var rounds: Int
    public var globalAccuracy: Double?
    public var personalizedAccuracy: Double?
    /// How many clients the personalised accuracy is over, and of how many.
    public var personalizedClients: Int?
    public var clients: Int
    public var elapsedSeconds: Double
}
