import Foundation

/// Partitions cached on disk, keyed by (dataset content hash, partitioner, resolved parameters,
/// clients, seed). Files are written to a temp file and renamed; a file that does not validate
/// (wrong header or key, indices out of range or repeated, checksum mismatch) is ignored, so the
/// caller recomputes and overwrites it.
///
/// File format (text, one file per key): the line `fedkit-partition 1`, the key lines
/// `dataset=`, `partitioner=`, `parameters=`, `clients=`, `seed=`, then `count=<lists>` (the
/// number of client lists: at most `clients`, fewer for `natural` with few users), one line per
/// client with its indices separated by spaces, then `checksum=<partition hash>`.
public struct PartitionCache: Sendable {
    public struct Key: Sendable, Hashable {
        public var datasetHash: String
        public var partitioner: String
        /// The partitioner's resolved parameters as stable text (e.g. "alpha=0.1,min_size=10").
        public var parameters: String
        public var clients: Int
        public var seed: Int

        public init(datasetHash: String, partitioner: String, parameters: String, clients: Int, seed: Int) {
            self.datasetHash = datasetHash
            self.partitioner = partitioner
            self.parameters = parameters
            self.clients = clients
            self.seed = seed
        }

        /// The key lines written at the top of a cache file (newlines in fields escaped).
        var lines: [String] {
            func clean(_ s: String) -> String {
                s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
            }
            return [
                "dataset=\(clean(datasetHash))", "partitioner=\(clean(partitioner))", "parameters=\(clean(parameters))",
                "clients=\(clients)", "seed=\(seed)",
            ]
        }

        /// The cache file name: partitioner name plus a hash of all key fields.
        public var fileName: String {
            var hasher = FNV1a()
            for line in lines { hasher.combine(line) }
            let safeName = String(partitioner.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
            return "\(safeName)-\(hasher.hex).partition"
        }
    }

    public let directory: String

    public init(directory: String) { self.directory = directory }

    public func path(for key: Key) -> String { "\(directory)/\(key.fileName)" }

    /// The cached partition for `key`, or nil when there is none or the file does not validate
    /// against `key` and `sampleCount` (the number of training samples).
    public func load(_ key: Key, sampleCount: Int) -> [[Int]]? {
        guard let data = FileManager.default.contents(atPath: path(for: key)),
            let text = String(data: data, encoding: .utf8)
        else { return nil }
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        let header = ["fedkit-partition 1"] + key.lines
        guard lines.count > header.count, Array(lines.prefix(header.count)) == header,
            lines[header.count].hasPrefix("count="), let count = Int(lines[header.count].dropFirst(6)),
            count >= 0, count <= key.clients, lines.count == header.count + 1 + count + 1
        else { return nil }
        var seen = [Bool](repeating: false, count: sampleCount)
        var assignment: [[Int]] = []
        assignment.reserveCapacity(key.clients)
        for line in lines[(header.count + 1)..<(header.count + 1 + count)] {
            var indices: [Int] = []
            for field in line.split(separator: " ") {
                guard let i = Int(field), i >= 0, i < sampleCount, !seen[i] else { return nil }
                seen[i] = true
                indices.append(i)
            }
            assignment.append(indices)
        }
        let checksum = PartitionSummary(assignment: assignment, labels: [], classes: 0).hash
        guard lines.last == "checksum=\(checksum)" else { return nil }
        return assignment
    }

    /// Stores `assignment` for `key` atomically (temp file + rename).
    public func store(_ assignment: [[Int]], for key: Key) throws {
        guard assignment.count <= key.clients else {
            throw PluginError("partition cache: \(assignment.count) client lists for a key with \(key.clients) clients")
        }
        var text = (["fedkit-partition 1"] + key.lines + ["count=\(assignment.count)"]).joined(separator: "\n") + "\n"
        for indices in assignment { text += indices.map(String.init).joined(separator: " ") + "\n" }
        text += "checksum=\(PartitionSummary(assignment: assignment, labels: [], classes: 0).hash)\n"
        try AtomicFile.write(Data(text.utf8), to: path(for: key))
    }
}
