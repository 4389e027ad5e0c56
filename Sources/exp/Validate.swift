import ArgumentParser
import FedKit

/// `exp validate FILE`: checks plugins, parameters and data paths without training.
struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check an experiment file (plugins, parameters, data files) without training.",
        discussion: "Exit 0 when valid; 1 with every error found otherwise.")

    @OptionGroup var experiment: ExperimentOptions

    func run() throws {
        let registry = try builtinRegistry()
        let spec = try experiment.load(registry: registry)
        try checkDataFiles(spec, registry: registry)
        var sweep = ""
        if !spec.sweep.isEmpty {
            // Every cell of the grid is validated too.
            let plan = try SweepPlanner(registry: registry).plan(file: experiment.file, overrides: experiment.overrides)
            sweep = "; sweep of \(plan.tasks.count) task(s) in \(Set(plan.tasks.map(\.cell)).count) cell(s)"
        }
        print(
            "\(experiment.file): valid — \(spec.methods.count) method(s) × \(spec.seeds.count) seed(s): \(spec.methods.map(\.label).joined(separator: ", "))\(sweep)"
        )
    }
}
