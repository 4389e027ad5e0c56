import ArgumentParser
import FedKit

/// `exp list [KIND]`: plugins and presets with their parameters and defaults.
struct List: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List plugins and method presets with their parameters.",
        discussion: "KIND is one of: \(PluginKind.allCases.map(\.rawValue).joined(separator: ", ")), method.")

    @Argument(help: "Only this kind.")
    var kind: String?

    @Flag(help: "Print the YAML reference (docs/yaml-reference.md) as Markdown.")
    var markdown = false

    func run() throws {
        let registry = try builtinRegistry()
        if markdown {
            print(YAMLReference.markdown(registry), terminator: "")
            return
        }
        var kinds = PluginKind.allCases
        var showMethods = true
        if let kind {
            if kind == "method" || kind == "methods" {
                kinds = []
            } else if let k = PluginKind(rawValue: kind) ?? PluginKind(rawValue: String(kind.dropLast())) {
                kinds = [k]
                showMethods = false
            } else {
                throw ValidationError(
                    "unknown kind '\(kind)'; kinds: \(PluginKind.allCases.map(\.rawValue).joined(separator: ", ")), method"
                )
            }
        }
        for k in kinds {
            print("\(k.rawValue) plugins:")
            for d in registry.descriptors(k) {
                print("  \(d.name) — \(d.summary)")
                for p in d.parameters {
                    print("      \(p.name): \(p.type.summary), default \(p.defaultText) — \(p.doc)")
                }
            }
            print("")
        }
        if showMethods {
            print("method presets:")
            for name in registry.methods.keys.sorted() {
                print("  \(name) — \(registry.methods[name]!.summary)")
            }
        }
    }
}
