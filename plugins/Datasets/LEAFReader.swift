import FedKit

/// One sample of a LEAF file: its user, its `x` and its integer label.
struct LEAFSample {
    var user: String
    var x: JSONValue
    var y: Int
}

/// Reads LEAF JSON files: `{"users": [...], "num_samples": [...], "user_data": {user: {"x": [...], "y": [...]}}}`.
/// Users are read in the order of `users`, files in name order; every shape mismatch is an error
/// naming the file and user; JSON syntax errors give the byte offset.
enum LEAFReader {
    /// Every sample of every `.json` file in `folder`.
    static func read(
        folder: String, dataset: String, classes: Int, hasher: inout ContentHasher,
        body: (LEAFSample) throws -> Void
    ) throws {
        let files = DataFiles.jsonFiles(in: folder)
        guard !files.isEmpty else {
            throw PluginError(
                "\(dataset): \(folder) holds no .json files (expected LEAF JSON files such as all_data_0_..._train_9.json)"
            )
        }
        for file in files { try readFile(file, dataset: dataset, classes: classes, hasher: &hasher, body: body) }
    }

    static func readFile(
        _ path: String, dataset: String, classes: Int, hasher: inout ContentHasher,
        body: (LEAFSample) throws -> Void
    ) throws {
        let bytes = try DataFiles.read(path, dataset: dataset)
        hasher.combine(path.split(separator: "/").last.map(String.init) ?? path)
        hasher.combine(bytes)
        let root: JSONValue
        do {
            root = try JSONReader.parse(bytes)
        } catch let failure as JSONReader.Failure {
            throw PluginError(
                "\(dataset): \(path) is not valid JSON: \(failure.message) at byte offset \(failure.offset)"
                    + (failure.offset >= bytes.count - 1 ? " (the end of the file: it is truncated)" : ""))
        }
        func fail(_ message: String) -> PluginError {
            PluginError("\(dataset): \(path): \(message) (not a LEAF data file?)")
        }
        guard case .object = root else { throw fail("the top level is \(root.kindName), expected an object") }
        guard let usersValue = root["users"], let userItems = usersValue.elements else {
            throw fail("missing the array \"users\"")
        }
        guard let countsValue = root["num_samples"], let countItems = countsValue.elements else {
            throw fail("missing the array \"num_samples\"")
        }
        guard case .object(let userData)? = root["user_data"] else { throw fail("missing the object \"user_data\"") }
        guard userItems.count == countItems.count else {
            throw fail("\"users\" has \(userItems.count) entries but \"num_samples\" has \(countItems.count)")
        }
        var byUser: [String: JSONValue] = [:]
        for member in userData where byUser[member.key] == nil { byUser[member.key] = member.value }
        for (k, item) in userItems.enumerated() {
            guard case .string(let user) = item else {
                throw fail("users[\(k)] is \(item.kindName), expected a string")
            }
            guard let data = byUser[user] else {
                throw fail("user '\(user)' is listed in \"users\" but has no entry in \"user_data\"")
            }
            guard let xs = data["x"]?.elements, let ys = data["y"]?.elements else {
                throw fail("user_data['\(user)'] needs the arrays \"x\" and \"y\"")
            }
            guard xs.count == ys.count else {
                throw fail("user '\(user)' has \(xs.count) x entries but \(ys.count) y entries")
            }
            if case .number(let n) = countItems[k], Int(n) != xs.count {
                throw fail("num_samples[\(k)] says \(Int(n)) samples for user '\(user)' but it has \(xs.count)")
            }
            for (i, (x, yValue)) in zip(xs, ys).enumerated() {
                guard case .number(let yDouble) = yValue, yDouble == yDouble.rounded(), yDouble.magnitude < 1e9 else {
                    throw fail("user '\(user)', sample \(i): label \(yValue) is not an integer")
                }
                let y = Int(yDouble)
                guard y >= 0 && y < classes else {
                    throw fail("user '\(user)', sample \(i): label \(y) is outside 0..<\(classes)")
                }
                try body(LEAFSample(user: user, x: x, y: y))
            }
        }
    }
}
