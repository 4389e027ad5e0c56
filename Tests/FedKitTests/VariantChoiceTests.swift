import FedKit
import XCTest

/// `exp report --choose`: a variant is chosen on validation figures, and only the winner's row is shown.
final class VariantChoiceTests: XCTestCase {
    func testParsesNamePatternAndCriterion() throws {
        let plain = try VariantChoice(argument: "fedprox=fedprox-mu*")
        XCTAssertEqual(plain, VariantChoice(name: "fedprox", pattern: "fedprox-mu*", criterion: .valGlobalLast))
        let personal = try VariantChoice(argument: "bkd=fedbkd-plus*:val-personal-last")
        XCTAssertEqual(personal.criterion, .valPersonalLast)
        XCTAssertEqual(personal.pattern, "fedbkd-plus*")
        for bad in ["fedprox", "=x", "a=", "a=x:nonsense"] {
            XCTAssertThrowsError(try VariantChoice(argument: bad), bad) { error in
                XCTAssertTrue("\(error)".contains("--choose '\(bad)'"), "\(error)")
            }
        }
    }

    func testPatternsMatchWholeLabels() {
        let choice = VariantChoice(name: "p", pattern: "fedprox-mu*")
        XCTAssertTrue(choice.matches("fedprox-mu0.1"))
        XCTAssertTrue(choice.matches("fedprox-mu"))
        XCTAssertFalse(choice.matches("fedprox"))
        XCTAssertFalse(choice.matches("x-fedprox-mu1"))
        let inner = VariantChoice(name: "a", pattern: "A [*lr=0.1]")
        XCTAssertTrue(inner.matches("A [federation.lr=0.1]"))
        XCTAssertFalse(inner.matches("A [federation.lr=0.05]"))
        XCTAssertTrue(VariantChoice(name: "all", pattern: "*").matches(""))
    }

    /// A [lr=0.05] (seeds 1, 2) against A [lr=0.1] (seed 1): compared on seed 1 only, where the
    /// validation accuracy is 48 % against 28 %; the winner's row replaces both, with all its seeds.
    func testTheBestValidationCandidateReplacesTheCandidates() throws {
        let root = try ReportFixture.temporaryDirectory(self)
        try ReportFixture.standard(root)
        let report = try ReportCollector.collect(directories: ["\(root)/exp"])
        let (chosen, lines) = try report.choosing([try VariantChoice(argument: "A=A [*]:val-global")])
        XCTAssertEqual(chosen.experiments[0].groups.map(\.label), ["B", "A [chosen: A [federation.lr=0.05]]"])
        XCTAssertEqual(chosen.experiments[0].groups[1].complete.map(\.seed), [1, 2])
        XCTAssertEqual(
            lines,
            [
                "A: chose A [federation.lr=0.05] on val global, final (seed 1; "
                    + "A [federation.lr=0.05] 48.0, A [federation.lr=0.1] 28.0)"
            ])
        let table = chosen.markdown()
        XCTAssertTrue(table.contains("| A [chosen: A [federation.lr=0.05]] | 1,2 |"), table)
        XCTAssertFalse(table.contains("lr=0.1"), table)
    }

    func testAChoiceWithoutItsValidationFigureOrAMatchFails() throws {
        let root = try ReportFixture.temporaryDirectory(self)
        try ReportFixture.standard(root)
        let report = try ReportCollector.collect(directories: ["\(root)/exp"])
        XCTAssertThrowsError(try report.choosing([VariantChoice(name: "A", pattern: "A*", criterion: .valPersonal)])) {
            XCTAssertTrue("\($0)".contains("has no validation.personalized.weightedMean"), "\($0)")
        }
        XCTAssertThrowsError(try report.choosing([VariantChoice(name: "C", pattern: "C*")])) {
            XCTAssertTrue("\($0)".contains("no complete run's label matches; labels: B, A [federation.lr=0.05]"), "\($0)")
        }
    }
}
