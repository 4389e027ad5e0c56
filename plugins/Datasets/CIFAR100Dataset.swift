import FedKit

/// `cifar100`: the official binary version (cifar-100-binary), fine (100) or coarse (20) labels.
public struct CIFAR100Dataset: ImageDataset {
    public static let descriptor = PluginDescriptor(
        kind: .dataset, name: "cifar100",
        summary:
            "CIFAR-100, official binary version (cifar-100-binary): 50,000 + 10,000 32x32 colour images, 100 fine or 20 coarse classes",
        keys: [
            root, label, ImageParameters.normalize, ImageParameters.mean, ImageParameters.std, ImageParameters.augment,
        ])

    public static let root = ParameterKey.path(
        "root", default: "data/cifar-100-binary", doc: "folder with train.bin and test.bin")
    public static let standardStatistics = ImageStatistics.cifar100
    public static let label = ParameterKey.choice(
        "label", default: Label.fine, doc: "which label is the class: fine (100 classes) or coarse (20 superclasses)")

    /// Which CIFAR-100 label is the class.
    public enum Label: String, CaseIterable, Sendable {
        case fine, coarse
    }

    public let coarse: Bool
    public let settings: ImageDatasetSettings

    public init(parameters: Parameters) throws {
        coarse = parameters[Self.label] == .coarse
        settings = ImageDatasetSettings(parameters, root: Self.root, augment: ImageParameters.augment)
    }

    public init(root: String, coarse: Bool = false, normalize: Bool = true, augment: Bool = false) {
        self.coarse = coarse
        settings = ImageDatasetSettings(root: root, normalize: normalize, augment: augment)
    }

    public func requiredFiles() -> [RequiredFile] {
        let hint = DataFiles.downloadHint(
            "cifar100", url: "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
            layout: "train.bin and test.bin")
        return ["train.bin", "test.bin"].map { RequiredFile(path: DataFiles.join(root, $0), hint: hint) }
    }

    public func load() throws -> DatasetSplits {
        try DataFiles.requireAll(requiredFiles(), dataset: "cifar100")
        let classes = coarse ? 20 : 100
        var hasher = ContentHasher()
        hasher.combine("cifar100")
        hasher.combine(coarse ? "coarse" : "fine")
        func split(_ name: String) throws -> LabeledSamples {
            var pixels: [UInt8] = []
            var labels: [Int] = []
            let path = DataFiles.join(root, name)
            try CIFARBinary.read(
                path, dataset: "cifar100", labelRanges: [20, 100], labelIndex: coarse ? 0 : 1,
                pixels: &pixels, labels: &labels, hasher: &hasher)
            let images = try ImageTensors.fromBytes(
                pixels, shape: [labels.count, 3, 32, 32],
                statistics: statistics)
            return try LabeledSamples(inputs: images, labels: labels)
        }
        let train = try split("train.bin")
        let test = try split("test.bin")
        return DatasetSplits(
            name: "cifar100", train: train, test: test, classes: classes, inputShape: [3, 32, 32],
            augmentation: augment
                ? RandomCropFlip(
                    padding: 4, flip: true,
                    padValue: statistics?.normalizedZero ?? [0, 0, 0]) : nil,
            pixelScaling: statistics ?? .identity(channels: 3), contentHash: hasher.hex)
    }
}
