import Foundation

/// Which samples the indices of a partition file refer to (docs/datasets.md, "Partition files").
public enum SamplePool: String, Sendable, CaseIterable {
    /// The dataset's training set; the global test set is the dataset's test set.
    case train
    /// The dataset's test set; the global test set is the union of the clients' test indices.
    case test
    /// The training set followed by the test set (index `train.count + j` is test sample j), as
    /// PFLlib and LEAF pool them before splitting; the global test set is the union of the
    /// clients' test indices.
    case trainTest = "train+test"

    /// Whether the pool contains the dataset's test set (then the file must give test indices).
    public var includesTestSet: Bool { self != .train }
}

/// A partition given as data: for each client, indices of its training samples and, optionally,
/// of its own test samples, all into one declared `pool`. Written by `exp partition --out` and
/// read by the `from-file` partitioner; readable from JSON and CSV (docs/datasets.md):
///
/// JSON: `{"format": "fedkit-partition", "version": 1, "pool": "train",
///         "clients": [{"id": "0", "train": [3, 17, ...], "test": [5, ...]}, ...]}`
///       (`test` optional per client; `id` optional, default the position), or a bare list of
///       index lists `[[3, 17, ...], ...]` (flwr-datasets users' layout: training indices only).
/// CSV:  a header `client,split,index`, then one row per sample: the client id, `train` or
///       `test`, the index. Clients are numbered in order of first appearance. The pool comes from
///       the YAML (`partition.pool`), as CSV has no place for it.
public struct PartitionFile: Sendable, Equatable {
    public struct Client: Sendable, Equatable {
        public var id: String
        public var train: [Int]
        /// The client's own test samples; nil when the file gives none.
        public var test: [Int]?

        public init(id: String, train: [Int], test: [Int]? = nil) {
            self.id = id
            self.train = train
            self.test = test
        }
    }

    public var pool: SamplePool
    public var clients: [Client]

    public init(pool: SamplePool, clients: [Client]) {
        self.pool = pool
        self.clients = clients
    }

    /// Whether any client has test indices.
    public var hasTestIndices: Bool { clients.contains { $0.test != nil } }

    // MARK: - Reading

    /// Reads a `.json` or `.csv` file. `pool` is what the YAML declares: it must agree with a
    /// JSON file's own `pool`; it is the pool of CSV files and bare index lists (default train).
    public static func read(path: String, pool declared: SamplePool?) throws -> PartitionFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PluginError("partition file \(path) does not exist or cannot be read")
        }
        let lower = path.lowercased()
        if lower.hasSuffix(".csv") {
            return try parseCSV(String(decoding: data, as: UTF8.self), path: path, pool: declared ?? .train)
        }
        guard lower.hasSuffix(".json") else {
            throw PluginError(
                "partition file \(path): unknown format; name it .json or .csv (docs/datasets.md, \"Partition files\")")
        }
        return try parseJSON(data, path: path, pool: declared)
    }

    public static func parseJSON(_ data: Data, path: String, pool declared: SamplePool?) throws -> PartitionFile {
        let object: Any
        do { object = try JSONSerialization.jsonObject(with: data) } catch {
            let detail = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
            throw PluginError("partition file \(path) is not valid JSON: \(detail)")
        }
        func indices(_ value: Any?, _ what: String) throws -> [Int] {
            guard let list = value as? [Any] else {
                throw PluginError("partition file \(path): \(what) must be a list of sample indices")
            }
            return try list.enumerated().map { k, item in
                guard type(of: item) != Bool.self, let number = item as? NSNumber,
                    let i = Int(exactly: number.doubleValue)
                else {
                    throw PluginError("partition file \(path): \(what)[\(k)] is \(item), not an integer index")
                }
                return i
            }
        }
        if let lists = object as? [Any] {
            let clients = try lists.enumerated().map { k, list in
                Client(id: String(k), train: try indices(list, "client \(k)"))
            }
            return PartitionFile(pool: declared ?? .train, clients: clients)
        }
        guard let top = object as? [String: Any] else {
            throw PluginError(
                "partition file \(path) must hold an object {\"pool\": ..., \"clients\": [...]} or a list of index lists"
            )
        }
        if let format = top["format"] as? String, format != "fedkit-partition" {
            throw PluginError("partition file \(path): format is '\(format)', expected 'fedkit-partition'")
        }
        if let version = top["version"] as? Int, version != 1 {
            throw PluginError(
                "partition file \(path): version \(version) is not supported (this FedKit reads version 1)")
        }
        var pool = declared ?? .train
        if let text = top["pool"] {
            guard let name = text as? String, let filePool = SamplePool(rawValue: name) else {
                throw PluginError(
                    "partition file \(path): pool must be one of \(SamplePool.allCases.map(\.rawValue).joined(separator: ", ")), got \(text)"
                )
            }
            if let declared, declared != filePool {
                throw PluginError(
                    "partition file \(path) declares pool '\(filePool.rawValue)' but partition.pool is '\(declared.rawValue)'"
                )
            }
            pool = filePool
        }
        guard let entries = top["clients"] as? [Any] else {
            throw PluginError(
                "partition file \(path) lacks \"clients\": a list of {\"id\": ..., \"train\": [...], \"test\": [...]}")
        }
        var clients: [Client] = []
        for (k, entry) in entries.enumerated() {
            guard let client = entry as? [String: Any] else {
                throw PluginError("partition file \(path): clients[\(k)] must be an object")
            }
            let id: String
            switch client["id"] {
            case nil: id = String(k)
            case let s as String: id = s
            case let n as NSNumber: id = n.stringValue
            case let other?:
                throw PluginError("partition file \(path): clients[\(k)].id must be a string or number, got \(other)")
            }
            let unknown = Set(client.keys).subtracting(["id", "train", "test"])
            if let key = unknown.sorted().first {
                throw PluginError(
                    "partition file \(path): clients[\(k)] has an unknown key '\(key)' (valid: id, train, test)")
            }
            let test = try client["test"].map { try indices($0, "clients[\(k)].test") }
            clients.append(Client(id: id, train: try indices(client["train"], "clients[\(k)].train"), test: test))
        }
        return PartitionFile(pool: pool, clients: clients)
    }

    public static func parseCSV(_ text: String, path: String, pool: SamplePool) throws -> PartitionFile {
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasSuffix("\r") ? $0.dropLast() : $0
        }
        if lines.last?.isEmpty == true { lines.removeLast() }
        guard let header = lines.first,
            header.split(separator: ",").map({ $0.trimmingCharacters(in: .whitespaces) }) == [
                "client", "split", "index",
            ]
        else {
            throw PluginError("\(path):1: the header must be client,split,index")
        }
        var order: [String] = []
        var byID: [String: Client] = [:]
        for (n, line) in lines.enumerated().dropFirst() where !line.isEmpty {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            guard fields.count == 3 else {
                throw PluginError("\(path):\(n + 1): expected 3 fields client,split,index, got \(fields.count)")
            }
            guard let index = Int(fields[2]) else {
                throw PluginError("\(path):\(n + 1): index '\(fields[2])' is not an integer")
            }
            let id = fields[0]
            guard !id.isEmpty else { throw PluginError("\(path):\(n + 1): empty client id") }
            if byID[id] == nil { order.append(id); byID[id] = Client(id: id, train: []) }
            switch fields[1] {
            case "train": byID[id]!.train.append(index)
            case "test": byID[id]!.test = (byID[id]!.test ?? []) + [index]
            default: throw PluginError("\(path):\(n + 1): split must be train or test, got '\(fields[1])'")
            }
        }
        return PartitionFile(pool: pool, clients: order.map { byID[$0]! })
    }

    // MARK: - Checking

    /// Checks the file against a pool of `poolSize` samples: every index in range, no sample
    /// twice (across all clients' train and test lists), no client without training samples.
    public func validate(poolSize: Int, path: String) throws {
        guard !clients.isEmpty else { throw PluginError("partition file \(path) has no clients") }
        var owner = [Int32](repeating: -1, count: poolSize)
        var ownerIsTest = [Bool](repeating: false, count: poolSize)
        var ids = Set<String>()
        for (k, client) in clients.enumerated() {
            guard ids.insert(client.id).inserted else {
                throw PluginError("partition file \(path): client id '\(client.id)' appears twice")
            }
            guard !client.train.isEmpty else {
                throw PluginError(
                    "partition file \(path): client '\(client.id)' (entry \(k)) has no training samples; every client needs at least one"
                )
            }
            for (list, isTest) in [(client.train, false), (client.test ?? [], true)] {
                let split = isTest ? "test" : "train"
                for (position, i) in list.enumerated() {
                    guard i >= 0, i < poolSize else {
                        throw PluginError(
                            "partition file \(path): client '\(client.id)' \(split)[\(position)] = \(i) is outside the \(pool.rawValue) pool (0..<\(poolSize))"
                        )
                    }
                    if owner[i] >= 0 {
                        let other = clients[Int(owner[i])].id
                        throw PluginError(
                            "partition file \(path): sample \(i) is given twice: client '\(other)' \(ownerIsTest[i] ? "test" : "train") and client '\(client.id)' \(split)"
                        )
                    }
                    owner[i] = Int32(k)
                    ownerIsTest[i] = isTest
                }
            }
        }
    }

    // MARK: - Writing

    /// The JSON form (one client per line; reads back identically with `parseJSON`).
    public var jsonText: String {
        func list(_ v: [Int]) -> String { "[" + v.map(String.init).joined(separator: ", ") + "]" }
        let rows = clients.map { c -> String in
            let id = String(
                data: try! JSONSerialization.data(withJSONObject: c.id, options: [.fragmentsAllowed]), encoding: .utf8)!
            return "    {\"id\": \(id), \"train\": \(list(c.train))" + (c.test.map { ", \"test\": \(list($0))" } ?? "")
                + "}"
        }
        return
            "{\n  \"format\": \"fedkit-partition\",\n  \"version\": 1,\n  \"pool\": \"\(pool.rawValue)\",\n  \"clients\": [\n"
            + rows.joined(separator: ",\n") + "\n  ]\n}\n"
    }

    /// The CSV form (`client,split,index`; the pool is not part of it).
    public var csvText: String {
        var out = "client,split,index\n"
        for c in clients {
            for i in c.train { out += "\(c.id),train,\(i)\n" }
            for i in c.test ?? [] { out += "\(c.id),test,\(i)\n" }
        }
        return out
    }

    /// flwr-datasets users' layout: a JSON list of the clients' training index lists.
    public var flwrText: String {
        "[\n" + clients.map { "  [" + $0.train.map(String.init).joined(separator: ", ") + "]" }.joined(separator: ",\n")
            + "\n]\n"
    }
}
