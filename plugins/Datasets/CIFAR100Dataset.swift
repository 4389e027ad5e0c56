import FedKit

/// `cifar100`: the official binary version (cifar-100-binary), fine (100) or coarse (20) labels.
public struct CIFAR100Dataset: DatasetPlugin {
    public static let descriptor = PluginDescriptor(
        kind: .dataset, name: "cifar100",
        summary: "CIFAR-100, official binary version (cifar-100-binary): 50,000 + 10,000 32x32 colour images, 100 fine or 20 coarse classes",
        keys: [root, label, ImageParameters.normalize, ImageParameters.augment])

    /// Which of CIFAR-100's two labels is the class.
    public enum Label: String, CaseIterable, Sendable {
        case fine, coarse
    }

    public static let root = ParameterKey.path("root", default: "data/cifar-100-binary", doc: "folder with train.bin and test.bin")
    public static let label = ParameterKey.choice(
        "label", default: Label.fine, doc: "which label is the class: fine (100 classes) or coarse (20 superclasses)")

    public let root: String
    public let coarse: Bool
    public let normalize: Bool
    public let augment: Bool

    public init(parameters p: Parameters) throws {
        root = p[Self.root]
        coarse = p[Self.label] == .coarse
        normalize = p[ImageParameters.normalize]
        augment = p[ImageParameters.augment]
    }

    public init(root: String, coarse: Bool = false, normalize: Bool = true, augment: Bool = false) {
        self.root = root
        self.coarse = coarse
        self.normalize = normalize
        self.augment = augment
    }

    public func requiredFiles() -> [RequiredFile] {
        let hint = DataFiles.downloadHint("cifar100", url: "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
                                          layout: "train.bin and test.bin")
        return ["train.bin", "test.bin"].map { RequiredFile(path: DataFiles.join(root, $0), hint: hint) }
    }

    public func load() throws -> DatasetSplits {
        try DataFiles.requireAll(requiredFiles(), dataset: "cifar100")
        let classes = coarse ? 20 : 100
        var hasher = ContentHasher()
        hasher.combine("cifar100")
        hasher.combine(coarse ? "coarse" : "fine")
        let stats = ImageStatistics.cifar100
        func split(_ name: String) throws -> LabeledSamples {
            try CIFARBinary.split([name], root: root, dataset: "cifar100", labelRanges: [20, 100], labelIndex: coarse ? 0 : 1,
                                  statistics: normalize ? stats : nil, hasher: &hasher)
        }
        let train = try split("train.bin")
        let test = try split("test.bin")
        return DatasetSplits(name: "cifar100", train: train, test: test, classes: classes, inputShape: CIFARBinary.imageShape,
                             augmentation: CIFARBinary.augmentation(augment, normalize: normalize, statistics: stats),
                             contentHash: hasher.hex)
    }
}
