import FedKit

/// The CIFAR binary format: fixed-size records of label byte(s) followed by 3072 pixel bytes
/// (1024 red, 1024 green, 1024 blue, each row-major 32x32), i.e. [3, 32, 32] per image.
enum CIFARBinary {
    static let pixelsPerImage = 3 * 32 * 32

    /// Reads one file. Each record starts with one label byte per entry of `labelRanges` (CIFAR-10:
    /// [10]; CIFAR-100: [20, 100], coarse then fine), each checked against its range;
    /// `labelIndex` picks which one is the class. Appends to `pixels` and `labels`.
    static func read(
        _ path: String, dataset: String, labelRanges: [Int], labelIndex: Int,
        pixels: inout [UInt8], labels: inout [Int], hasher: inout ContentHasher
    ) throws {
        let labelBytes = labelRanges.count
        let bytes = try DataFiles.read(path, dataset: dataset)
        let record = labelBytes + pixelsPerImage
        guard bytes.count % record == 0 else {
            let whole = bytes.count / record
            throw PluginError(
                "\(dataset): \(path) is truncated or corrupt: \(bytes.count) bytes is not a whole number of "
                    + "\(record)-byte records; record \(whole) starting at byte offset \(whole * record) is incomplete "
                    + "(\(bytes.count - whole * record) of \(record) bytes)")
        }
        hasher.combine(bytes)
        let count = bytes.count / record
        pixels.reserveCapacity(pixels.count + count * pixelsPerImage)
        labels.reserveCapacity(labels.count + count)
        try bytes.withUnsafeBufferPointer { buffer in
            for r in 0..<count {
                let offset = r * record
                for (k, range) in labelRanges.enumerated() where Int(buffer[offset + k]) >= range {
                    let kind = labelRanges.count == 1 ? "label" : (k == 0 ? "coarse label" : "fine label")
                    throw PluginError(
                        "\(dataset): \(path): record \(r) at byte offset \(offset + k) has \(kind) \(buffer[offset + k]), "
                            + "outside 0..<\(range); the file is corrupt or not a \(dataset) file")
                }
                labels.append(Int(buffer[offset + labelIndex]))
                pixels.append(
                    contentsOf: UnsafeBufferPointer(rebasing: buffer[(offset + labelBytes)..<(offset + record)]))
            }
        }
    }
}
