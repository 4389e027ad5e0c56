import Config
import XCTest

final class OverrideTests: XCTestCase {
    let base = """
        federation:
          rounds: 10
        seeds: [1, 2]
        methods:
          - name: fedavg
          - fedprox
        eval:
        name: x
        """

    func testSettingReplacesAndCreates() throws {
        let root = try parse(base)
        let value = plain("5")
        var updated = try root.setting(path: ["federation", "rounds"], to: value)
        XCTAssertEqual(updated["federation"]?["rounds"]?.scalarValue, "5")
        XCTAssertEqual(updated["federation"]?.location, root["federation"]?.location)
        updated = try updated.setting(path: ["partition", "dirichlet", "alpha"], to: plain("0.1"))
        XCTAssertEqual(updated["partition"]?["dirichlet"]?["alpha"]?.scalarValue, "0.1")
        XCTAssertEqual(updated.keys?.last, "partition")
        updated = try updated.setting(path: ["methods", "0", "label"], to: quoted("a"))
        XCTAssertEqual(updated["methods"]?.items?[0]["label"]?.scalarValue, "a")
        updated = try updated.setting(path: ["methods", "1"], to: plain("ditto"))
        XCTAssertEqual(updated["methods"]?.items?[1].scalarValue, "ditto")
        // A null section counts as an empty mapping.
        updated = try updated.setting(path: ["eval", "every"], to: plain("2"))
        XCTAssertEqual(updated["eval"]?["every"]?.scalarValue, "2")
        XCTAssertEqual(try root.setting(path: [], to: plain("r")).scalarValue, "r")
        // The original is untouched (value semantics).
        XCTAssertEqual(root["federation"]?["rounds"]?.scalarValue, "10")
    }

    func testSettingErrors() throws {
        let root = try parse(base, file: "e.yaml")
        var error = expectConfigError { try root.setting(path: ["name", "first"], to: plain("1")) }
        XCTAssertEqual(error?.message, "cannot set 'name.first': 'name' is \"x\", not a mapping")
        XCTAssertEqual(error?.location?.description, "e.yaml:8:7")
        error = expectConfigError { try root.setting(path: ["seeds", "5"], to: plain("1")) }
        XCTAssertEqual(error?.message, "cannot set 'seeds.5': index 5 is out of range, 'seeds' has 2 items")
        error = expectConfigError { try root.setting(path: ["methods", "first"], to: plain("1")) }
        XCTAssertEqual(
            error?.message, "cannot set 'methods.first': 'methods' is a list, so 'first' must be an index (0 to 1)")
        error = expectConfigError { try root.setting(path: ["federation", "", "x"], to: plain("1")) }
        XCTAssertEqual(error?.message, "cannot set 'federation..x': the key path has an empty component")
        error = expectConfigError { try plain("5").setting(path: ["a"], to: plain("1")) }
        XCTAssertEqual(error?.message, "cannot set 'a': the top level is 5, not a mapping")
    }

    func testOverrideParse() throws {
        var (path, value) = try YAMLOverride.parse("federation.rounds=5")
        XCTAssertEqual(path, ["federation", "rounds"])
        XCTAssertEqual(value.kind, .scalar("5", quoted: false))
        XCTAssertEqual(value.location.description, "<command line>:1:19")
        (path, value) = try YAMLOverride.parse("seeds=[1,2]")
        XCTAssertEqual(path, ["seeds"])
        XCTAssertEqual(value.items?.compactMap(\.scalarValue), ["1", "2"])
        XCTAssertEqual(value.items?[1].location.column, 10)
        (path, value) = try YAMLOverride.parse("name=\"5\"")
        XCTAssertEqual(value.kind, .scalar("5", quoted: true))
        (path, value) = try YAMLOverride.parse("model={name: cnn, width: 2}")
        XCTAssertEqual(value["width"]?.scalarValue, "2")
        (path, value) = try YAMLOverride.parse("methods[0].trainer.lr=0.1")
        XCTAssertEqual(path, ["methods", "0", "trainer", "lr"])
        (path, value) = try YAMLOverride.parse("note=a=b")
        XCTAssertEqual(value.scalarValue, "a=b")
        (path, value) = try YAMLOverride.parse("eval=")
        XCTAssertTrue(value.isNull)
        (path, value) = try YAMLOverride.parse("name=hello world # not a comment?")
        XCTAssertEqual(value.scalarValue, "hello world")
    }

    func testOverrideErrors() throws {
        var error = expectConfigError { try YAMLOverride.parse("federation.rounds") }
        XCTAssertEqual(
            error?.message,
            "an override must look like KEY.PATH=VALUE (e.g. federation.rounds=5); 'federation.rounds' has no '='")
        XCTAssertTrue(error?.description.hasPrefix("<command line>:1:1: ") ?? false)
        error = expectConfigError { try YAMLOverride.parse("=5") }
        XCTAssertTrue(error?.message.contains("the key path before '=' is empty") ?? false)
        error = expectConfigError { try YAMLOverride.parse("a..b=5") }
        XCTAssertTrue(error?.message.contains("empty component") ?? false)
        error = expectConfigError { try YAMLOverride.parse("seeds=[1, 2") }
        XCTAssertEqual(error?.location?.file, "<command line>")
        XCTAssertTrue(
            error?.message.hasPrefix("invalid value in override 'seeds=[1, 2': ") ?? false,
            "\(String(describing: error))")
        error = expectConfigError { try YAMLOverride.parse("x=a: b: c") }
        XCTAssertEqual(error?.location?.column, 7)
        XCTAssertEqual(error?.sourceLine, "x=a: b: c")
        XCTAssertEqual(error?.description.split(separator: "\n").last, "        ^")
    }

    func testOverrideAppliesToParsedFile() throws {
        var root = try parse(base)
        for assignment in ["federation.rounds=3", "seeds=[7]", "methods.1=ditto"] {
            let (path, value) = try YAMLOverride.parse(assignment)
            root = try root.setting(path: path, to: value)
        }
        XCTAssertEqual(try root["federation"]?["rounds"]?.int(path: "federation.rounds"), 3)
        XCTAssertEqual(root["seeds"]?.items?.count, 1)
        XCTAssertEqual(root["methods"]?.items?[1].scalarValue, "ditto")
    }

    func testClosestMatch() {
        let names = ["fedavg", "fedprox", "ditto", "fedrep", "fedbkd", "local"]
        XCTAssertEqual(closestMatch(to: "fedavgg", in: names), "fedavg")
        XCTAssertEqual(closestMatch(to: "FedProx", in: names), "fedprox")
        XCTAssertEqual(closestMatch(to: "dito", in: names), "ditto")
        XCTAssertEqual(closestMatch(to: "fedrop", in: names), "fedrep")
        XCTAssertNil(closestMatch(to: "resnet", in: names))
        XCTAssertNil(closestMatch(to: "x", in: []))
        XCTAssertEqual(closestMatch(to: "rounds", in: ["rounds", "round"]), "rounds")
        // Threshold: max(2, count / 3).
        XCTAssertEqual(closestMatch(to: "learning_rat", in: ["learning_rate"]), "learning_rate")
        XCTAssertEqual(closestMatch(to: "lerning_rte", in: ["learning_rate"]), "learning_rate")  // distance 2
        XCTAssertNil(closestMatch(to: "abc", in: ["xyz"]))
        XCTAssertEqual(closestMatch(to: "abcdefghijkl", in: ["abcdefghWXYZ"]), "abcdefghWXYZ")  // 4 <= 12 / 3
        XCTAssertNil(closestMatch(to: "abcdefghijkl", in: ["abcdefgVWXYZ"]))  // 5 > 12 / 3
        XCTAssertEqual(closestMatch(to: "sgd", in: ["adam", "sgdm", "sgb"]), "sgdm")  // ties: first wins
    }
}
