import FedKit

/// `mnist`: handwritten digits in the IDX format (gzipped or not).
public struct MNISTDataset: DatasetPlugin {
    public static let descriptor = PluginDescriptor(
        kind: .dataset, name: "mnist",
        summary: "MNIST digits, IDX format (gzipped or not): 60,000 + 10,000 28x28 grey-scale images, 10 classes",
        parameters: [
            .path("root", default: "data/mnist",
                  doc: "folder with train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (each optionally .gz)"),
            ImageParameters.normalize,
            ImageParameters.mean,
            ImageParameters.std,
            ImageParameters.augmentNoFlip,
        ])

    public let root: String
    /// Per-channel normalisation applied at load (nil: pixels in [0, 1]).
    public let statistics: ImageStatistics?
    public let augment: Bool

    public init(parameters: Parameters) throws {
        root = parameters.string("root")
        statistics = try ImageParameters.statistics(parameters, dataset: "mnist", standard: .mnist)
        augment = parameters.bool("augment")
    }

    public init(root: String, normalize: Bool = true, augment: Bool = false) {
        self.root = root
        self.statistics = normalize ? .mnist : nil
        self.augment = augment
    }

    var loader: IDXImageDataset {
        return IDXImageDataset(
            name: "mnist", root: root, statistics: statistics,
            augmentation: augment ? RandomCropFlip(padding: 2, flip: false, padValue: statistics?.normalizedZero ?? [0]) : nil,
            hint: DataFiles.downloadHint("mnist", url: "the four *-ubyte.gz files of https://storage.googleapis.com/cvdf-datasets/mnist/ (a mirror of yann.lecun.com/exdb/mnist)",
                                         layout: "the four IDX files"))
    }

    public func requiredFiles() -> [RequiredFile] { loader.requiredFiles() }

    public func load() throws -> DatasetSplits { try loader.load() }
}
