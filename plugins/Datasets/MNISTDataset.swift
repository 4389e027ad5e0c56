import FedKit

/// `mnist`: handwritten digits in the IDX format (gzipped or not).
public struct MNISTDataset: ImageDataset {
    public static let descriptor = PluginDescriptor(
        kind: .dataset, name: "mnist",
        summary: "MNIST digits, IDX format (gzipped or not): 60,000 + 10,000 28x28 grey-scale images, 10 classes",
        keys: [
            root, ImageParameters.normalize, ImageParameters.mean, ImageParameters.std, ImageParameters.augmentNoFlip,
        ])

    public static let root = ParameterKey.path(
        "root", default: "data/mnist",
        doc:
            "folder with train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (each optionally .gz)"
    )
    public static let standardStatistics = ImageStatistics.mnist

    public let settings: ImageDatasetSettings

    public init(parameters: Parameters) throws {
        settings = ImageDatasetSettings(parameters, root: Self.root, augment: ImageParameters.augmentNoFlip)
    }

    public init(root: String, normalize: Bool = true, augment: Bool = false) {
        settings = ImageDatasetSettings(root: root, normalize: normalize, augment: augment)
    }

    var loader: IDXImageDataset {
        return IDXImageDataset(
            name: "mnist", root: root, statistics: statistics,
            augmentation: augment
                ? RandomCropFlip(padding: 2, flip: false, padValue: statistics?.normalizedZero ?? [0]) : nil,
            hint: DataFiles.downloadHint(
                "mnist",
                url:
                    "the four *-ubyte.gz files of https://storage.googleapis.com/cvdf-datasets/mnist/ (a mirror of yann.lecun.com/exdb/mnist)",
                layout: "the four IDX files"))
    }

    public func requiredFiles() -> [RequiredFile] { loader.requiredFiles() }

    public func load() throws -> DatasetSplits { try loader.load() }
}
