import BuiltinPlugins
import FedKit
import Torch
import XCTest

@testable import Datasets

/// Each reader on small files in its official format, written by the test itself.
final class DatasetReaderTests: XCTestCase {
    func testCIFAR10Binary() throws {
        let root = try DataTestSupport.temporaryDirectory()
        try DataTestSupport.writeCIFAR10(root: root, perBatch: 4)
        let data = try CIFAR10Dataset(root: root, normalize: false).load()
        XCTAssertEqual(data.name, "cifar10")
        XCTAssertEqual(data.train.count, 20)
        XCTAssertEqual(data.test.count, 4)
        XCTAssertEqual(data.classes, 10)
        XCTAssertEqual(data.inputShape, [3, 32, 32])
        XCTAssertEqual(data.train.inputs.shape, [20, 3, 32, 32])
        XCTAssertEqual(Array(data.train.labelArray.prefix(4)), [1, 2, 3, 4])  // batch 1: (r + 1) % 10
        // Channel-major layout: record 0 of batch 1, byte k = (k + 0 + 1) & 255, scaled to [0, 1].
        let first = try data.train.inputs.select(dim: 0, 0).floats()
        XCTAssertEqual(first[0], 1.0 / 255, accuracy: 1e-6)
        XCTAssertEqual(first[1024], Float((1024 + 1) & 255) / 255, accuracy: 1e-6)  // first green pixel
        XCTAssertEqual(first[3071], Float((3071 + 1) & 255) / 255, accuracy: 1e-6)
        XCTAssertNil(data.trainUsers)

        // Normalised: (x - mean) / std per channel.
        let normalized = try CIFAR10Dataset(root: root).load()
        let n = try normalized.train.inputs.select(dim: 0, 0).floats()
        XCTAssertEqual(n[1024], (Float(1025 & 255) / 255 - 0.4822) / 0.2435, accuracy: 1e-4)
        XCTAssertEqual(normalized.contentHash, data.contentHash, "the hash is of the raw bytes")
    }

    func testCIFAR100FineAndCoarse() throws {
        let root = try DataTestSupport.temporaryDirectory()
        let labels: [[UInt8]] = [[3, 99], [19, 0], [0, 42]]
        try DataTestSupport.write(DataTestSupport.cifarRecords(labels: labels, seed: 1), to: "\(root)/train.bin")
        try DataTestSupport.write(DataTestSupport.cifarRecords(labels: [[5, 7]], seed: 2), to: "\(root)/test.bin")
        let fine = try CIFAR100Dataset(root: root).load()
        XCTAssertEqual(fine.classes, 100)
        XCTAssertEqual(fine.train.labelArray, [99, 0, 42])
        XCTAssertEqual(fine.test.labelArray, [7])
        let coarse = try CIFAR100Dataset(root: root, coarse: true).load()
        XCTAssertEqual(coarse.classes, 20)
        XCTAssertEqual(coarse.train.labelArray, [3, 19, 0])
        XCTAssertNotEqual(fine.contentHash, coarse.contentHash)
        XCTAssertEqual(coarse.train.inputs.shape, [3, 3, 32, 32])
    }

    func testIDXGzippedAndRawGiveTheSameData() throws {
        let gzRoot = try DataTestSupport.temporaryDirectory(), rawRoot = try DataTestSupport.temporaryDirectory()
        let labels = try DataTestSupport.writeMNIST(root: gzRoot, train: 30, test: 10, gzip: true)
        _ = try DataTestSupport.writeMNIST(root: rawRoot, train: 30, test: 10, gzip: false)
        let a = try MNISTDataset(root: gzRoot).load()
        let b = try MNISTDataset(root: rawRoot).load()
        XCTAssertEqual(a.train.labelArray, labels.trainLabels)
        XCTAssertEqual(a.test.labelArray, labels.testLabels)
        XCTAssertEqual(a.train.inputs.shape, [30, 1, 28, 28])
        XCTAssertEqual(a.inputShape, [1, 28, 28])
        XCTAssertEqual(try a.train.inputs.floats(), try b.train.inputs.floats())
        XCTAssertEqual(a.contentHash, b.contentHash, "the hash is over the decompressed bytes")
        let raw = try MNISTDataset(root: rawRoot, normalize: false).load()
        XCTAssertEqual(
            try raw.train.inputs.select(dim: 0, 0).floats()[5], Float((5 * 31 + 1) & 255) / 255, accuracy: 1e-6)
        // fashion-mnist reads the same layout.
        let fashion = try FashionMNISTDataset(root: gzRoot).load()
        XCTAssertEqual(fashion.train.count, 30)
        XCTAssertNotEqual(fashion.contentHash, a.contentHash)
        XCTAssertEqual(
            FashionMNISTDataset(root: gzRoot).requiredFiles().map(\.path).first, "\(gzRoot)/train-images-idx3-ubyte.gz")
        XCTAssertEqual(
            MNISTDataset(root: rawRoot).requiredFiles().map(\.path).first, "\(rawRoot)/train-images-idx3-ubyte")
    }

    func testFEMNISTLEAFJSON() throws {
        let root = try DataTestSupport.temporaryDirectory()
        let img = DataTestSupport.femnistImage
        try DataTestSupport.write(
            DataTestSupport.leafJSON([("f001_01", [(img(0), 3), (img(1), 61)]), ("f002_07", [(img(2), 0)])]),
            to: "\(root)/train/all_data_0_train.json")
        try DataTestSupport.write(
            DataTestSupport.leafJSON([("f003_00", [(img(3), 10)])]), to: "\(root)/train/all_data_1_train.json")
        try DataTestSupport.write(
            DataTestSupport.leafJSON([("f001_01", [(img(4), 3)]), ("f002_07", [(img(5), 1)])]),
            to: "\(root)/test/all_data_0_test.json")
        let data = try FEMNISTDataset(root: root, normalize: false).load()
        XCTAssertEqual(data.classes, 62)
        XCTAssertEqual(data.train.labelArray, [3, 61, 0, 10])
        XCTAssertEqual(data.trainUsers, ["f001_01", "f001_01", "f002_07", "f003_00"])
        XCTAssertEqual(data.testUsers, ["f001_01", "f002_07"])
        XCTAssertEqual(data.train.inputs.shape, [4, 1, 28, 28])
        let pixels = try data.train.inputs.select(dim: 0, 1).floats()
        XCTAssertEqual(pixels[6], 0.25)  // (6 + 1) % 7 == 0
        XCTAssertEqual(pixels[0], 1.0)
    }

    func testSent140TokensVocabularyAndSplit() throws {
        let root = try DataTestSupport.temporaryDirectory()
        let t = DataTestSupport.tweet
        try DataTestSupport.write(
            DataTestSupport.leafJSON([
                ("alice", [(t("I'm SO happy today!! happy happy", "alice", 1), 1), (t("sad day", "alice", 2), 0)]),
                ("bob", [(t("Happy \"quoted\" day", "bob", 3), 1)]),
            ]), to: "\(root)/train/a.json")
        try DataTestSupport.write(
            DataTestSupport.leafJSON([("carol", [(t("happy unseenword", "carol", 4), 1)])]),
            to: "\(root)/test/a.json")
        let loaded = try Sent140Dataset(root: root, vocabularySize: 5, sequenceLength: 6).loadWithVocabulary()
        let data = loaded.splits
        // Training counts: happy 4, day 2, then i'm/quoted/sad/so/today 1 each (alphabetical).
        XCTAssertEqual(loaded.vocabulary.words, ["happy", "day", "i'm"])
        XCTAssertEqual(data.inputKind, .tokens(vocabulary: 5))
        XCTAssertEqual(data.inputShape, [6])
        // ids: 0 pad, 1 OOV, happy 2, day 3, i'm 4.
        XCTAssertEqual(try data.train.inputs.ints(), [4, 1, 2, 1, 2, 2, 1, 3, 0, 0, 0, 0, 2, 1, 3, 0, 0, 0])
        XCTAssertEqual(data.test.labelArray, [1])
        XCTAssertEqual(try data.test.inputs.ints(), [2, 1, 0, 0, 0, 0])
        XCTAssertEqual(data.trainUsers, ["alice", "alice", "bob"])
        XCTAssertEqual(data.train.inputs.dtype, .int64)
    }

    func testTokenizer() {
        XCTAssertEqual(
            TextVocabulary.tokenize("I'm SO happy!!! @bob http://x.co/a 'quoted' don’t 42x"),
            ["i'm", "so", "happy", "bob", "http", "x", "co", "a", "quoted", "don't", "42x"])
        XCTAssertEqual(TextVocabulary.tokenize("  ''  ... "), [])
        let v = TextVocabulary(texts: [["b", "a", "b"]], size: 10)
        XCTAssertEqual(v.encode(["b", "a", "zzz", "b"], length: 3), [2, 3, 1])
        XCTAssertEqual(v.encode([], length: 2), [0, 0])
    }

    func testSent140SplitsBySampleWhenOnlyTestExists() throws {
        let root = try DataTestSupport.temporaryDirectory()
        let t = DataTestSupport.tweet
        let users = (0..<40).map { u in
            ("user\(u)", [(t("tweet number \(u) is \(u % 2 == 0 ? "good" : "bad")", "user\(u)", u), u % 2)])
        }
        try DataTestSupport.write(DataTestSupport.leafJSON(users), to: "\(root)/test/only.json")
        let a = try Sent140Dataset(root: root, testFraction: 0.25, splitSeed: 7).load()
        XCTAssertEqual(a.train.count, 30)
        XCTAssertEqual(a.test.count, 10)
        XCTAssertEqual(Set(a.trainUsers! + a.testUsers!).count, 40)
        let b = try Sent140Dataset(root: root, testFraction: 0.25, splitSeed: 7).load()
        XCTAssertEqual(a.testUsers, b.testUsers)
        XCTAssertEqual(a.contentHash, b.contentHash)
        let c = try Sent140Dataset(root: root, testFraction: 0.25, splitSeed: 8).load()
        XCTAssertNotEqual(a.testUsers, c.testUsers)
        XCTAssertNotEqual(a.contentHash, c.contentHash)
        XCTAssertThrowsError(try Sent140Dataset(root: root, split: .folders).load()) { error in
            XCTAssertTrue("\(error)".contains("\(root)/train"), "\(error)")
        }
    }

    func testGloVeTextVectors() throws {
        let root = try DataTestSupport.temporaryDirectory()
        try DataTestSupport.write("happy 0.5 -1 2e-1\nday 1 2 3\nother 9 9 9\n", to: "\(root)/glove.txt")
        let vocabulary = TextVocabulary(texts: [["happy", "happy", "day", "missing"]], size: 10)
        let (matrix, found) = try GloVe.embeddingMatrix(path: "\(root)/glove.txt", vocabulary: vocabulary, seed: 1)
        XCTAssertEqual(found, 2)
        XCTAssertEqual(matrix.shape, [5, 3])
        let values = try matrix.floats()
        XCTAssertEqual(Array(values[0..<3]), [0, 0, 0])  // padding
        XCTAssertEqual(Array(values[6..<9]), [0.5, -1, 0.2])  // id 2 = happy
        XCTAssertEqual(Array(values[9..<12]), [1, 2, 3])  // id 3 = day
        XCTAssertNotEqual(Array(values[12..<15]), [0, 0, 0])  // missing word: random
        let again = try GloVe.embeddingMatrix(path: "\(root)/glove.txt", vocabulary: vocabulary, seed: 1).matrix
            .floats()
        XCTAssertEqual(values, again)
        // word2vec-style header line is skipped.
        try DataTestSupport.write("3 2\nhappy 1 2\n", to: "\(root)/w2v.txt")
        XCTAssertEqual(try GloVe.read(path: "\(root)/w2v.txt", words: ["happy": 2]).vectors[2], [1, 2])
        // Ragged and non-numeric lines are errors with line and byte offset.
        try DataTestSupport.write("happy 1 2 3\nday 1 2\n", to: "\(root)/ragged.txt")
        XCTAssertThrowsError(try GloVe.read(path: "\(root)/ragged.txt", words: [:])) { error in
            XCTAssertTrue("\(error)".contains("line 2 at byte offset 12 has 2 numbers, expected 3"), "\(error)")
        }
        try DataTestSupport.write("happy 1 x 3\n", to: "\(root)/text.txt")
        XCTAssertThrowsError(try GloVe.read(path: "\(root)/text.txt", words: ["happy": 2])) { error in
            XCTAssertTrue("\(error)".contains("byte offset 8 is not a number"), "\(error)")
        }
    }

    func testSyntheticIsSeededWithNaturalUsers() throws {
        let a = try SyntheticDataset(users: 5, sizeMu: 2, sizeSigma: 0.5, sizeMin: 20, seed: 3).load()
        let b = try SyntheticDataset(users: 5, sizeMu: 2, sizeSigma: 0.5, sizeMin: 20, seed: 3).load()
        let c = try SyntheticDataset(users: 5, sizeMu: 2, sizeSigma: 0.5, sizeMin: 20, seed: 4).load()
        XCTAssertEqual(a.inputShape, [60])
        XCTAssertEqual(a.classes, 10)
        XCTAssertEqual(a.train.labelArray, b.train.labelArray)
        XCTAssertEqual(try a.train.inputs.floats(), try b.train.inputs.floats())
        XCTAssertEqual(a.contentHash, b.contentHash)
        XCTAssertNotEqual(a.contentHash, c.contentHash)
        XCTAssertEqual(Set(a.trainUsers!).count, 5)
        XCTAssertEqual(a.trainUsers!.count, a.train.count)
        XCTAssertEqual(a.testUsers!.count, a.test.count)
        XCTAssertGreaterThanOrEqual(a.train.count + a.test.count, 100)
        XCTAssertTrue(a.train.labelArray.allSatisfy { (0..<10).contains($0) })
    }

    func testAugmentationIsSeededAndKeepsShape() throws {
        let batch = try Tensor((0..<(2 * 3 * 8 * 8)).map { Float($0) }, shape: [2, 3, 8, 8])
        let augmentation = RandomCropFlip(padding: 2, flip: true, padValue: [-1, -2, -3])
        let a = try augmentation.apply(batch, generator: RandomGenerator(seed: 5))
        let b = try augmentation.apply(batch, generator: RandomGenerator(seed: 5))
        XCTAssertEqual(a.shape, [2, 3, 8, 8])
        XCTAssertEqual(try a.floats(), try b.floats())
        // Over several seeds some output differs from the input, and only input values or the pad values appear.
        var changed = false
        let allowed = Set(try batch.floats()).union([-1, -2, -3])
        for seed in 0..<5 {
            let out = try augmentation.apply(batch, generator: RandomGenerator(seed: UInt64(seed))).floats()
            if out != (try batch.floats()) { changed = true }
            XCTAssertTrue(out.allSatisfy { allowed.contains($0) })
        }
        XCTAssertTrue(changed)
        // No padding and no flip: identity.
        let identity = try RandomCropFlip(padding: 0, flip: false, padValue: [0, 0, 0]).apply(
            batch, generator: RandomGenerator(seed: 1))
        XCTAssertEqual(try identity.floats(), try batch.floats())
        // The dataset exposes it when asked.
        let root = try DataTestSupport.temporaryDirectory()
        try DataTestSupport.writeCIFAR10(root: root, perBatch: 1)
        XCTAssertNotNil(try CIFAR10Dataset(root: root, augment: true).load().augmentation)
        XCTAssertNil(try CIFAR10Dataset(root: root).load().augmentation)
    }

    func testPluginsAreRegistered() throws {
        let registry = try BuiltinPlugins.registry()
        XCTAssertEqual(
            registry.names(.dataset),
            ["cifar10", "cifar100", "fashion-mnist", "femnist", "mnist", "pfllib", "sent140", "synthetic"])
        XCTAssertEqual(
            registry.names(.partitioner), ["dirichlet", "from-file", "iid", "natural", "quantity-skew", "shards"])
    }
}
