import FedKit
import Torch

/// `femnist`: LEAF's Federated EMNIST (62 classes: digits, upper- and lower-case letters) with
/// its writers as natural users. Reads LEAF's JSON files from `root/train` and `root/test`.
public struct FEMNISTDataset: ImageDataset {
    public static let descriptor = PluginDescriptor(
        kind: .dataset, name: "femnist",
        summary: "LEAF FEMNIST (JSON): 28x28 handwritten characters, 62 classes, writers kept as natural users",
        keys: [
            root, ImageParameters.normalize, ImageParameters.mean, ImageParameters.std, ImageParameters.augmentNoFlip,
        ])

    public static let root = ParameterKey.path(
        "root", default: "data/femnist", doc: "folder with LEAF's train/ and test/ folders of .json files")
    public static let standardStatistics = ImageStatistics.femnist

    public static let classes = 62
    public static let pixels = 28 * 28

    public let settings: ImageDatasetSettings

    public init(parameters: Parameters) throws {
        settings = ImageDatasetSettings(parameters, root: Self.root, augment: ImageParameters.augmentNoFlip)
    }

    public init(root: String, normalize: Bool = true, augment: Bool = false) {
        settings = ImageDatasetSettings(root: root, normalize: normalize, augment: augment)
    }

    static let hint =
        "Generate it with LEAF (https://github.com/TalwalkarLab/leaf, data/femnist: ./preprocess.sh -s niid "
        + "--sf 1.0 -k 0 -t sample), or run `bash scripts/download-data.sh femnist` for the project's sample, and set "
        + "dataset.root to the folder holding train/ and test/. See docs/datasets.md."

    public func requiredFiles() -> [RequiredFile] {
        ["train", "test"].map { RequiredFile(path: DataFiles.join(root, $0), hint: Self.hint) }
    }

    public func load() throws -> DatasetSplits {
        try DataFiles.requireAll(requiredFiles(), dataset: "femnist")
        var hasher = ContentHasher()
        hasher.combine("femnist")
        func split(_ name: String) throws -> (LabeledSamples, [String]) {
            var pixels: [Float] = []
            var labels: [Int] = []
            var users: [String] = []
            try LEAFReader.read(
                folder: DataFiles.join(root, name), dataset: "femnist", classes: Self.classes, hasher: &hasher
            ) { sample in
                guard case .numbers(let values) = sample.x, values.count == Self.pixels else {
                    let problem: String
                    switch sample.x {
                    case .numbers(let values): problem = "x has \(values.count) values"
                    case .array(let items): problem = "x has \(items.count) values, not all numbers"
                    default: problem = "x is \(sample.x.kindName)"
                    }
                    throw PluginError(
                        "femnist: \(DataFiles.join(root, name)): user '\(sample.user)', sample \(labels.count): \(problem), "
                            + "expected \(Self.pixels) numbers (28x28)")
                }
                pixels.append(contentsOf: values)
                labels.append(sample.y)
                users.append(sample.user)
            }
            var images = try Tensor(pixels, shape: [labels.count, 1, 28, 28])
            if let statistics { images = try statistics.normalize(images) }
            return (try LabeledSamples(inputs: images, labels: labels), users)
        }
        let (train, trainUsers) = try split("train")
        let (test, testUsers) = try split("test")
        // LEAF's background is 1.0 (white): pad with white, not black.
        let white = statistics.map { s in zip(s.mean, s.std).map { (1 - $0) / $1 } } ?? [1]
        return DatasetSplits(
            name: "femnist", train: train, test: test, classes: Self.classes, inputShape: [1, 28, 28],
            trainUsers: trainUsers, testUsers: testUsers,
            augmentation: augment ? RandomCropFlip(padding: 2, flip: false, padValue: white) : nil,
            pixelScaling: statistics ?? .identity(channels: 1), contentHash: hasher.hex)
    }
}
