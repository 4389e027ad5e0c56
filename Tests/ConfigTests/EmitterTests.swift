import Config
import XCTest

final class EmitterTests: XCTestCase {
    /// Emits `node`, parses the text back and checks the trees match (ignoring locations).
    private func assertRoundTrip(_ node: YAMLNode, file: StaticString = #filePath, line: UInt = #line) throws -> String
    {
        let text = YAMLEmitter.emit(node)
        let back: YAMLNode
        do { back = try parse(text) } catch {
            XCTFail("emitted text does not parse: \(error)\n\(text)", file: file, line: line)
            return text
        }
        XCTAssertTrue(back.hasSameContent(as: node), "round trip changed the tree:\n\(text)", file: file, line: line)
        return text
    }

    func testBlockLayout() throws {
        // Block layout round-trips to the same text (plus the final newline).
        let source = """
            name: quickstart
            seeds: [1, 2, 3]
            federation:
              rounds: 5
              lr: 0.01
            methods:
              - fedavg
              - name: fedprox
                trainer:
                  name: prox
                  mu: 0.01
              - [a, b]
            empty: []
            none: {}
            nothing:
            """
        let text = try assertRoundTrip(try parse(source))
        XCTAssertEqual(text, source + "\n")
    }

    func testQuotingKeepsStringsStrings() throws {
        let tricky = [
            "5", "0.1", "true", "no", "null", "~", "", " leading", "trailing ", "a: b", "a #b", "#c", "- x", "-",
            "[x]", "{y}", "a, b", "*ref", "&anchor", "!tag", "%x", "@x", "`x", "'x'", "\"x\"", "|", ">",
            "line\nbreak", "tab\there", "back\\slash", "é ü 漢字 🚀", "---", "...", "? q", ":x", "x:", "a\u{7}b",
            "\u{85}nel", "ls\u{2028}", "\u{FEFF}bom", "nul\u{0}", "ctl\u{1F}\u{7F}\u{9F}",
            "very long " + String(repeating: "x", count: 300),
        ]
        let node = map(tricky.enumerated().map { ("k\($0.offset)", quoted($0.element)) })
        let text = try assertRoundTrip(node)
        XCTAssertTrue(text.contains("k0: \"5\"\n"), text)
        XCTAssertTrue(text.contains("k2: \"true\"\n"), text)
        // The same texts as keys and as items of a (flow) sequence.
        let quotedKeys = tricky.map { YAMLMappingEntry(key: quoted($0), value: plain("v")) }
        _ = try assertRoundTrip(YAMLNode(kind: .mapping(quotedKeys), location: plain("").location))
        _ = try assertRoundTrip(seq(tricky.map(quoted)))
        _ = try assertRoundTrip(seq(Array(tricky.prefix(6)).map(quoted)))
    }

    func testPlainScalarsStayPlainWhenPossible() throws {
        let texts = [
            "5", "-3", "0.1", "1e-3", "true", "null", "~", "fedavg", "global-body", "a:b", "a#b", "x[1]", "a,b",
            "http://example.com/a?b=c", "path/to/file.yaml", "é", "-x", "a  b",
        ]
        let node = map(texts.enumerated().map { ("k\($0.offset)", plain($0.element)) })
        _ = try assertRoundTrip(node)
        // Flow lists only when every item can be written plain or quoted in flow context.
        XCTAssertEqual(YAMLEmitter.emit(map([("s", seq([plain("1"), plain("2")]))])), "s: [1, 2]\n")
        XCTAssertEqual(YAMLEmitter.emit(map([("s", seq([plain("a,b"), plain("2")]))])), "s:\n  - a,b\n  - 2\n")
        _ = try assertRoundTrip(map([("s", seq([plain("a,b"), plain("x[1]"), plain("")]))]))
    }

    func testPlainTextThatCannotBePlainIsQuoted() throws {
        // Only hand-built trees have such plain scalars; they come back as quoted strings.
        let text = YAMLEmitter.emit(map([("k", plain("a: b"))]))
        XCTAssertEqual(text, "k: \"a: b\"\n")
        XCTAssertEqual(try parse(text)["k"]?.kind, .scalar("a: b", quoted: true))
    }

    func testNestedAndEmptyStructures() throws {
        let deep = try parse(
            """
            a:
              - - 1
                - - 2
                  - {}
              - []
              - - {x: [1, {y: z}]}
            b: {c: {d: {e: [[], [[]]]}}}
            ?
            : plain empty key
            """)
        _ = try assertRoundTrip(deep)
        for root in [
            seq([]), map([]), plain("x"), quoted("5"), seq([plain("")]), seq([seq([]), map([])]),
            seq([map([("a", plain("1")), ("b", seq([plain("x"), seq([plain("y")])]))])]),
        ] {
            _ = try assertRoundTrip(root)
        }
        XCTAssertEqual(YAMLEmitter.emit(plain("")), "~\n")
        _ = try assertRoundTrip(
            map([("a", plain("1"))]).setting(
                path: [],
                to: YAMLNode(
                    kind: .mapping([YAMLMappingEntry(key: quoted(""), value: plain("q"))]), location: plain("").location
                )))
    }

    func testLongKeysAndLongFlowLists() throws {
        let longKey = String(repeating: "k", count: 1500)
        _ = try assertRoundTrip(map([(longKey, plain("v")), ("x", map([(longKey, seq([plain("1")]))]))]))
        let numbers = seq((0..<100).map { plain(String($0)) })
        let text = try assertRoundTrip(map([("many", numbers)]))
        XCTAssertTrue(text.hasPrefix("many:\n  - 0\n"), "long lists go block style")
    }

    func testExpandedAliasesAreWrittenOut() throws {
        let node = try parse("a: &x {k: [1, 2]}\nb: *x\nc:\n  <<: *x\n  z: 1\n")
        let text = try assertRoundTrip(node)
        XCTAssertFalse(text.contains("*"))
        XCTAssertFalse(text.contains("&"))
    }

    func testCorpusOfValidFilesRoundTrips() throws {
        let samples = [
            "a: 1", "- 1\n- [2, 3]\n- {a: b}", "k: 'it''s'", "k: \"tab\\there\"", "k: |\n  x\n   y\n",
            "k: >-\n  folded\n  more\n", "k: |+\n  keep\n\n", "'1': one\n'true': yes", "? complex plain key\n: v",
            "k: [\"a, b\", 'c: d', e#f]", "unicode: \"\\u263A \\U0001F600\"",
        ]
        for sample in samples {
            _ = try assertRoundTrip(try parse(sample))
        }
    }
}
