import Config
import XCTest

final class TypedAccessTests: XCTestCase {
    private func node(_ yaml: String) throws -> YAMLNode {
        try XCTUnwrap(try parse("v: \(yaml)", file: "c.yaml")["v"])
    }

    func testIntegers() throws {
        XCTAssertEqual(try node("42").int(path: "x"), 42)
        XCTAssertEqual(try node("-7").int(path: "x"), -7)
        XCTAssertEqual(try node("+3").int(path: "x"), 3)
        XCTAssertEqual(try node("0x1F").int(path: "x"), 31)
        XCTAssertEqual(try node("0o17").int(path: "x"), 15)
        XCTAssertEqual(try node("\(Int.min)").int(path: "x"), Int.min)
    }

    func testIntegerErrors() throws {
        let error = expectConfigError { try self.node("2.5").int(path: "federation.rounds") }
        XCTAssertEqual(error?.message, "federation.rounds must be an integer, got 2.5")
        XCTAssertEqual(error?.location?.description, "c.yaml:1:4")
        XCTAssertEqual(
            expectConfigError { try self.node("\"5\"").int(path: "seed") }?.message,
            "seed must be an integer, got the string \"5\" (remove the quotes)")
        XCTAssertEqual(
            expectConfigError { try self.node("abc").int(path: "n") }?.message, "n must be an integer, got \"abc\"")
        XCTAssertEqual(
            expectConfigError { try self.node("1_000").int(path: "n") }?.message, "n must be an integer, got \"1_000\"")
        XCTAssertEqual(
            expectConfigError { try self.node("").int(path: "n") }?.message, "n must be an integer, got null")
        XCTAssertEqual(
            expectConfigError { try self.node("[1]").int(path: "n") }?.message, "n must be an integer, got a list")
        XCTAssertEqual(
            expectConfigError { try self.node("{a: 1}").int(path: "n") }?.message, "n must be an integer, got a mapping"
        )
        XCTAssertEqual(
            expectConfigError { try self.node("99999999999999999999").int(path: "n") }?.message,
            "n must be an integer between \(Int.min) and \(Int.max), got 99999999999999999999")
    }

    func testDoubles() throws {
        XCTAssertEqual(try node("0.25").double(path: "x"), 0.25)
        XCTAssertEqual(try node("1e-3").double(path: "x"), 0.001)
        XCTAssertEqual(try node(".5").double(path: "x"), 0.5)
        XCTAssertEqual(try node("-2").double(path: "x"), -2)
        XCTAssertEqual(try node("3.").double(path: "x"), 3)
        XCTAssertEqual(try node("1E+2").double(path: "x"), 100)
    }

    func testDoubleErrors() throws {
        XCTAssertEqual(
            expectConfigError { try self.node("abc").double(path: "partition.alpha") }?.message,
            "partition.alpha must be a number, got \"abc\"")
        XCTAssertEqual(
            expectConfigError { try self.node("'0.1'").double(path: "lr") }?.message,
            "lr must be a number, got the string \"0.1\" (remove the quotes)")
        XCTAssertEqual(
            expectConfigError { try self.node(".inf").double(path: "lr") }?.message,
            "lr must be a finite number, got .inf")
        XCTAssertEqual(
            expectConfigError { try self.node("-.Inf").double(path: "lr") }?.message,
            "lr must be a finite number, got -.Inf")
        XCTAssertEqual(
            expectConfigError { try self.node(".nan").double(path: "lr") }?.message,
            "lr must be a finite number, got .nan")
        XCTAssertEqual(
            expectConfigError { try self.node("1e999").double(path: "lr") }?.message,
            "lr must be a finite number, got 1e999 (out of range)")
        for text in ["inf", "nan", "0x1p3", "1_000.5", "1.2.3", "e5", ".", "+", "1e", "1e+"] {
            XCTAssertEqual(
                expectConfigError { try self.node(text).double(path: "lr") }?.message.hasPrefix("lr must be a number"),
                true, text)
        }
        XCTAssertEqual(
            expectConfigError { try self.node("[0.1]").double(path: "lr") }?.message, "lr must be a number, got a list")
    }

    func testBooleans() throws {
        for text in ["true", "True", "TRUE", "yes", "Yes", "on", "ON"] {
            XCTAssertEqual(try node(text).bool(path: "b"), true, text)
        }
        for text in ["false", "False", "no", "NO", "off", "Off"] {
            XCTAssertEqual(try node(text).bool(path: "b"), false, text)
        }
        XCTAssertEqual(
            expectConfigError { try self.node("maybe").bool(path: "eval.personal") }?.message,
            "eval.personal must be true or false, got \"maybe\"")
        XCTAssertEqual(
            expectConfigError { try self.node("\"true\"").bool(path: "b") }?.message,
            "b must be true or false, got the string \"true\" (remove the quotes)")
        XCTAssertEqual(
            expectConfigError { try self.node("1").bool(path: "b") }?.message, "b must be true or false, got 1")
    }

    func testStrings() throws {
        XCTAssertEqual(try node("hello").string(path: "s"), "hello")
        XCTAssertEqual(try node("\"5\"").string(path: "s"), "5")
        XCTAssertEqual(try node("5").string(path: "s"), "5")
        XCTAssertEqual(
            expectConfigError { try self.node("[a]").string(path: "name") }?.message,
            "name must be a string, got a list")
    }

    func testCollections() throws {
        XCTAssertEqual(try node("[1, 2]").sequence(path: "seeds").count, 2)
        XCTAssertEqual(try node("{a: 1}").mapping(path: "m").first?.keyString, "a")
        XCTAssertEqual(
            expectConfigError { try self.node("{a: 1}").sequence(path: "methods") }?.message,
            "methods must be a list, got a mapping")
        XCTAssertEqual(
            expectConfigError { try self.node("mnist").mapping(path: "dataset") }?.message,
            "dataset must be a mapping, got \"mnist\"")
    }

    func testMessagesEscapeOddText() throws {
        let error = expectConfigError { try quoted("a\"b\n").int(path: "n") }
        XCTAssertEqual(error?.message, "n must be an integer, got \"a\\\"b\\n\"")
    }
}
