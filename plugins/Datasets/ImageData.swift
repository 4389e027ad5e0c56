import FedKit
import Torch

/// The datasets' own training-set statistics (docs/datasets.md lists them).
extension ImageStatistics {
    /// CIFAR-10 training set (std over all training pixels of a channel; the often quoted 0.2023, 0.1994, 0.2010 is a different statistic).
    public static let cifar10 = ImageStatistics(mean: [0.4914, 0.4822, 0.4465], std: [0.2470, 0.2435, 0.2616])
    public static let cifar100 = ImageStatistics(mean: [0.5071, 0.4865, 0.4409], std: [0.2673, 0.2564, 0.2762])
    public static let mnist = ImageStatistics(mean: [0.1307], std: [0.3081])
    public static let fashionMNIST = ImageStatistics(mean: [0.2860], std: [0.3530])
    /// Computed on the LEAF FEMNIST sample (background 1.0, ink towards 0).
    public static let femnist = ImageStatistics(mean: [0.9614], std: [0.1639])
}

enum ImageTensors {
    /// A float32 [N, C, H, W] tensor from raw bytes (0-255), scaled to [0, 1] and optionally normalised.
    static func fromBytes(_ bytes: [UInt8], shape: [Int], statistics: ImageStatistics?) throws -> Tensor {
        let images = try Tensor(bytes: bytes, shape: shape, scale: 1.0 / 255.0)
        return try statistics?.normalize(images) ?? images
    }
}

/// How image pixels are scaled before training (`dataset.normalize`; docs/datasets.md,
/// "Normalisation"). Frameworks differ here, which changes results:
/// - standard: (x - mean) / std per channel with the dataset's training-set mean and std
///   (FedKit's default; Flower's and FedLab's examples, torchvision's usual recipes), or the
///   `mean` and `std` given;
/// - minus-one-one: (x - 0.5) / 0.5, pixels in [-1, 1] (PFLlib's generators:
///   Normalize([0.5], [0.5]));
/// - none: x in [0, 1] (LEAF's FEMNIST as stored; ToTensor() alone).
public enum ImageNormalization: String, Sendable, CaseIterable {
    case standard
    case minusOneOne = "minus-one-one"
    case none
}

/// Shared parameter declarations for image datasets.
enum ImageParameters {
    static let normalize = ParameterKey.choice(
        "normalize", default: ImageNormalization.standard,
        doc:
            "pixel scaling: standard ((x - mean) / std per channel, the dataset's statistics or mean/std below), minus-one-one ((x - 0.5) / 0.5, as PFLlib), none ([0, 1]); docs/datasets.md"
    )
    static let mean = ParameterKey.optionalDoubleList(
        "mean",
        doc:
            "per-channel mean for normalize: standard (default: the dataset's training-set mean, docs/datasets.md); give std too"
    )
    static let std = ParameterKey.optionalDoubleList(
        "std", exclusiveMin: 0,
        doc: "per-channel standard deviation for normalize: standard (default: the dataset's); give mean too")
    static let augment = ParameterKey.bool(
        "augment", default: false,
        doc: "training augmentation: random crop after 4-pixel padding and horizontal flip (seeded per batch)")
    static let augmentNoFlip = ParameterKey.bool(
        "augment", default: false,
        doc:
            "training augmentation: random crop after 4-pixel padding (no flip: digits and letters are not mirror-symmetric)"
    )
}

/// An image dataset: read from `root`, normalised as `normalize`, `mean` and `std` say, and
/// augmented when `augment` is true. Conforming types declare the keys and hold `settings`; the
/// cross-parameter check (`validate()`) and the statistics to normalise with come from here.
public protocol ImageDataset: DatasetPlugin {
    /// The dataset's own training-set statistics (`normalize: standard` without mean and std).
    static var standardStatistics: ImageStatistics { get }
    /// Root folder, normalisation and augmentation as given.
    var settings: ImageDatasetSettings { get }
}

extension ImageDataset {
    /// The folder the files are read from.
    public var root: String { settings.root }
    /// Whether training batches are augmented.
    public var augment: Bool { settings.augment }

    /// mean and std come together, with one value per channel, and only with `normalize: standard`.
    public func validate() throws {
        try settings.normalization.check(
            dataset: Self.descriptor.name, channels: Self.standardStatistics.mean.count)
    }

    /// Per-channel normalisation applied at load (nil: pixels stay in [0, 1]).
    public var statistics: ImageStatistics? {
        settings.normalization.statistics(standard: Self.standardStatistics)
    }
}

/// What every image dataset reads from its parameters.
public struct ImageDatasetSettings: Sendable, Equatable {
    public var root: String
    public var normalization: ImageNormalizationSettings
    public var augment: Bool

    /// The settings in validated parameters, `root` and `augment` read through the dataset's keys.
    init(_ parameters: Parameters, root: ParameterKey<String>, augment: ParameterKey<Bool>) {
        self.root = parameters[root]
        normalization = ImageNormalizationSettings(parameters)
        self.augment = parameters[augment]
    }

    /// Settings made in code: the dataset's own statistics (`normalize`) or none.
    public init(root: String, normalize: Bool, augment: Bool) {
        self.root = root
        normalization = ImageNormalizationSettings(standard: normalize)
        self.augment = augment
    }
}

/// The `normalize`, `mean` and `std` an image dataset was given, and the statistics they ask
/// for. `standard` gives the dataset's own statistics unless mean and std are both given.
public struct ImageNormalizationSettings: Sendable, Equatable {
    public var mode: ImageNormalization
    public var mean: [Double]?
    public var std: [Double]?

    /// The settings in validated parameters.
    init(_ parameters: Parameters) {
        mode = parameters[ImageParameters.normalize]
        mean = parameters[ImageParameters.mean]
        std = parameters[ImageParameters.std]
    }

    /// The dataset's own statistics (`standard`) or no normalisation (`none`).
    public init(standard: Bool) {
        mode = standard ? .standard : .none
    }

    /// The checks across the three parameters (a dataset's `validate()`): mean and std come
    /// together, with one value per channel, and only with `normalize: standard`.
    func check(dataset: String, channels: Int) throws {
        switch (mode, mean, std) {
        case (.standard, nil, nil):
            return
        case (.standard, let m?, let s?):
            guard m.count == channels, s.count == channels else {
                throw PluginError(
                    "\(dataset): mean and std need \(channels) value\(channels == 1 ? "" : "s") (one per channel), got \(m.count) and \(s.count)"
                )
            }
        case (.standard, _, _):
            throw PluginError("\(dataset): give both mean and std, or neither (the dataset's statistics)")
        case (.minusOneOne, nil, nil), (.none, nil, nil):
            return
        default:
            throw PluginError(
                "\(dataset): mean and std apply to normalize: standard only (normalize is \(mode.rawValue))")
        }
    }

    /// The statistics to normalise with (nil: pixels stay in [0, 1]), given the dataset's own.
    /// Settings that fail `check` fall back to the dataset's own statistics.
    func statistics(standard: ImageStatistics) -> ImageStatistics? {
        let channels = standard.mean.count
        switch mode {
        case .standard:
            guard let mean, let std, mean.count == channels, std.count == channels else { return standard }
            return ImageStatistics(mean: mean.map(Float.init), std: std.map(Float.init))
        case .minusOneOne:
            return ImageStatistics(
                mean: Array(repeating: 0.5, count: channels), std: Array(repeating: 0.5, count: channels))
        case .none:
            return nil
        }
    }
}
