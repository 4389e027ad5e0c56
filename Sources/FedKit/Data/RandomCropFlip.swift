import Torch

/// Seeded training augmentation for images [N, C, H, W]: random crop after padding each side
/// with `padding` pixels of black (as torchvision's RandomCrop(padding:) before normalisation),
/// and horizontal flip with probability 1/2. Every random draw comes from the batch's generator.
public struct RandomCropFlip: Augmentation {
    public var padding: Int
    public var flip: Bool
    /// Per-channel value of the padding (a black pixel in normalised units).
    public var padValue: [Float]

    public init(padding: Int = 4, flip: Bool = true, padValue: [Float]) {
        self.padding = padding
        self.flip = flip
        self.padValue = padValue
    }

    public func apply(_ batch: Tensor, generator: RandomGenerator) throws -> Tensor {
        let shape = batch.shape
        guard shape.count == 4 else { throw PluginError("augmentation expects images [N, C, H, W], got \(shape)") }
        let (n, c, h, w) = (shape[0], shape[1], shape[2], shape[3])
        guard n > 0 else { return batch }
        let p = padding
        var padded = batch
        if p > 0 {
            let fill = try Tensor(
                padValue.count == c ? padValue : [Float](repeating: 0, count: c), shape: [1, c, 1, 1])
            let rows = try fill.expanded(to: [n, c, p, w])
            padded = try Tensor.cat([rows, batch, rows], dim: 2)
            let columns = try fill.expanded(to: [n, c, h + 2 * p, p])
            padded = try Tensor.cat([columns, padded, columns], dim: 3)
        }
        let offsets =
            p > 0
            ? try Tensor.randint(0, 2 * p + 1, [n, 2], generator: generator).ints() : [Int](repeating: 0, count: 2 * n)
        let flips = flip ? try Tensor.randint(0, 2, [n], generator: generator).ints() : [Int](repeating: 0, count: n)
        let reversed = try Tensor(Array((0..<w).reversed()))
        var out: [Tensor] = []
        out.reserveCapacity(n)
        for i in 0..<n {
            var image = try padded.select(dim: 0, i)
            if p > 0 {
                let y = offsets[2 * i], x = offsets[2 * i + 1]
                image = try image.slice(dim: 1, y..<(y + h)).slice(dim: 2, x..<(x + w))
            }
            if flips[i] == 1 { image = try image.indexSelect(dim: 2, reversed) }
            out.append(image)
        }
        return try Tensor.stack(out, dim: 0).contiguous()
    }
}
