import Config
import Foundation
import XCTest

/// Parses `text` as the file `test.yaml`.
func parse(_ text: String, file: String = "test.yaml", limits: YAMLLimits = .default) throws -> YAMLNode {
    try YAMLParser.parse(string: text, fileName: file, limits: limits)
}

/// Runs `body`, which must throw a `ConfigError`, and returns it (failing the test otherwise).
@discardableResult
func expectConfigError(_ body: () throws -> Any?, file: StaticString = #filePath, line: UInt = #line) -> ConfigError? {
    do {
        let value = try body()
        XCTFail("expected a ConfigError, got \(String(describing: value))", file: file, line: line)
    } catch let error as ConfigError {
        return error
    } catch {
        XCTFail("expected a ConfigError, got \(type(of: error)): \(error)", file: file, line: line)
    }
    return nil
}

/// A plain scalar node at a dummy location.
func plain(_ text: String) -> YAMLNode {
    YAMLNode(kind: .scalar(text, quoted: false), location: SourceLocation(file: "t", line: 1, column: 1))
}

/// A quoted scalar node at a dummy location.
func quoted(_ text: String) -> YAMLNode {
    YAMLNode(kind: .scalar(text, quoted: true), location: SourceLocation(file: "t", line: 1, column: 1))
}

func seq(_ items: [YAMLNode]) -> YAMLNode {
    YAMLNode(kind: .sequence(items), location: SourceLocation(file: "t", line: 1, column: 1))
}

func map(_ pairs: [(String, YAMLNode)]) -> YAMLNode {
    YAMLNode(
        kind: .mapping(pairs.map { YAMLMappingEntry(key: plain($0.0), value: $0.1) }),
        location: SourceLocation(file: "t", line: 1, column: 1))
}

/// A fresh temporary directory, removed when the test ends.
func temporaryDirectory(_ test: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("ConfigTests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

/// CPU seconds used by the calling thread. Timing checks use CPU time rather than wall time so
/// that they stay meaningful on a loaded machine (parallel builds share the cores).
func threadCPUTime() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}
