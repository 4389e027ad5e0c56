/// A run that stopped (divergence, a plugin error): names where, so the other runs can go on.
public struct RunFailure: Error, CustomStringConvertible, Sendable {
    public var method: String
    public var seed: Int
    public var round: Int?
    public var client: Int?
    public var message: String

    public init(method: String, seed: Int, round: Int? = nil, client: Int? = nil, message: String) {
        self.method = method
        self.seed = seed
        self.round = round
        self.client = client
        self.message = message
    }

    public var description: String {
        var place = "method \(method), seed \(seed)"
        if let round { place += ", round \(round)" }
        if let client { place += ", client \(client)" }
        return "\(place): \(message)"
    }
}
