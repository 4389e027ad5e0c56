import FedKit
import FedKitBasics

/// The IDX format (MNIST, Fashion-MNIST): magic 00 00 <type> <dims>, then one big-endian uint32
/// size per dimension, then the data. Only unsigned bytes (type 0x08) are used by these datasets.
/// Files may be gzipped (detected by the gzip magic number, whatever the file name).
struct IDXFile: Sendable {
    var dimensions: [Int]
    /// The data bytes (after the header).
    var data: [UInt8]

    /// Reads and validates `path`; `expectedDimensions` is 1 (labels) or 3 (images).
    /// Offsets in errors refer to the decompressed bytes for gzipped files (the message says so).
    static func read(
        _ path: String, dataset: String, expectedDimensions: Int,
        hasher: inout ContentHasher
    ) throws -> IDXFile {
        let raw = try DataFiles.read(path, dataset: dataset)
        var bytes = raw
        var gzipped = false
        if Inflate.isGzip(raw) {
            gzipped = true
            do {
                bytes = try Inflate.gunzip(raw)
            } catch let failure as Inflate.Failure {
                throw PluginError(
                    "\(dataset): \(path) is corrupt or truncated: \(failure.message) at byte offset \(failure.offset) "
                        + "of the gzip file; download it again")
            }
        }
        let whereText = gzipped ? " (in the decompressed data)" : ""
        guard bytes.count >= 4 else {
            throw PluginError(
                "\(dataset): \(path) is truncated: the 4-byte IDX magic number ends at byte offset \(bytes.count)\(whereText)"
            )
        }
        let magic = UInt32(bytes[0]) << 24 | UInt32(bytes[1]) << 16 | UInt32(bytes[2]) << 8 | UInt32(bytes[3])
        let expectedMagic = UInt32(0x0800) | UInt32(expectedDimensions)
        guard magic == expectedMagic else {
            throw PluginError(
                "\(dataset): \(path) has the wrong magic number 0x\(Hex.digits(magic, count: 8)) at byte offset 0\(whereText), expected "
                    + "0x\(Hex.digits(expectedMagic, count: 8)) (IDX unsigned bytes, \(expectedDimensions) dimension\(expectedDimensions == 1 ? "" : "s")); "
                    + "is it the right file\(gzipped ? "" : ", or a compressed file with another format")?")
        }
        let headerSize = 4 + 4 * expectedDimensions
        guard bytes.count >= headerSize else {
            throw PluginError(
                "\(dataset): \(path) is truncated: its header needs \(headerSize) bytes but the file ends at byte offset "
                    + "\(bytes.count)\(whereText)")
        }
        var dims: [Int] = []
        for d in 0..<expectedDimensions {
            let o = 4 + 4 * d
            dims.append(
                Int(
                    UInt32(bytes[o]) << 24 | UInt32(bytes[o + 1]) << 16 | UInt32(bytes[o + 2]) << 8
                        | UInt32(bytes[o + 3])))
        }
        let expected = dims.reduce(1, *)
        let available = bytes.count - headerSize
        guard available >= expected else {
            throw PluginError(
                "\(dataset): \(path) is truncated: its header declares \(dims.map(String.init).joined(separator: " x ")) = "
                    + "\(expected) data bytes from byte offset \(headerSize), but the data ends at byte offset "
                    + "\(bytes.count)\(whereText) (\(available) bytes); download it again")
        }
        guard available == expected else {
            throw PluginError(
                "\(dataset): \(path) is corrupt: \(available - expected) unexpected bytes after the declared data, "
                    + "from byte offset \(headerSize + expected)\(whereText)")
        }
        hasher.combine(bytes)
        return IDXFile(dimensions: dims, data: Array(bytes[headerSize...]))
    }
}

/// Shared loader for the 28x28 grey-scale IDX datasets (MNIST, Fashion-MNIST).
struct IDXImageDataset {
    let name: String
    let root: String
    let statistics: ImageStatistics?
    let augmentation: (any Augmentation)?
    let hint: String

    static let fileNames = [
        "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte",
    ]

    /// The path of `base` under root: `base.gz` if present, else `base`, else (missing) `base.gz`.
    func path(_ base: String) -> String {
        let gz = DataFiles.join(root, base + ".gz")
        let plain = DataFiles.join(root, base)
        if DataFiles.exists(gz) { return gz }
        if DataFiles.exists(plain) { return plain }
        return gz
    }

    func requiredFiles() -> [RequiredFile] {
        Self.fileNames.map { RequiredFile(path: path($0), hint: hint) }
    }

    func load() throws -> DatasetSplits {
        let missing = Self.fileNames.filter {
            !DataFiles.exists(DataFiles.join(root, $0 + ".gz")) && !DataFiles.exists(DataFiles.join(root, $0))
        }
        if !missing.isEmpty {
            throw PluginError(
                "\(name): \(missing.count) data file\(missing.count == 1 ? " is" : "s are") missing (gzipped or not):\n"
                    + missing.map { "  \(DataFiles.join(root, $0)).gz (or \(DataFiles.join(root, $0)))" }.joined(
                        separator: "\n")
                    + "\n" + hint)
        }
        var hasher = ContentHasher()
        hasher.combine(name)
        func split(_ prefix: String) throws -> LabeledSamples {
            let imagePath = path("\(prefix)-images-idx3-ubyte")
            let labelPath = path("\(prefix)-labels-idx1-ubyte")
            let images = try IDXFile.read(imagePath, dataset: name, expectedDimensions: 3, hasher: &hasher)
            let labels = try IDXFile.read(labelPath, dataset: name, expectedDimensions: 1, hasher: &hasher)
            guard images.dimensions[1] == 28, images.dimensions[2] == 28 else {
                throw PluginError(
                    "\(name): \(imagePath) holds \(images.dimensions[1])x\(images.dimensions[2]) images, expected 28x28"
                )
            }
            guard images.dimensions[0] == labels.dimensions[0] else {
                throw PluginError(
                    "\(name): \(imagePath) has \(images.dimensions[0]) images but \(labelPath) has "
                        + "\(labels.dimensions[0]) labels")
            }
            let headerSize = 8
            var labelArray: [Int] = []
            labelArray.reserveCapacity(labels.data.count)
            for (i, y) in labels.data.enumerated() {
                guard y < 10 else {
                    throw PluginError(
                        "\(name): \(labelPath): label \(i) at byte offset \(headerSize + i)"
                            + "\(labelPath.hasSuffix(".gz") ? " (in the decompressed data)" : "") is \(y), outside 0..<10"
                    )
                }
                labelArray.append(Int(y))
            }
            let tensor = try ImageTensors.fromBytes(
                images.data, shape: [labelArray.count, 1, 28, 28], statistics: statistics)
            return try LabeledSamples(inputs: tensor, labels: labelArray)
        }
        let train = try split("train")
        let test = try split("t10k")
        return DatasetSplits(
            name: name, train: train, test: test, classes: 10, inputShape: [1, 28, 28],
            augmentation: augmentation, pixelScaling: statistics ?? .identity(channels: 1), contentHash: hasher.hex)
    }
}
