import Torch

/// Inputs with class labels. `inputs` is [N, ...]: float32 features/images, or int64 token ids.
public struct LabeledSamples: @unchecked Sendable {
    public let inputs: Tensor
    public let labels: Tensor
    /// The labels as Swift integers (partitioners and metrics read these).
    public let labelArray: [Int]

    public init(inputs: Tensor, labels: [Int]) throws {
        guard inputs.shape.first == labels.count else {
            throw PluginError("inputs have \(inputs.shape.first ?? 0) rows but there are \(labels.count) labels")
        }
        self.inputs = inputs
        self.labels = try Tensor(labels)
        self.labelArray = labels
    }

    public var count: Int { labelArray.count }

    /// The samples at `indices` (a copy).
    public func subset(_ indices: [Int]) throws -> LabeledSamples {
        try LabeledSamples(inputs: inputs.rows(indices), labels: indices.map { labelArray[$0] })
    }

    /// Number of samples per class, `classes` entries.
    public func classCounts(classes: Int) -> [Int] {
        var counts = [Int](repeating: 0, count: classes)
        for y in labelArray where y >= 0 && y < classes { counts[y] += 1 }
        return counts
    }
}
