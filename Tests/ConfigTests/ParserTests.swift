import Config
import XCTest

final class ParserTests: XCTestCase {
    func testScalarsPlainAndQuoted() throws {
        let root = try parse(
            """
            a: 5
            b: "5"
            c: 'single'
            d: plain text here
            e: ~
            f:
            g: |
              line one
              line two
            h: >
              folded
              text
            i: !!str 7
            j: "esc\\t\\"q\\" \\u00e9"
            """)
        XCTAssertEqual(root["a"]?.kind, .scalar("5", quoted: false))
        XCTAssertEqual(root["b"]?.kind, .scalar("5", quoted: true))
        XCTAssertEqual(root["c"]?.kind, .scalar("single", quoted: true))
        XCTAssertEqual(root["d"]?.scalarValue, "plain text here")
        XCTAssertEqual(root["e"]?.isNull, true)
        XCTAssertEqual(root["f"]?.isNull, true)
        XCTAssertEqual(root["f"]?.scalarValue, "")
        XCTAssertEqual(root["g"]?.kind, .scalar("line one\nline two\n", quoted: true))
        XCTAssertEqual(root["h"]?.kind, .scalar("folded text\n", quoted: true))
        XCTAssertEqual(root["i"]?.kind, .scalar("7", quoted: true))
        XCTAssertEqual(root["j"]?.scalarValue, "esc\t\"q\" é")
        XCTAssertNil(root["missing"])
        XCTAssertEqual(root.keys, ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"])
    }

    func testNullForms() throws {
        let root = try parse("[~, null, Null, NULL, '', \"null\", nil, NULLx]")
        XCTAssertEqual(root.items?.map(\.isNull), [true, true, true, true, false, false, false, false])
    }

    func testSequencesMappingsAndFlowStyle() throws {
        let root = try parse(
            """
            seeds: [1, 2, 3]
            methods:
              - fedavg
              - name: fedprox
                mu: 0.01
              - {name: ditto, lambda: 1}
            empty_list: []
            empty_map: {}
            nested: [[1, 2], {a: b}]
            """)
        XCTAssertEqual(root["seeds"]?.items?.compactMap(\.scalarValue), ["1", "2", "3"])
        let methods = try XCTUnwrap(root["methods"]?.items)
        XCTAssertEqual(methods.count, 3)
        XCTAssertEqual(methods[0].scalarValue, "fedavg")
        XCTAssertEqual(methods[1]["mu"]?.scalarValue, "0.01")
        XCTAssertEqual(methods[2]["lambda"]?.scalarValue, "1")
        XCTAssertEqual(root["empty_list"]?.items?.count, 0)
        XCTAssertEqual(root["empty_map"]?.entries?.count, 0)
        XCTAssertEqual(root["nested"]?.items?[0].items?.count, 2)
        XCTAssertEqual(root["nested"]?.items?[1]["a"]?.scalarValue, "b")
        XCTAssertNil(root["seeds"]?.entries)
        XCTAssertNil(root["seeds"]?.scalarValue)
        XCTAssertNil(root.items)
    }

    func testLocations() throws {
        let root = try parse(
            """
            # comment
            federation:
              rounds: 5
              lr:   0.1
            seeds: [1, 22, 3]
            name: "x"
            """, file: "exp.yaml")
        XCTAssertEqual(root.location, SourceLocation(file: "exp.yaml", line: 2, column: 1))
        let federation = try XCTUnwrap(root.entries?.first)
        XCTAssertEqual(federation.key.location.description, "exp.yaml:2:1")
        XCTAssertEqual(federation.value.location.description, "exp.yaml:3:3")
        XCTAssertEqual(root["federation"]?["rounds"]?.location.description, "exp.yaml:3:11")
        XCTAssertEqual(root["federation"]?["lr"]?.location.description, "exp.yaml:4:9")
        XCTAssertEqual(root["seeds"]?.location.description, "exp.yaml:5:8")
        XCTAssertEqual(root["seeds"]?.items?[1].location.description, "exp.yaml:5:12")
        XCTAssertEqual(root["name"]?.location.description, "exp.yaml:6:7")
    }

    func testColumnsCountCharactersNotBytes() throws {
        let root = try parse("é: ü\nk: [ä, x]\n")
        XCTAssertEqual(root["é"]?.location.column, 4)
        XCTAssertEqual(root["k"]?.items?[1].location.column, 8)
    }

    func testAnchorsAndAliases() throws {
        let root = try parse(
            """
            defaults: &d
              lr: 0.1
              momentum: 0.9
            trainer: *d
            seeds: &s [1, 2]
            again: *s
            word: &w hello
            copy: *w
            """)
        XCTAssertTrue(try XCTUnwrap(root["trainer"]).hasSameContent(as: try XCTUnwrap(root["defaults"])))
        XCTAssertEqual(root["again"]?.items?.count, 2)
        XCTAssertEqual(root["copy"]?.scalarValue, "hello")
        // An expansion keeps the locations of the anchored definition.
        XCTAssertEqual(root["trainer"]?["lr"]?.location.line, 2)
        // Aliases as keys: scalars are fine; errors point at the alias.
        XCTAssertEqual(try parse("a: &k x\n*k : 2\n")["x"]?.scalarValue, "2")
        var error = expectConfigError { try parse("a: &k x\nx: 1\n*k : 2\n") }
        XCTAssertEqual(
            error?.description.components(separatedBy: "\n").first, "test.yaml:3:1: duplicate key 'x' (first at line 2)"
        )
        error = expectConfigError { try parse("a: &a [1]\nb: {*a : 1}\n") }
        XCTAssertEqual(
            error?.description.components(separatedBy: "\n").first,
            "test.yaml:2:5: mapping keys must be scalars; found a list used as a key")
    }

    func testMergeKeys() throws {
        let root = try parse(
            """
            base: &base
              lr: 0.1
              epochs: 5
            other: &other
              epochs: 9
              batch: 32
            a:
              <<: *base
              epochs: 1
            b:
              name: b
              <<: [*base, *other]
            c:
              <<: {x: 1}
            """)
        XCTAssertEqual(root["a"]?.keys, ["lr", "epochs"])
        XCTAssertEqual(root["a"]?["epochs"]?.scalarValue, "1")  // explicit key wins
        XCTAssertEqual(root["b"]?.keys, ["name", "lr", "epochs", "batch"])
        XCTAssertEqual(root["b"]?["epochs"]?.scalarValue, "5")  // first source wins
        XCTAssertEqual(root["c"]?["x"]?.scalarValue, "1")
        // A quoted "<<" is an ordinary key.
        XCTAssertEqual(try parse("'<<': 1").keys, ["<<"])
        // Two merge keys are duplicates.
        let error = expectConfigError { try parse("a: &a {x: 1}\nb:\n  <<: *a\n  <<: *a\n") }
        XCTAssertEqual(error?.location?.line, 4)
        XCTAssertEqual(error?.message, "duplicate key '<<' (first at line 3)")
    }

    func testDocumentMarkersAndRootScalars() throws {
        XCTAssertEqual(try parse("---\na: 1\n...\n")["a"]?.scalarValue, "1")
        XCTAssertEqual(try parse("%YAML 1.1\n---\na: 1\n")["a"]?.scalarValue, "1")
        XCTAssertEqual(try parse("just text").scalarValue, "just text")
        XCTAssertEqual(try parse("- a\n- b").items?.count, 2)
    }

    func testByteOrderMarkAndUTF16() throws {
        let bom = "\u{FEFF}a: 1\nb: 2\n"
        let root = try parse(bom)
        XCTAssertEqual(root["b"]?.location.description, "test.yaml:2:4")
        let dir = try temporaryDirectory(self)
        let path = dir.appendingPathComponent("utf16.yaml").path
        var data = Data([0xFF, 0xFE])
        for unit in "name: é\n".utf16 { data.append(contentsOf: [UInt8(unit & 0xFF), UInt8(unit >> 8)]) }
        try data.write(to: URL(fileURLWithPath: path))
        XCTAssertEqual(try YAMLParser.parse(file: path)["name"]?.scalarValue, "é")
    }

    func testDuplicateKeysInLargeMappingUseIndex() throws {
        var text = (0..<50).map { "k\($0): \($0)" }.joined(separator: "\n")
        XCTAssertEqual(try parse(text).entries?.count, 50)
        text += "\nk17: again\n"
        let error = expectConfigError { try parse(text) }
        XCTAssertEqual(error?.message, "duplicate key 'k17' (first at line 18)")
        XCTAssertEqual(error?.location?.line, 51)
        // Quoted and plain spellings of a key are the same key.
        XCTAssertEqual(
            expectConfigError { try parse("a: 1\n\"a\": 2") }?.message, "duplicate key 'a' (first at line 1)")
    }

    func testTags() throws {
        XCTAssertEqual(try parse("a: !!int 5")["a"]?.kind, .scalar("5", quoted: false))
        XCTAssertEqual(try parse("a: ! 5")["a"]?.kind, .scalar("5", quoted: true))
        XCTAssertNotNil(try parse("a: !!map {x: 1}")["a"]?.entries)
        let error = expectConfigError { try parse("a: !!python/object x") }
        XCTAssertEqual(error?.location?.description, "test.yaml:1:4")
        XCTAssertTrue(
            error?.message.hasPrefix("unsupported tag '!!python/object'") ?? false, "\(String(describing: error))")
    }

    func testLimitsAreConfigurable() throws {
        let limits = YAMLLimits(maxAliasExpansion: 3, maxDepth: 2, maxFileSize: 20)
        XCTAssertEqual(try parse("[[1]]", limits: limits).items?.count, 1)
        XCTAssertEqual(
            expectConfigError { try parse("[[[1]]]", limits: limits) }?.message, "nesting deeper than 2 levels")
        XCTAssertEqual(
            expectConfigError { try parse("a: &a [1, 2, 3]\nb: *a", limits: YAMLLimits(maxAliasExpansion: 3)) }?
                .message,
            "alias expansion exceeds 3 nodes (alias bomb?)")
        XCTAssertNotNil(expectConfigError { try parse(String(repeating: "a", count: 21), limits: limits) }?.message)
        XCTAssertEqual(YAMLParser.maxDepth, 200)
        XCTAssertEqual(YAMLParser.maxAliasExpansion, 100_000)
        XCTAssertEqual(YAMLParser.maxFileSize, 16 << 20)
    }

    func testParseFileUsesPathInLocations() throws {
        let dir = try temporaryDirectory(self)
        let path = dir.appendingPathComponent("e.yaml").path
        try "a:\n  b: [1, x]\n".write(toFile: path, atomically: true, encoding: .utf8)
        let root = try YAMLParser.parse(file: path)
        XCTAssertEqual(root["a"]?["b"]?.items?[1].location, SourceLocation(file: path, line: 2, column: 10))
    }
}
