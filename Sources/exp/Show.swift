import ArgumentParser
import Config
import FedKit

/// `exp show FILE`: prints the fully resolved experiment.
struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the fully resolved experiment (all defaults filled in) as YAML.")

    @OptionGroup var experiment: ExperimentOptions

    func run() throws {
        let spec = try experiment.load(registry: try builtinRegistry())
        print(YAMLEmitter.emit(spec.resolved), terminator: "")
    }
}
