/// What a model plugin needs to know about the data.
public struct ModelInput: Sendable, Equatable {
    public var inputShape: [Int]
    public var classes: Int
    public var inputKind: InputKind

    public init(inputShape: [Int], classes: Int, inputKind: InputKind = .continuous) {
        self.inputShape = inputShape
        self.classes = classes
        self.inputKind = inputKind
    }
}
