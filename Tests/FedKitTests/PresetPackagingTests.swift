import BuiltinPlugins
import Foundation
import XCTest

/// The presets are resources listed by name in Package.swift (`methodPresetNames`). A preset file
/// that is not listed there is not bundled; this test names it.
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
            plugins/methods/*.yaml and the bundled presets differ: add each new preset's name to \
            `methodPresetNames` in Package.swift (and remove deleted ones), then rebuild.
            """)
    }
}
