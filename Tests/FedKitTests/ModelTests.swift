import FedKit
import Models
import Torch
import XCTest

/// Architecture checks for the built-in model plugins: shapes, parameter counts computed by
/// hand from the published layer sizes, the body/head split, and input checks.
final class ModelTests: XCTestCase {
    func build<P: ModelPlugin>(
        _ type: P.Type, _ shape: [Int], classes: Int, kind: InputKind = .continuous,
        _ parameters: [String: ParameterValue] = [:]
    ) throws -> Network {
        try P.make(Parameters(parameters))
            .build(
                ModelInput(inputShape: shape, classes: classes, inputKind: kind), generator: RandomGenerator(seed: 7))
    }

    func count(_ layers: [(inputs: Int, outputs: Int)]) -> Int {
        layers.reduce(0) { $0 + $1.inputs * $1.outputs + $1.outputs }
    }
    func conv(_ cin: Int, _ cout: Int, _ k: Int) -> Int { cin * cout * k * k + cout }

    func headNames(_ net: Network) -> [String] { net.stateDict().under("head").names }

    func testCIFAR10CNN() throws {
        let net = try build(CIFAR10CNN.self, [3, 32, 32], classes: 10)
        let expected = conv(3, 64, 5) + conv(64, 64, 5) + count([(1600, 120), (120, 64), (64, 10)])
        XCTAssertEqual(net.parameterCount, expected)
        XCTAssertEqual(net.parameterCount, 307_842)
        let x = try Tensor.randn([4, 3, 32, 32], generator: RandomGenerator(seed: 1))
        XCTAssertEqual(try net.forward(x).shape, [4, 10])
        XCTAssertEqual(try net.features(x).shape, [4, 64])
        XCTAssertEqual(headNames(net), ["head.0.weight", "head.0.bias"])
        XCTAssertEqual(
            net.stateDict().under("body").names,
            [
                "body.0.weight", "body.0.bias", "body.3.weight", "body.3.bias",
                "body.7.weight", "body.7.bias", "body.9.weight", "body.9.bias",
            ])
        XCTAssertEqual(net.stateDict()["body.7.weight"]?.shape, [120, 1600])
    }

    /// FedRep's and FedBKD's CNNCifar drop 60 % of the logits while training (`self.drop(self.fc3(x))`):
    /// in training mode the logits are zero or 2.5 x the eval-mode logits; eval mode has no dropout,
    /// and `logit_dropout: 0` builds the head without it.
    func testCIFAR10CNNDropsLogitsWhileTraining() throws {
        let net = try build(CIFAR10CNN.self, [3, 32, 32], classes: 10)
        let plain = try build(CIFAR10CNN.self, [3, 32, 32], classes: 10, ["logit_dropout": .double(0)])
        XCTAssertEqual(plain.head.parameters.count, 2)
        try plain.load(net.stateDict())
        let x = try Tensor.randn([50, 3, 32, 32], generator: RandomGenerator(seed: 1))
        net.setTraining(false)
        let clean = try withoutGrad { try net.forward(x).floats() }
        XCTAssertEqual(clean, try withoutGrad { try plain.forward(x).floats() })
        net.setTraining(true)
        let dropped = try withoutGrad { try net.forward(x).floats() }
        var zeros = 0
        for (d, c) in zip(dropped, clean) {
            if d == 0 { zeros += 1 } else { XCTAssertEqual(d, c * 2.5, accuracy: 1e-4 * max(1, abs(c))) }
        }
        XCTAssertEqual(Double(zeros) / Double(dropped.count), 0.6, accuracy: 0.07, "\(zeros) of \(dropped.count)")
    }

    func testCIFAR10CNNRejectsGreyImages() throws {
        XCTAssertThrowsError(try build(CIFAR10CNN.self, [1, 28, 28], classes: 10)) { error in
            XCTAssertTrue(error is PluginError)
            XCTAssertTrue("\(error)".contains("3-channel"), "\(error)")
            XCTAssertTrue("\(error)".contains("[1, 28, 28]"), "\(error)")
        }
        XCTAssertThrowsError(try build(CIFAR10CNN.self, [3, 8, 8], classes: 10)) { error in
            XCTAssertTrue("\(error)".contains("too small"), "\(error)")
        }
        XCTAssertThrowsError(try build(CIFAR10CNN.self, [25], classes: 2, kind: .tokens(vocabulary: 10)))
    }

    func testCIFAR100CNN() throws {
        let net = try build(CIFAR100CNN.self, [3, 32, 32], classes: 100)
        let expected = conv(3, 64, 5) + conv(64, 128, 5) + count([(3200, 256), (256, 128), (128, 100)])
        XCTAssertEqual(net.parameterCount, expected)
        XCTAssertEqual(net.parameterCount, 1_075_044)
        let x = try Tensor.randn([2, 3, 32, 32], generator: RandomGenerator(seed: 1))
        XCTAssertEqual(try net.forward(x).shape, [2, 100])
        XCTAssertEqual(try net.features(x).shape, [2, 128])
        XCTAssertEqual(headNames(net), ["head.0.weight", "head.0.bias"])
        // Dropout 0.6 is the last body layer: active in training, identity in evaluation.
        let dropout = try XCTUnwrap(net.body.layers.last as? Dropout)
        XCTAssertEqual(dropout.probability, 0.6)
        net.setTraining(false)
        XCTAssertEqual(try net.forward(x).floats(), try net.forward(x).floats())
        let custom = try build(CIFAR100CNN.self, [3, 32, 32], classes: 100, ["dropout": .double(0.2)])
        XCTAssertEqual((custom.body.layers.last as? Dropout)?.probability, 0.2)
    }

    func testFEMNISTMLP() throws {
        for shape in [[1, 28, 28], [784]] {
            let net = try build(FEMNISTMLP.self, shape, classes: 62)
            XCTAssertEqual(net.parameterCount, count([(784, 512), (512, 256), (256, 64), (64, 62)]))
            XCTAssertEqual(net.parameterCount, 553_726)
            let x = try Tensor.randn([3] + shape, generator: RandomGenerator(seed: 1))
            XCTAssertEqual(try net.forward(x).shape, [3, 62])
            XCTAssertEqual(try net.features(x).shape, [3, 64])
            XCTAssertEqual(headNames(net), ["head.0.weight", "head.0.bias"])
        }
    }

    func testSent140LSTM() throws {
        let net = try build(Sent140LSTM.self, [25], classes: 2, kind: .tokens(vocabulary: 50))
        let lstm = 4 * 128 * 100 + 4 * 128 * 128 + 2 * 4 * 128
        XCTAssertEqual(net.parameterCount, 50 * 100 + lstm + count([(128, 10), (10, 2)]))
        XCTAssertEqual(net.parameterCount, 124_072)
        XCTAssertEqual(net.encoderLayers, 1)
        let tokens = try Tensor.randint(0, 50, [4, 25], generator: RandomGenerator(seed: 1))
        XCTAssertEqual(try net.forward(tokens).shape, [4, 2])
        XCTAssertEqual(try net.features(tokens).shape, [4, 10])
        XCTAssertEqual(try net.encode(tokens).shape, [4, 25, 100])
        // A generator's embedding vectors enter after the embedding layer.
        let embedded = try Tensor.randn([4, 25, 100], generator: RandomGenerator(seed: 2))
        XCTAssertEqual(try net.forward(embedded: embedded).shape, [4, 2])
        XCTAssertEqual(headNames(net), ["head.0.weight", "head.0.bias"])
        let small = try build(
            Sent140LSTM.self, [25], classes: 2, kind: .tokens(vocabulary: 50),
            ["embedding_dim": .int(8), "hidden": .int(16)])
        XCTAssertEqual(
            small.parameterCount, 50 * 8 + 4 * 16 * 8 + 4 * 16 * 16 + 2 * 4 * 16 + count([(16, 10), (10, 2)]))
    }

    func testSent140LSTMNeedsTokens() throws {
        XCTAssertThrowsError(try build(Sent140LSTM.self, [25], classes: 2)) { error in
            XCTAssertTrue("\(error)".contains("token"), "\(error)")
        }
        XCTAssertThrowsError(try build(MLP.self, [25], classes: 2, kind: .tokens(vocabulary: 10))) { error in
            XCTAssertTrue("\(error)".contains("lstm-sent140"), "\(error)")
        }
    }

    func testFashionMNISTCNN() throws {
        let net = try build(FashionMNISTCNN.self, [1, 28, 28], classes: 10)
        XCTAssertEqual(net.parameterCount, conv(1, 16, 5) + conv(16, 32, 5) + count([(32 * 7 * 7, 128), (128, 10)]))
        XCTAssertEqual(net.parameterCount, 215_370)
        let x = try Tensor.randn([2, 1, 28, 28], generator: RandomGenerator(seed: 1))
        XCTAssertEqual(try net.forward(x).shape, [2, 10])
        XCTAssertEqual(try net.features(x).shape, [2, 128])
        XCTAssertEqual(headNames(net), ["head.0.weight", "head.0.bias"])

        let wide = try build(FashionMNISTCNN.self, [1, 28, 28], classes: 10, ["channels": .intList([32, 64])])
        XCTAssertEqual(wide.parameterCount, conv(1, 32, 5) + conv(32, 64, 5) + count([(3136, 128), (128, 10)]))
        // [H, W] images are read as one channel.
        let flat = try build(FashionMNISTCNN.self, [28, 28], classes: 10)
        XCTAssertEqual(
            try flat.forward(Tensor.randn([2, 28, 28], generator: RandomGenerator(seed: 1))).shape, [2, 10])
        XCTAssertThrowsError(try build(FashionMNISTCNN.self, [784], classes: 10))
        XCTAssertThrowsError(try FashionMNISTCNN.make(Parameters(["channels": .intList([8, 8, 8, 8])])))
    }

    func testMLP() throws {
        let net = try build(MLP.self, [1, 28, 28], classes: 10)
        XCTAssertEqual(net.parameterCount, count([(784, 200), (200, 200), (200, 10)]))
        XCTAssertEqual(net.parameterCount, 199_210)
        XCTAssertEqual(
            try net.forward(Tensor.randn([5, 1, 28, 28], generator: RandomGenerator(seed: 1))).shape, [5, 10])
        XCTAssertEqual(headNames(net), ["head.0.weight", "head.0.bias"])

        let logistic = try build(MLP.self, [60], classes: 10, ["hidden": .intList([])])
        XCTAssertEqual(logistic.parameterCount, 610)
        XCTAssertTrue(logistic.body.parameters.isEmpty)
        let custom = try build(MLP.self, [60], classes: 3, ["hidden": .intList([7])])
        XCTAssertEqual(custom.parameterCount, count([(60, 7), (7, 3)]))
    }

    func testSameGeneratorSeedGivesSameWeights() throws {
        let a = try build(CIFAR10CNN.self, [3, 32, 32], classes: 10).stateDict().flattened()
        let b = try build(CIFAR10CNN.self, [3, 32, 32], classes: 10).stateDict().flattened()
        XCTAssertEqual(try a.floats(), try b.floats())
    }

    func testDescriptorsDeclareDocumentedParameters() {
        for type in ModelCatalog.plugins {
            let d = type.descriptor
            XCTAssertEqual(d.kind, .model)
            XCTAssertFalse(d.summary.isEmpty, d.name)
            for p in d.parameters { XCTAssertFalse(p.doc.isEmpty, "\(d.name).\(p.name)") }
        }
        XCTAssertEqual(
            Set(ModelCatalog.plugins.map { $0.descriptor.name }),
            ["cnn-cifar10", "cnn-cifar100", "mlp-femnist", "lstm-sent140", "cnn-fmnist", "mlp"])
    }
}
