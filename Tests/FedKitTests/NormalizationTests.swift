import Config
import FedKit
import Foundation
import XCTest

@testable import Datasets

/// `normalize: standard | minus-one-one | none` and explicit `mean` / `std` on image datasets.
final class NormalizationTests: XCTestCase {
    func dataset(_ yaml: String, root: String) throws -> DatasetSplits {
        let node = try YAMLParser.parse(
            string: "{ root: \"\(root)\"\(yaml.isEmpty ? "" : ", ")\(yaml) }", fileName: "n.yaml")
        var errors: [ConfigError] = []
        let parameters = Parameters.resolve(
            node, specs: FashionMNISTDataset.descriptor.parameters, path: "dataset", errors: &errors)
        if let first = errors.first { throw first }
        return try FashionMNISTDataset.make(parameters).load()
    }

    func testChoices() throws {
        let root = try DataTestSupport.temporaryDirectory()
        _ = try DataTestSupport.writeMNIST(root: root, train: 4, test: 2, gzip: false)
        let x = Float((5 * 31 + 1) & 255) / 255  // pixel 5 of the first training image, in [0, 1]
        func pixel(_ yaml: String) throws -> Float {
            try dataset(yaml, root: root).train.inputs.select(dim: 0, 0).floats()[5]
        }
        XCTAssertEqual(try pixel("normalize: none"), x, accuracy: 1e-6)
        XCTAssertEqual(try pixel("normalize: minus-one-one"), 2 * x - 1, accuracy: 1e-6)
        XCTAssertEqual(try pixel(""), (x - 0.2860) / 0.3530, accuracy: 1e-5)  // standard, the dataset's statistics
        XCTAssertEqual(try pixel("normalize: standard, mean: [0.1], std: [0.25]"), (x - 0.1) / 0.25, accuracy: 1e-5)
    }

    func testBadCombinations() throws {
        let root = try DataTestSupport.temporaryDirectory()
        _ = try DataTestSupport.writeMNIST(root: root, train: 4, test: 2, gzip: false)
        func failure(_ yaml: String) -> String {
            do { _ = try dataset(yaml, root: root); return "no error" } catch { return "\(error)" }
        }
        XCTAssertTrue(failure("mean: [0.1]").contains("give both mean and std, or neither"))
        XCTAssertTrue(
            failure("normalize: minus-one-one, mean: [0.1], std: [0.2]").contains("apply to normalize: standard only"))
        XCTAssertTrue(
            failure("mean: [0.1, 0.2], std: [0.3, 0.3]").contains("need 1 value (one per channel), got 2 and 2"))
        XCTAssertTrue(failure("mean: [0.1], std: [0]").contains("must be > 0"))
        let old = failure("normalize: true")
        XCTAssertTrue(old.contains("must be one of: standard, minus-one-one, none") && old.contains("n.yaml:1:"), old)
    }
}
