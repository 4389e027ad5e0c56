import FedKit
import FedKitBasics
import Torch

/// Shape checks shared by the model plugins; each failure says which model and what it needs.
enum ModelInputChecks {
    static func describe(_ shape: [Int]) -> String { ShapeText.describe(shape) }

    /// At least one class and continuous (not token) inputs.
    static func requireContinuous(_ input: ModelInput, model: String, hint: String) throws {
        try requireClasses(input, model: model)
        if case .tokens = input.inputKind {
            throw PluginError(
                "model \(model) needs continuous inputs (features or images), but the dataset gives token ids of shape \(describe(input.inputShape)); \(hint)"
            )
        }
        guard !input.inputShape.isEmpty, input.inputShape.allSatisfy({ $0 > 0 }) else {
            throw PluginError("model \(model) got an invalid input shape \(describe(input.inputShape))")
        }
    }

    static func requireClasses(_ input: ModelInput, model: String) throws {
        guard input.classes >= 1 else {
            throw PluginError("model \(model) needs at least one class, the dataset declares \(input.classes)")
        }
    }

    /// Features per sample once flattened.
    static func flatFeatures(_ input: ModelInput) -> Int { input.inputShape.reduce(1, *) }

    /// Image inputs [C, H, W] (or [H, W] when `allowGrey`, read as one channel). With `channels`,
    /// C must equal it.
    static func image(
        _ input: ModelInput, model: String, channels: Int? = nil, allowGrey: Bool = false,
        hint: String
    ) throws -> (channels: Int, height: Int, width: Int) {
        try requireContinuous(input, model: model, hint: hint)
        let shape = input.inputShape
        let chw: (Int, Int, Int)
        if shape.count == 3 {
            chw = (shape[0], shape[1], shape[2])
        } else if shape.count == 2, allowGrey {
            chw = (1, shape[0], shape[1])
        } else {
            let expected = channels.map { "[\($0), H, W]" } ?? (allowGrey ? "[C, H, W] or [H, W]" : "[C, H, W]")
            throw PluginError(
                "model \(model) expects images \(expected), got inputs of shape \(describe(shape)); \(hint)")
        }
        if let channels, chw.0 != channels {
            throw PluginError(
                "model \(model) expects \(channels)-channel images [\(channels), H, W], got \(describe(shape)); \(hint)"
            )
        }
        return chw
    }

    /// Spatial size after `blocks` of conv(kernel, padding) + 2x2 max-pool; throws when an
    /// image is too small for them.
    static func convBlocksOutput(
        _ size: (height: Int, width: Int), blocks: Int, kernel: Int, padding: Int,
        model: String, shape: [Int]
    ) throws -> (height: Int, width: Int) {
        var h = size.height, w = size.width
        for _ in 0..<blocks {
            h = (h + 2 * padding - kernel + 1) / 2
            w = (w + 2 * padding - kernel + 1) / 2
            guard h >= 1, w >= 1 else {
                throw PluginError(
                    "model \(model): images of shape \(describe(shape)) are too small for \(blocks) blocks of \(kernel)x\(kernel) convolution and 2x2 pooling"
                )
            }
        }
        return (h, w)
    }
}
