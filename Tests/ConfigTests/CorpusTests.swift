import Foundation
import XCTest

@testable import Config

/// Malformed input must fail fast with a precise, readable `ConfigError`. Small cases are real
/// files under Corpus/; large or binary ones are generated into a temporary directory.
final class CorpusTests: XCTestCase {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus")

    /// (file, expected "line:col", a fragment of the message)
    static let cases: [(String, String, String)] = [
        ("syntax-error.yaml", "3:14", "mapping values are not allowed in this context"),
        ("tab-indentation.yaml", "3:1", "tabs are not allowed for indentation in YAML"),
        ("duplicate-key.yaml", "4:3", "duplicate key 'rounds' (first at line 2)"),
        ("empty.yaml", "1:1", "the file is empty"),
        ("comments-only.yaml", "1:1", "the file is empty"),
        ("two-documents.yaml", "2:1", "a config file must contain exactly one document"),
        (
            "unclosed-quote.yaml", "3:1",
            "found unexpected end of stream (while scanning a quoted scalar that started at line 1, column 7)"
        ),
        (
            "unclosed-flow-sequence.yaml", "2:5",
            "did not find expected ',' or ']' (while parsing a flow sequence that started at line 1, column 8)"
        ),
        ("unbalanced-bracket.yaml", "1:14", "did not find expected key"),
        ("bad-indentation.yaml", "3:3", "did not find expected key (while parsing a block mapping"),
        (
            "undefined-alias.yaml", "3:10",
            "undefined alias '*default' (an anchor '&default' must be defined before it is used); did you mean '*defaults'?"
        ),
        ("recursive-alias.yaml", "2:10", "alias '*n' refers to the collection that contains it"),
        ("complex-key.yaml", "1:3", "mapping keys must be scalars; found a list used as a key"),
        ("nul-byte.yaml", "1:8", "the file contains a NUL byte (at byte offset 7)"),
        ("invalid-utf8.yaml", "1:10", "invalid UTF-8: incomplete UTF-8 octet sequence at byte offset 9"),
        ("control-character.yaml", "1:11", "control character U+0007 is not allowed"),
        ("unsupported-tag.yaml", "1:5", "unsupported tag '!custom'"),
        ("merge-undefined.yaml", "3:7", "undefined alias '*base_missing'"),
        ("merge-scalar.yaml", "3:7", "a merge key '<<' takes a mapping or a list of mappings"),
    ]

    /// Parses `path`, expecting an error positioned at `position` whose message contains `fragment`.
    private func check(
        _ path: String, _ position: String?, _ fragment: String,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        let start = threadCPUTime()
        guard let error = expectConfigError({ try YAMLParser.parse(file: path) }, file: file, line: line) else {
            return
        }
        let elapsed = threadCPUTime() - start
        XCTAssertLessThan(elapsed, 0.5, "\(path) took \(elapsed) s of CPU", file: file, line: line)
        let firstLine = String(error.description.split(separator: "\n", omittingEmptySubsequences: false)[0])
        if let position {
            XCTAssertTrue(firstLine.hasPrefix("\(path):\(position): "), "got: \(firstLine)", file: file, line: line)
            XCTAssertEqual(error.location?.file, path, file: file, line: line)
        } else {
            XCTAssertNil(error.location, file: file, line: line)
            XCTAssertTrue(
                error.message.contains(path), "the message names the file: \(error.message)", file: file, line: line)
        }
        XCTAssertTrue(error.message.contains(fragment), "message: \(error.message)", file: file, line: line)
    }

    func testCorpusFiles() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.corpus.path).filter {
            $0.hasSuffix(".yaml")
        }
        XCTAssertEqual(Set(files), Set(Self.cases.map(\.0)), "every corpus file has an expectation")
        for (name, position, fragment) in Self.cases {
            check(Self.corpus.appendingPathComponent(name).path, position, fragment)
        }
    }

    func testSyntaxErrorsShowTheLineAndCaret() throws {
        let path = Self.corpus.appendingPathComponent("syntax-error.yaml").path
        let error = try XCTUnwrap(expectConfigError { try YAMLParser.parse(file: path) })
        XCTAssertEqual(
            error.description,
            """
            \(path):3:14: mapping values are not allowed in this context
                clients: 10: 20
                           ^
            """)
        let tabs = try XCTUnwrap(
            expectConfigError {
                try YAMLParser.parse(file: Self.corpus.appendingPathComponent("tab-indentation.yaml").path)
            })
        XCTAssertEqual(tabs.sourceLine, "\tclients: 10")
    }

    func testMissingFileAndDirectory() throws {
        let dir = try temporaryDirectory(self)
        let missing = dir.appendingPathComponent("nope.yaml").path
        check(missing, nil, "cannot read '\(missing)': no such file")
        check(dir.path, nil, "cannot read '\(dir.path)': it is a directory, not a YAML file")
        let notDir = dir.appendingPathComponent("file").path
        try "x".write(toFile: notDir, atomically: true, encoding: .utf8)
        check(notDir + "/x.yaml", nil, "a component of the path is not a directory")
    }

    func testUnreadableFile() throws {
        let dir = try temporaryDirectory(self)
        let path = dir.appendingPathComponent("secret.yaml").path
        try "a: 1\n".write(toFile: path, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0], ofItemAtPath: path)
        // The message itself (root reads through permission bits, so this is the path that
        // root can check).
        XCTAssertEqual(FileReader.failure(path, errno: EACCES).message, "cannot read '\(path)': permission denied")
        XCTAssertEqual(FileReader.failure(path, errno: EIO).message, "cannot read '\(path)': input/output error")
        if geteuid() == 0 {
            XCTAssertNoThrow(try YAMLParser.parse(file: path))
            throw XCTSkip("running as root: permission bits do not stop reads; only the message was checked")
        }
        check(path, nil, "cannot read '\(path)': permission denied")
    }

    func testTenMegabyteFileParsesQuickly() throws {
        let dir = try temporaryDirectory(self)
        let path = dir.appendingPathComponent("big.yaml").path
        // ~10 MB: 40,000 clients, each a mapping with a 200-character note (about 160,000 nodes).
        var text = "clients:\n"
        text.reserveCapacity(10_500_000)
        let note = String(repeating: "lorem ipsum ", count: 17)
        var i = 0
        while text.utf8.count < 10_000_000 {
            text += "  - {id: \(i), weight: 0.\(i % 1000), note: \"\(note)\(i)\"}\n"
            i += 1
        }
        try text.write(toFile: path, atomically: false, encoding: .utf8)
        let (start, wallStart) = (threadCPUTime(), Date())
        let root = try YAMLParser.parse(file: path)
        let (elapsed, wall) = (threadCPUTime() - start, Date().timeIntervalSince(wallStart))
        XCTAssertEqual(root["clients"]?.items?.count, i)
        XCTAssertEqual(root["clients"]?.items?.last?["id"]?.scalarValue, "\(i - 1)")
        XCTAssertLessThan(elapsed, 1.0, "parsing 10 MB took \(elapsed) s of CPU (\(wall) s wall), debug build")
    }

    func testOversizedFile() throws {
        let dir = try temporaryDirectory(self)
        let path = dir.appendingPathComponent("huge.yaml").path
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.truncate(atOffset: 17 << 20)  // sparse 17 MiB; rejected before reading
        try handle.close()
        check(path, nil, "cannot read '\(path)': it is 17 MiB; config files are limited to 16 MiB")
        // The same limit applies to text given directly.
        let error = expectConfigError { try parse("a: 1", limits: YAMLLimits(maxFileSize: 3)) }
        XCTAssertEqual(error?.message, "cannot read 'test.yaml': it is 4 bytes; config files are limited to 3 bytes")
    }

    func testDeepNesting() throws {
        let dir = try temporaryDirectory(self)
        let flow = dir.appendingPathComponent("deep-flow.yaml").path
        try (String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "\n")
            .write(toFile: flow, atomically: false, encoding: .utf8)
        check(flow, "1:201", "nesting deeper than 200 levels")
        // Unbalanced too: the limit trips before libyaml would notice.
        let open = dir.appendingPathComponent("deep-open.yaml").path
        try String(repeating: "{a: ", count: 10_000).write(toFile: open, atomically: false, encoding: .utf8)
        check(open, "1:801", "nesting deeper than 200 levels")
        let block = dir.appendingPathComponent("deep-block.yaml").path
        try ((0..<300).map { String(repeating: " ", count: $0) + "k:" }.joined(separator: "\n") + " v\n")
            .write(toFile: block, atomically: false, encoding: .utf8)
        check(block, "201:201", "nesting deeper than 200 levels")
        // 200 levels are fine.
        XCTAssertNoThrow(try parse(String(repeating: "[", count: 200) + String(repeating: "]", count: 200)))
    }

    func testAliasBomb() throws {
        let dir = try temporaryDirectory(self)
        let path = dir.appendingPathComponent("lol.yaml").path
        var lines = ["a: &a [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]"]
        let names = Array("abcdefghij")
        for i in 1..<names.count {
            lines.append(
                "\(names[i]): &\(names[i]) [" + Array(repeating: "*\(names[i - 1])", count: 10).joined(separator: ", ")
                    + "]")
        }
        try lines.joined(separator: "\n").write(toFile: path, atomically: false, encoding: .utf8)
        check(path, "5:36", "alias expansion exceeds 100000 nodes (alias bomb?)")
        // Many small aliases are fine.
        XCTAssertNoThrow(
            try parse("a: &a [1, 2]\nb: [" + Array(repeating: "*a", count: 1000).joined(separator: ", ") + "]"))
    }

    func testBinaryGarbage() throws {
        let dir = try temporaryDirectory(self)
        var generator = SystemRandomNumberGenerator()
        // Random bytes with NULs: the NUL pre-check fires.
        let garbage = dir.appendingPathComponent("garbage.bin").path
        var bytes = (0..<100_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        bytes[0] = 0x41
        bytes[1] = 0x00
        try Data(bytes).write(to: URL(fileURLWithPath: garbage))
        check(garbage, "1:2", "the file contains a NUL byte (at byte offset 1)")
        // Random bytes without NULs: libyaml's UTF-8 and character checks fire.
        let noNUL = dir.appendingPathComponent("garbage-no-nul.bin").path
        bytes = bytes.map { $0 == 0 ? 0xFF : $0 }
        bytes[1] = 0xC3  // "A", then a two-byte sequence whose second byte is not a continuation
        bytes[2] = 0x41
        try Data(bytes).write(to: URL(fileURLWithPath: noNUL))
        check(noNUL, "1:3", "invalid UTF-8: invalid trailing UTF-8 octet 0x41 at byte offset 2")
        // Also the same for text given as a string.
        XCTAssertNotNil(expectConfigError { try parse("a: \u{1}") })
    }
}
