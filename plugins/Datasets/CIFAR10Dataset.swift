import FedKit

/// `cifar10`: the official binary version (cifar-10-batches-bin).
public struct CIFAR10Dataset: ImageDataset {
    public static let descriptor = PluginDescriptor(
        kind: .dataset, name: "cifar10",
        summary:
            "CIFAR-10, official binary version (cifar-10-batches-bin): 50,000 + 10,000 32x32 colour images, 10 classes",
        keys: [root, ImageParameters.normalize, ImageParameters.mean, ImageParameters.std, ImageParameters.augment])

    public static let root = ParameterKey.path(
        "root", default: "data/cifar-10-batches-bin",
        doc: "folder with data_batch_1.bin ... data_batch_5.bin and test_batch.bin")
    public static let standardStatistics = ImageStatistics.cifar10

    public static let trainFiles = (1...5).map { "data_batch_\($0).bin" }
    public static let testFiles = ["test_batch.bin"]

    public let settings: ImageDatasetSettings

    public init(parameters: Parameters) throws {
        settings = ImageDatasetSettings(parameters, root: Self.root, augment: ImageParameters.augment)
    }

    public init(root: String, normalize: Bool = true, augment: Bool = false) {
        settings = ImageDatasetSettings(root: root, normalize: normalize, augment: augment)
    }

    public func requiredFiles() -> [RequiredFile] {
        let hint = DataFiles.downloadHint(
            "cifar10", url: "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
            layout: "data_batch_1.bin ... data_batch_5.bin and test_batch.bin")
        return (Self.trainFiles + Self.testFiles).map { RequiredFile(path: DataFiles.join(root, $0), hint: hint) }
    }

    public func load() throws -> DatasetSplits {
        try DataFiles.requireAll(requiredFiles(), dataset: "cifar10")
        var hasher = ContentHasher()
        hasher.combine("cifar10")
        func split(_ files: [String]) throws -> LabeledSamples {
            var pixels: [UInt8] = []
            var labels: [Int] = []
            for name in files {
                try CIFARBinary.read(
                    DataFiles.join(root, name), dataset: "cifar10", labelRanges: [10], labelIndex: 0,
                    pixels: &pixels, labels: &labels, hasher: &hasher)
            }
            let images = try ImageTensors.fromBytes(
                pixels, shape: [labels.count, 3, 32, 32],
                statistics: statistics)
            return try LabeledSamples(inputs: images, labels: labels)
        }
        let train = try split(Self.trainFiles)
        let test = try split(Self.testFiles)
        return DatasetSplits(
            name: "cifar10", train: train, test: test, classes: 10, inputShape: [3, 32, 32],
            augmentation: augment
                ? RandomCropFlip(
                    padding: 4, flip: true,
                    padValue: statistics?.normalizedZero ?? [0, 0, 0]) : nil,
            pixelScaling: statistics ?? .identity(channels: 3), contentHash: hasher.hex)
    }
}
