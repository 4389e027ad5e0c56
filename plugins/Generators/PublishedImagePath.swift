import FedKit
import Torch

/// What the FedBKD authors' generator does to its output before anyone sees it
/// (GAN_train.py `Generator.forward`, `image_path: published`): for CIFAR the flat output is read
/// as 32 x 32 x 3 (`z.reshape((N, 32, 32, 3))`), each image is cast to uint8 by numpy
/// (`astype(np.uint8)`), made a PIL image and put through the training transform
/// (`trans_cifar10_train`: random crop after 4 pixels of black padding, horizontal flip, /255,
/// normalisation). The samples that teachers and students see are these images; no gradient
/// reaches G through them. Their normalisation is that of their data pipeline; here it is the
/// dataset's own (`ImageStatistics`, as the run's client data), so that generated and real
/// images are scaled alike.
enum PublishedImagePath {
    /// The one sample shape the authors' image branch accepts (its reshape to 32 x 32 x 3).
    static let shape = [3, 32, 32]

    /// Whether samples of `shape` and `kind` go through the image path: colour 32 x 32 images of
    /// a dataset that reports its pixel scaling. Their FEMNIST and Sent140 branches use the raw
    /// output (their MNIST branch does not run: its 32-value output cannot be read as an image).
    static func applies(shape: [Int], kind: InputKind, scaling: ImageStatistics?) -> Bool {
        shape == Self.shape && kind == .continuous && scaling?.mean.count == 3
    }

    /// The model inputs for raw generator output `x` [N, 3, 32, 32]: uint8 images, scaled, cropped
    /// and flipped with draws from `generator`.
    static func images(_ x: Tensor, scaling: ImageStatistics, generator: RandomGenerator) throws -> Tensor {
        let scaled = try scaledImages(x, scaling: scaling)
        return try RandomCropFlip(padding: 4, flip: true, padValue: scaling.normalizedZero)
            .apply(scaled, generator: generator)
    }

    /// The images before the random crop and flip: G's flat output read as H x W x C, cast as numpy
    /// casts float32 to uint8, divided by 255, channels first, normalised.
    static func scaledImages(_ x: Tensor, scaling: ImageStatistics) throws -> Tensor {
        let n = x.shape[0]
        let size = shape.reduce(1, *)
        guard x.count == n * size else {
            throw PluginError("conditional-mlp: the published image path needs samples \(shape), got \(x.shape)")
        }
        let pixels = try withoutGrad { try x.detached().contiguous().floats() }.map { Float(numpyUInt8($0)) / 255 }
        let channelsLast = try Tensor(pixels, shape: [n, shape[1], shape[2], shape[0]])
        return try scaling.normalize(channelsLast.permuted([0, 3, 1, 2]).contiguous())
    }

    /// numpy's float32 -> uint8 cast on x86 (`astype(np.uint8)`): truncation toward zero, then
    /// the low 8 bits of the 32-bit integer, so -1.5 gives 255 and 300.7 gives 44; values outside
    /// the 32-bit range and NaN give 0 (the integer conversion's 0x80000000).
    static func numpyUInt8(_ value: Float) -> UInt8 {
        guard value.isFinite, value > -2_147_483_648, value < 2_147_483_648 else { return 0 }
        return UInt8(truncatingIfNeeded: Int32(value.rounded(.towardZero)))
    }
}
