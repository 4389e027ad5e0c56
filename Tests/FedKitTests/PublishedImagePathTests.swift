import FedKit
import Torch
import XCTest

@testable import Generators

/// `image_path: published`: FedBKD's generated CIFAR images as the authors' `Generator.forward`
/// makes them (uint8 cast, scaling, random crop and flip), and where it applies.
final class PublishedImagePathTests: XCTestCase {
    /// numpy 1.24 on x86, `np.array([...], dtype=np.float32).astype(np.uint8)`:
    /// [0 255 44 212 0 0 255 0] for [-0.5, -1.5, 300.7, -300.2, 1e10, -1e10, 255.9, 3e9].
    func testUInt8CastIsNumpys() {
        let cases: [(Float, UInt8)] = [
            (-0.5, 0), (-1.5, 255), (300.7, 44), (-300.2, 212), (1e10, 0), (-1e10, 0), (255.9, 255), (3e9, 0),
            (.nan, 0), (0.99, 0), (1, 1), (-256, 0), (-257.9, 255),
        ]
        for (value, expected) in cases {
            XCTAssertEqual(PublishedImagePath.numpyUInt8(value), expected, "\(value)")
        }
    }

    /// The flat output is read as 32 x 32 x 3 (their reshape), then channels first and normalised.
    func testFlatOutputIsReadChannelsLastAndNormalised() throws {
        let flat = (0..<(2 * 3072)).map { Float($0 % 300) - 20.5 }
        let x = try Tensor(flat, shape: [2, 3, 32, 32])
        let scaling = ImageStatistics(mean: [0.1, 0.2, 0.3], std: [0.5, 0.25, 2])
        let images = try PublishedImagePath.scaledImages(x, scaling: scaling)
        XCTAssertEqual(images.shape, [2, 3, 32, 32])
        let values = try images.floats()
        for (n, c, h, w) in [(0, 0, 0, 0), (0, 2, 0, 1), (1, 1, 31, 7), (1, 2, 5, 30)] {
            let raw = flat[n * 3072 + (h * 32 + w) * 3 + c]
            let expected = (Float(PublishedImagePath.numpyUInt8(raw)) / 255 - scaling.mean[c]) / scaling.std[c]
            XCTAssertEqual(values[((n * 3 + c) * 32 + h) * 32 + w], expected, accuracy: 1e-6, "\(n) \(c) \(h) \(w)")
        }
    }

    /// Cropped and flipped images keep their shape, and every value is a scaled uint8 or the black padding.
    func testImagesAreQuantisedCroppedAndFlipped() throws {
        let x = try Tensor.randn([4, 3, 32, 32], generator: RandomGenerator(seed: 1)) * 200
        let scaling = ImageStatistics.identity(channels: 3)
        let a = try PublishedImagePath.images(x, scaling: scaling, generator: RandomGenerator(seed: 2))
        let b = try PublishedImagePath.images(x, scaling: scaling, generator: RandomGenerator(seed: 2))
        XCTAssertEqual(a.shape, [4, 3, 32, 32])
        XCTAssertEqual(try a.floats(), try b.floats(), "the crop and flip draw from the generator given")
        XCTAssertNotEqual(try a.floats(), try PublishedImagePath.scaledImages(x, scaling: scaling).floats())
        for v in try a.floats() {
            XCTAssertEqual(v * 255, (v * 255).rounded(), accuracy: 1e-3)
        }
    }

    /// With the published preset on CIFAR-shaped data the teachers and the distillation see uint8
    /// images; on data without pixel scaling (or of another shape) the raw output.
    func testPublishedPresetUsesTheImagePathOnlyOnColourImages() throws {
        let parameters = try FedBKDReferenceTests.publishedParameters(.generator).merging([
            "samples": .int(40), "epochs": .int(1), "steps": .int(1),
        ]) { $1 }
        XCTAssertEqual(parameters["image_path"], .string("published"))
        let scaling = ImageStatistics(mean: [0.4914, 0.4822, 0.4465], std: [0.2470, 0.2435, 0.2616])
        for pixelScaling in [scaling, nil] {
            let generator = try ConditionalMLPGenerator.make(Parameters(parameters))
            let teachers = try (0..<2).map { k in
                Teacher(
                    client: k, state: try FedBKDReferenceTests.network(RandomGenerator(seed: UInt64(k))).stateDict(),
                    classCounts: (0..<10).map { $0 / 5 == k ? 10 : 0 })
            }
            let context = ServerRoundContext(
                round: 1, global: try FedBKDReferenceTests.network(RandomGenerator(seed: 5)),
                workspace: [try FedBKDReferenceTests.network(RandomGenerator(seed: 6))], teachers: teachers, classes: 10,
                inputShape: [3, 32, 32], inputKind: .continuous, generator: RandomGenerator(seed: 7),
                localBatchSize: 10, pixelScaling: pixelScaling)
            let metrics = try generator.train(context).metrics
            let samples = try generator.sample(labels: Tensor([0, 1, 2, 3]), generator: RandomGenerator(seed: 8))
            XCTAssertEqual(samples.shape, [4, 3, 32, 32])
            let values = try samples.floats()
            if pixelScaling != nil {
                XCTAssertEqual(metrics["generator.uint8_images"], 1)
                // Back to pixel units, every value is a whole number of 255ths.
                for (i, v) in values.enumerated() {
                    let c = (i / 1024) % 3
                    let pixel = (v * scaling.std[c] + scaling.mean[c]) * 255
                    XCTAssertEqual(pixel, pixel.rounded(), accuracy: 2e-3, "value \(i)")
                }
            } else {
                XCTAssertEqual(metrics["generator.uint8_images"], 0)
                XCTAssertTrue(values.contains { ($0 * 255 - ($0 * 255).rounded()).magnitude > 0.01 }, "raw output")
            }
        }
    }

    func testPublishedPathNeedsNoTeacherGradient() throws {
        for overrides: [String: ParameterValue] in [
            ["teacher_gradient": .bool(true)], ["schedule": .string("joint")],
        ] {
            XCTAssertThrowsError(
                try ConditionalMLPGenerator.make(Parameters(overrides.merging(["image_path": .string("published")]) { $1 }))
            ) { error in
                XCTAssertTrue("\(error)".contains("image_path: published is the published generator's"), "\(error)")
            }
        }
        XCTAssertNoThrow(try ConditionalMLPGenerator.make(Parameters(["image_path": .string("published")])))
    }
}
