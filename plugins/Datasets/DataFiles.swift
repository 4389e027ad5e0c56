import FedKit
import Foundation

/// Reading data files with errors that name the file, and the "where to get it" hints.
enum DataFiles {
    /// The whole file, or an error naming it (missing, unreadable, empty).
    static func read(_ path: String, dataset: String) throws -> [UInt8] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw PluginError("\(dataset): \(path) does not exist")
        }
        guard !isDirectory.boolValue else {
            throw PluginError("\(dataset): \(path) is a directory, expected a data file")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PluginError("\(dataset): cannot read \(path) (check its permissions)")
        }
        guard !data.isEmpty else { throw PluginError("\(dataset): \(path) is empty (0 bytes); download it again") }
        return [UInt8](data)
    }

    static func exists(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && !isDirectory.boolValue
    }

    static func directoryExists(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    /// The `.json` files of a folder, sorted by name.
    static func jsonFiles(in directory: String) -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        return names.filter { $0.hasSuffix(".json") }.sorted().map { "\(directory)/\($0)" }
    }

    /// Throws one error listing every missing path and how to get the data.
    static func requireAll(_ files: [RequiredFile], dataset: String) throws {
        let missing = files.filter { !exists($0.path) && !directoryExists($0.path) }
        guard !missing.isEmpty else { return }
        var message = "\(dataset): \(missing.count) data file\(missing.count == 1 ? " is" : "s are") missing:\n"
        message += missing.map { "  \($0.path)" }.joined(separator: "\n")
        var hints: [String] = []
        for file in missing where !hints.contains(file.hint) { hints.append(file.hint) }
        message += "\n" + hints.joined(separator: "\n")
        throw PluginError(message)
    }

    /// `path` joined to `root`.
    static func join(_ root: String, _ name: String) -> String {
        root.hasSuffix("/") ? root + name : root + "/" + name
    }

    static func downloadHint(_ dataset: String, url: String, layout: String) -> String {
        "Get it with `bash scripts/download-data.sh \(dataset)` on a machine with internet (downloads \(url) and checks its "
            + "sha256), or set dataset.root to a folder that holds \(layout). See docs/datasets.md."
    }
}

/// The content hash of a data file as it is read: FedKit's `FNV1a` with 8-byte symbols
/// (`combineWords`). Strings and integers are length-prefixed so fields cannot run together.
struct ContentHasher {
    private var fnv = FNV1a()
    var value: UInt64 { fnv.value }

    mutating func combine(_ bytes: UnsafeRawBufferPointer) { fnv.combineWords(bytes) }

    mutating func combine(_ bytes: [UInt8]) { bytes.withUnsafeBytes { combine($0) } }

    mutating func combine(_ bytes: ArraySlice<UInt8>) { bytes.withUnsafeBytes { combine($0) } }

    mutating func combine(_ v: Int) {
        withUnsafeBytes(of: UInt64(bitPattern: Int64(v)).littleEndian) { combine($0) }
    }

    mutating func combine(_ s: String) {
        combine(s.utf8.count)
        combine(Array(s.utf8))
    }

    mutating func combine(_ values: [Int]) {
        combine(values.count)
        let words = values.map { UInt64(bitPattern: Int64($0)).littleEndian }
        words.withUnsafeBytes { combine($0) }
    }

    mutating func combine(_ values: [Float]) {
        combine(values.count)
        values.withUnsafeBytes { combine($0) }
    }

    /// Sixteen hex digits.
    var hex: String { fnv.hex }
}
