import FedKit

/// `cifar10`: the official binary version (cifar-10-batches-bin).
public struct CIFAR10Dataset: DatasetPlugin {
    public static let descriptor = PluginDescriptor(
        kind: .dataset, name: "cifar10",
        summary: "CIFAR-10, official binary version (cifar-10-batches-bin): 50,000 + 10,000 32x32 colour images, 10 classes",
        keys: [root, ImageParameters.normalize, ImageParameters.augment])

    public static let root = ParameterKey.path("root", default: "data/cifar-10-batches-bin",
                  doc: "folder with data_batch_1.bin ... data_batch_5.bin and test_batch.bin")

    public static let trainFiles = (1...5).map { "data_batch_\($0).bin" }
    public static let testFiles = ["test_batch.bin"]

    public let root: String
    public let normalize: Bool
    public let augment: Bool

    public init(parameters p: Parameters) throws {
        self.init(root: p[Self.root], normalize: p[ImageParameters.normalize], augment: p[ImageParameters.augment])
    }

    public init(root: String, normalize: Bool = true, augment: Bool = false) {
        self.root = root
        self.normalize = normalize
        self.augment = augment
    }

    public func requiredFiles() -> [RequiredFile] {
        let hint = DataFiles.downloadHint("cifar10", url: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
                                          layout: "data_batch_1.bin ... data_batch_5.bin and test_batch.bin")
        return (Self.trainFiles + Self.testFiles).map { RequiredFile(path: DataFiles.join(root, $0), hint: hint) }
    }

    public func load() throws -> DatasetSplits {
        try DataFiles.requireAll(requiredFiles(), dataset: "cifar10")
        var hasher = ContentHasher()
        hasher.combine("cifar10")
        let stats = ImageStatistics.cifar10
        func split(_ files: [String]) throws -> LabeledSamples {
            try CIFARBinary.split(files, root: root, dataset: "cifar10", labelRanges: [10], labelIndex: 0,
                                  statistics: normalize ? stats : nil, hasher: &hasher)
        }
        let train = try split(Self.trainFiles)
        let test = try split(Self.testFiles)
        return DatasetSplits(name: "cifar10", train: train, test: test, classes: 10, inputShape: CIFARBinary.imageShape,
                             augmentation: CIFARBinary.augmentation(augment, normalize: normalize, statistics: stats),
                             contentHash: hasher.hex)
    }
}
