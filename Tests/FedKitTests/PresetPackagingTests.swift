import BuiltinPlugins
import Foundation
import XCTest

/// The presets are resources listed when SwiftPM evaluates Package.swift, and SwiftPM caches
/// that evaluation: a preset file added later is missing from the build until the manifest is
/// evaluated again. This test catches it.
final class PresetPackagingTests: XCTestCase {
    func testEveryPresetFileIsBundled() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../plugins/methods").standardized.path
        let files = try FileManager.default.contentsOfDirectory(atPath: folder)
            .filter { $0.hasSuffix(".yaml") }.map { String($0.dropLast(5)) }.sorted()
        let bundled = try BuiltinPlugins.registry().methods.keys.sorted()
        XCTAssertEqual(
            files, bundled,
            """
            plugins/methods/*.yaml and the bundled presets differ: SwiftPM is using a cached \
            evaluation of Package.swift. Run `touch Package.swift` (or build with --manifest-cache none) and rebuild.
            """)
    }
}
