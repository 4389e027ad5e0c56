import Foundation

/// What a partition looks like: sizes, classes per client, label heterogeneity and a stable hash.
public struct PartitionSummary: Sendable, Equatable {
    public let clients: Int
    public let classes: Int
    /// Training samples in the dataset and how many of them the partition assigns.
    public let totalSamples: Int
    public let assignedSamples: Int
    /// Samples per client.
    public let sizes: [Int]
    /// Per-client class counts: `classCounts[client][class]`.
    public let classCounts: [[Int]]
    public let minSize: Int
    /// The median client size (mean of the two middle sizes for an even number of clients).
    public let medianSize: Double
    public let maxSize: Int
    /// Distinct classes per client.
    public let minClasses: Int
    public let meanClasses: Double
    public let maxClasses: Int
    /// Mean over non-empty clients of the total-variation distance between the client's label
    /// distribution and the whole training set's: 0.5 * sum_c |p_k(c) - p(c)|. 0 = IID; 1 = disjoint.
    public let meanTotalVariation: Double
    /// FNV-1a (64-bit) of the assignment: client count, then each client's size and indices in order.
    public let hash: String

    public init(assignment: [[Int]], labels: [Int], classes: Int) {
        self.clients = assignment.count
        self.classes = classes
        self.totalSamples = labels.count
        var counts: [[Int]] = []
        counts.reserveCapacity(assignment.count)
        var hasher = FNV1a()
        hasher.combine(UInt64(assignment.count))
        var assigned = 0
        for indices in assignment {
            var row = [Int](repeating: 0, count: classes)
            for i in indices where i >= 0 && i < labels.count {
                let y = labels[i]
                if y >= 0 && y < classes { row[y] += 1 }
            }
            counts.append(row)
            assigned += indices.count
            hasher.combine(PartitionSummary.indexBytes(indices))
        }
        self.assignedSamples = assigned
        self.classCounts = counts
        self.sizes = assignment.map(\.count)
        let sorted = sizes.sorted()
        minSize = sorted.first ?? 0
        maxSize = sorted.last ?? 0
        if sorted.isEmpty {
            medianSize = 0
        } else if sorted.count % 2 == 1 {
            medianSize = Double(sorted[sorted.count / 2])
        } else {
            medianSize = Double(sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        }
        let distinct = counts.map { $0.filter { $0 > 0 }.count }
        minClasses = distinct.min() ?? 0
        maxClasses = distinct.max() ?? 0
        meanClasses = distinct.isEmpty ? 0 : Double(distinct.reduce(0, +)) / Double(distinct.count)

        var global = [Double](repeating: 0, count: classes)
        for y in labels where y >= 0 && y < classes { global[y] += 1 }
        let globalTotal = global.reduce(0, +)
        if globalTotal > 0 { global = global.map { $0 / globalTotal } }
        var tvSum = 0.0
        var nonEmpty = 0
        for row in counts {
            let n = Double(row.reduce(0, +))
            guard n > 0 else { continue }
            var tv = 0.0
            for c in 0..<classes { tv += Swift.abs(Double(row[c]) / n - global[c]) }
            tvSum += tv / 2
            nonEmpty += 1
        }
        meanTotalVariation = nonEmpty > 0 ? tvSum / Double(nonEmpty) : 0
        hash = hasher.hex
    }

    /// A client's size then its indices, as little-endian 64-bit words.
    static func indexBytes(_ indices: [Int]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8 * (indices.count + 1))
        for v in [indices.count] + indices {
            withUnsafeBytes(of: UInt64(bitPattern: Int64(v)).littleEndian) { bytes.append(contentsOf: $0) }
        }
        return bytes
    }

    /// Several lines for `exp partition`.
    public var text: String {
        var lines: [String] = []
        lines.append("clients            \(clients)")
        lines.append("samples            \(assignedSamples) of \(totalSamples) assigned")
        lines.append("size               min \(minSize)  median \(Self.format(medianSize))  max \(maxSize)")
        lines.append(
            "classes per client min \(minClasses)  mean \(String(format: "%.2f", meanClasses))  max \(maxClasses) (of \(classes))"
        )
        lines.append(
            "label skew         mean total-variation distance to the global label distribution \(String(format: "%.4f", meanTotalVariation))"
        )
        lines.append("partition hash     \(hash)")
        return lines.joined(separator: "\n")
    }

    /// One line for logs and manifests.
    public var oneLine: String {
        "\(clients) clients, size \(minSize)/\(Self.format(medianSize))/\(maxSize) (min/median/max), "
            + "classes/client \(minClasses)/\(String(format: "%.1f", meanClasses))/\(maxClasses), "
            + "TV \(String(format: "%.3f", meanTotalVariation)), hash \(hash)"
    }

    /// `client,size,c0,c1,...`, one row per client.
    public var csv: String {
        var out = "client,size," + (0..<classes).map { "c\($0)" }.joined(separator: ",") + "\n"
        for (k, row) in classCounts.enumerated() {
            out += "\(k),\(sizes[k]),\(row.map(String.init).joined(separator: ","))\n"
        }
        return out
    }

    /// Writes `csv` to `path` (temp file + rename, so a reader never sees half a file).
    public func writeCSV(to path: String) throws {
        try AtomicFile.write(Data(csv.utf8), to: path)
    }

    static func format(_ v: Double) -> String {
        v == v.rounded() ? String(Int(v)) : String(format: "%.1f", v)
    }
}

/// Writes files so that readers see either the old or the complete new content.
enum AtomicFile {
    static func write(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let directory = url.deletingLastPathComponent().path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let temp =
            "\(directory)/.\(url.lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).\(UInt64.random(in: 0...UInt64.max)).tmp"
        guard FileManager.default.createFile(atPath: temp, contents: data) else {
            throw PluginError("cannot write \(temp)")
        }
        if rename(temp, path) != 0 {
            let code = errno
            try? FileManager.default.removeItem(atPath: temp)
            throw PluginError("cannot move \(temp) to \(path): \(String(cString: strerror(code)))")
        }
    }
}
