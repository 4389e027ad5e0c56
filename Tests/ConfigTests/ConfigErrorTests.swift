import Config
import Foundation
import XCTest

final class ConfigErrorTests: XCTestCase {
    func testDescriptionFormats() {
        let at = SourceLocation(file: "a.yaml", line: 4, column: 11)
        XCTAssertEqual(at.description, "a.yaml:4:11")
        XCTAssertEqual(ConfigError("no position").description, "no position")
        XCTAssertEqual(ConfigError("bad", at: at).description, "a.yaml:4:11: bad")
        XCTAssertEqual(
            ConfigError("bad", at: at, sourceLine: "  rounds: 2.5").description,
            "a.yaml:4:11: bad\n    rounds: 2.5\n            ^")
        // Tabs before the caret are kept so the caret lines up.
        XCTAssertEqual(
            ConfigError("t", at: SourceLocation(file: "f", line: 1, column: 3), sourceLine: "\t\tx").description,
            "f:1:3: t\n  \t\tx\n  \t\t^")
        // A column past the end of the line (end of file) still gets a caret.
        XCTAssertEqual(
            ConfigError("eof", at: SourceLocation(file: "f", line: 2, column: 3), sourceLine: "").description,
            "f:2:3: eof\n  \n    ^")
    }

    func testConfigErrorsJoinsWithBlankLines() {
        let errors = ConfigErrors(errors: [
            ConfigError("first", at: SourceLocation(file: "f", line: 1, column: 1)),
            ConfigError("second"),
        ])
        XCTAssertEqual(errors.description, "f:1:1: first\n\nsecond")
        XCTAssertEqual(errors.errors.count, 2)
    }

    func testAddingSourceLines() throws {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent(
            "ConfigErrorTests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("e.yaml").path
        try "federation:\n  rounds: 2.5\n".write(toFile: path, atomically: true, encoding: .utf8)
        let root = try YAMLParser.parse(file: path)
        let error = try XCTUnwrap(
            expectConfigError { try root["federation"]?["rounds"]?.int(path: "federation.rounds") })
        XCTAssertNil(error.sourceLine)
        XCTAssertEqual(
            error.addingSourceLine().description,
            "\(path):2:11: federation.rounds must be an integer, got 2.5\n    rounds: 2.5\n            ^")
        let many = ConfigErrors(errors: [
            error, ConfigError("x"), ConfigError("y", at: SourceLocation(file: "/nonexistent", line: 1, column: 1)),
        ])
        .addingSourceLines()
        XCTAssertEqual(many.errors.map { $0.sourceLine }, ["  rounds: 2.5", nil, nil])
    }

    func testErrorsAreSendableValues() {
        func requireSendable<T: Sendable>(_: T) {}
        requireSendable(ConfigError("x"))
        requireSendable(ConfigErrors(errors: []))
        requireSendable(plain("x"))
        requireSendable(YAMLLimits.default)
    }
}
