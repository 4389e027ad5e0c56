/// What a partitioner splits: the training labels (and natural users, if any) over `clients`.
public struct PartitionRequest: Sendable {
    public var labels: [Int]
    public var classes: Int
    /// Natural user id per sample (LEAF), nil for datasets without users.
    public var users: [String]?
    public var clients: Int

    public init(labels: [Int], classes: Int, users: [String]? = nil, clients: Int) {
        self.labels = labels
        self.classes = classes
        self.users = users
        self.clients = clients
    }
}
