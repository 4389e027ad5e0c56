import FedKit

/// `fashion-mnist`: Zalando's Fashion-MNIST in the IDX format; defaults to Debian's package.
public struct FashionMNISTDataset: ImageDataset {
    public static let descriptor = PluginDescriptor(
        kind: .dataset, name: "fashion-mnist",
        summary: "Fashion-MNIST, IDX format (gzipped or not): 60,000 + 10,000 28x28 grey-scale images, 10 classes",
        keys: [root, ImageParameters.normalize, ImageParameters.mean, ImageParameters.std, ImageParameters.augment])

    public static let root = ParameterKey.path(
        "root", default: "/usr/share/datasets/fashion-mnist",
        doc:
            "folder with train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz (or uncompressed); the default is where Debian's dataset-fashion-mnist package installs them"
    )
    public static let standardStatistics = ImageStatistics.fashionMNIST

    public let settings: ImageDatasetSettings

    public init(parameters: Parameters) throws {
        settings = ImageDatasetSettings(parameters, root: Self.root, augment: ImageParameters.augment)
    }

    public init(root: String = "/usr/share/datasets/fashion-mnist", normalize: Bool = true, augment: Bool = false) {
        settings = ImageDatasetSettings(root: root, normalize: normalize, augment: augment)
    }

    var loader: IDXImageDataset {
        return IDXImageDataset(
            name: "fashion-mnist", root: root, statistics: statistics,
            augmentation: augment
                ? RandomCropFlip(padding: 2, flip: true, padValue: statistics?.normalizedZero ?? [0]) : nil,
            hint:
                "Install Debian's package (`apt-get install dataset-fashion-mnist`, files in /usr/share/datasets/fashion-mnist), "
                + "or run `bash scripts/download-data.sh fashion-mnist` on a machine with internet (downloads the four *-ubyte.gz "
                + "files of http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/ and checks their sha256) and set dataset.root "
                + "to data/fashion-mnist. See docs/datasets.md.")
    }

    public func requiredFiles() -> [RequiredFile] { loader.requiredFiles() }

    public func load() throws -> DatasetSplits { try loader.load() }
}
