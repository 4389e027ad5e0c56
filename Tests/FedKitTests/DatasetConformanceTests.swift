import FedKit
import Foundation
import XCTest

@testable import Datasets
@testable import Partitioners

/// The readers on real data: ../shared/data (FEMNIST and Sent140 LEAF samples, CIFAR-10 prepared
/// by prepare-cifar10.py) and Debian's Fashion-MNIST. Each test skips, saying why, when its data is absent.
final class DatasetConformanceTests: XCTestCase {
    func testFEMNISTSample() throws {
        guard let root = DataTestSupport.realData("femnist", archive: "femnist-leaf-sample.tar.xz") else {
            throw XCTSkip("FEMNIST sample not found (data/femnist or ../shared/data/femnist-leaf-sample.tar.xz)")
        }
        let data = try FEMNISTDataset(root: root).load()
        XCTAssertEqual(data.train.count, 14_697)
        XCTAssertEqual(data.test.count, 1_695)
        XCTAssertEqual(data.classes, 62)
        XCTAssertEqual(Set(data.trainUsers!).count, 110)
        XCTAssertEqual(data.train.inputs.shape, [14_697, 1, 28, 28])
        XCTAssertEqual(Set(data.train.labelArray).count, 62)
        XCTAssertEqual(data.testUsers!.count, 1_695)
        XCTAssertTrue(Set(data.testUsers!).isSubset(of: Set(data.trainUsers!)))
        // Natural partition: one client per writer; per-writer test data via local_test natural.
        var random = SplitMix64(seed: 1)
        let request = PartitionRequest(labels: data.train.labelArray, classes: 62, users: data.trainUsers, clients: 200)
        let parts = try NaturalPartitioner().partition(request, random: &random)
        XCTAssertEqual(parts.count, 110)
        XCTAssertEqual(parts.map(\.count).reduce(0, +), 14_697)
        let clients = try ClientSplits.make(
            dataset: data, partition: parts, localTest: "natural", holdoutFraction: 0.2,
            matchedTestSize: nil, seed: 1)
        XCTAssertEqual(clients.map(\.test.count).reduce(0, +), 1_695)
    }

    func testSent140TestHalf() throws {
        guard let root = DataTestSupport.realData("sent140", archive: "sent140-leaf-test.tar.xz") else {
            throw XCTSkip("Sent140 sample not found (data/sent140 or ../shared/data/sent140-leaf-test.tar.xz)")
        }
        let data = try Sent140Dataset(root: root).load()  // only test/ exists: split by sample (auto)
        XCTAssertEqual(data.train.count + data.test.count, 8_692)
        XCTAssertEqual(data.test.count, 1_738)  // round(0.2 * 8692)
        XCTAssertEqual(Set(data.trainUsers! + data.testUsers!).count, 7_086)
        let positives = data.train.labelArray.filter { $0 == 1 }.count + data.test.labelArray.filter { $0 == 1 }.count
        XCTAssertEqual(positives, 4_581)
        XCTAssertEqual(data.inputShape, [25])
        guard case .tokens(let vocabulary) = data.inputKind else { return XCTFail("expected tokens") }
        XCTAssertGreaterThan(vocabulary, 5_000)
        XCTAssertLessThanOrEqual(vocabulary, 10_000)
        // Few tokens are OOV in training (the vocabulary is built from it).
        let ids = try data.train.inputs.ints()
        XCTAssertLessThan(Double(ids.filter { $0 == 1 }.count) / Double(ids.filter { $0 != 0 }.count), 0.1)
    }

    func testCIFAR10Prepared() throws {
        let candidates = [
            "\(DataTestSupport.repositoryRoot)/data/cifar-10-batches-bin",
            "\(DataTestSupport.sharedData)/cifar-10-batches-bin",
        ]
        guard let root = candidates.first(where: { FileManager.default.fileExists(atPath: "\($0)/test_batch.bin") })
        else {
            throw XCTSkip(
                "data/cifar-10-batches-bin not found; run ../shared/data/prepare-cifar10.py data to create it")
        }
        let data = try CIFAR10Dataset(root: root).load()
        XCTAssertEqual(data.train.count, 50_000)
        XCTAssertEqual(data.test.count, 10_000)
        XCTAssertEqual(data.train.classCounts(classes: 10), [Int](repeating: 5_000, count: 10))
        XCTAssertEqual(data.test.classCounts(classes: 10), [Int](repeating: 1_000, count: 10))
        // Normalised with the official statistics: the training means are close to 0 per channel.
        let means = try data.train.inputs.mean(dims: [0, 2, 3]).floats()
        for m in means { XCTAssertEqual(m, 0, accuracy: 0.05) }
    }

    func testFashionMNISTFromDebian() throws {
        let root = "/usr/share/datasets/fashion-mnist"
        guard FileManager.default.fileExists(atPath: "\(root)/train-images-idx3-ubyte.gz") else {
            throw XCTSkip("Fashion-MNIST not installed (apt-get install dataset-fashion-mnist)")
        }
        let data = try FashionMNISTDataset(parameters: defaults(FashionMNISTDataset.self)).load()
        XCTAssertEqual(data.train.count, 60_000)
        XCTAssertEqual(data.test.count, 10_000)
        XCTAssertEqual(data.train.classCounts(classes: 10), [Int](repeating: 6_000, count: 10))
        XCTAssertEqual(data.test.classCounts(classes: 10), [Int](repeating: 1_000, count: 10))
        XCTAssertEqual(data.train.inputs.shape, [60_000, 1, 28, 28])
        let mean = try data.train.inputs.mean().item()
        XCTAssertEqual(mean, 0, accuracy: 0.01, "normalised with mean 0.2860, std 0.3530")
        XCTAssertEqual(data.train.labelArray.prefix(10), [9, 0, 0, 3, 0, 2, 7, 2, 5, 5])  // the official first labels
    }

    private func defaults<P: Plugin>(_ type: P.Type) -> Parameters {
        var parameters = Parameters()
        for spec in P.descriptor.parameters { if let v = spec.defaultValue { parameters.set(spec.name, v) } }
        return parameters
    }
}
