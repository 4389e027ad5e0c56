import FedKit
import Foundation

/// The method presets shipped as YAML files in plugins/methods/.
public enum MethodPresets {
    /// Every bundled preset file, parsed. A malformed preset is a packaging bug and is reported.
    public static func all() throws -> [MethodPreset] {
        guard let directory = Bundle.module.resourceURL else { return [] }
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".yaml") }.sorted()
        return try names.map { name in
            let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            return try MethodPreset(yaml: text, file: "plugins/methods/\(name)")
        }
    }
}
