import ArgumentParser
import BuiltinPlugins
import Config
import FedKit
import Foundation

/// Exit statuses of `exp`, as documented in --help.
enum ExitStatus: Int32 {
    case success = 0, invalidInput = 1, usage = 2, runFailed = 3
}

@main
struct Exp: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exp",
        abstract: "Run federated-learning experiments described in YAML files.",
        discussion: """
            `exp FILE` is short for `exp run FILE`.

            Exit status:
              0  success
              1  invalid input: the experiment file, a --set value, a data file
              2  usage error: an unknown command or option, a missing argument
              3  a run failed (the other runs still finish and are written)
            """,
        version: FedKitVersion.current,
        subcommands: [Run.self, Sweep.self, Validate.self, Show.self, List.self, Partition.self, ReportCommand.self],
        defaultSubcommand: Run.self
    )

    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as ConfigErrors {
            report(error.addingSourceLines().description)
            Foundation.exit(ExitStatus.invalidInput.rawValue)
        } catch let error as ConfigError {
            report(error.addingSourceLine().description)
            Foundation.exit(ExitStatus.invalidInput.rawValue)
        } catch let error as CommandFailure {
            report(error.message)
            Foundation.exit(error.status.rawValue)
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                print(message)
                Foundation.exit(0)
            }
            if code == .validationFailure {
                report(message)
                Foundation.exit(ExitStatus.usage.rawValue)
            }
            if let exit = error as? ExitCode { Foundation.exit(exit.rawValue) }
            report("error: \(message.isEmpty ? "\(error)" : message)")
            Foundation.exit(ExitStatus.runFailed.rawValue)
        }
    }

    static func report(_ text: String) {
        FileHandle.standardError.write(Data((text.hasSuffix("\n") ? text : text + "\n").utf8))
    }
}

/// An error with its own exit status and message.
struct CommandFailure: Error {
    var status: ExitStatus
    var message: String
}

/// Options shared by commands that read an experiment file.
struct ExperimentOptions: ParsableArguments {
    @Argument(help: "The experiment file (YAML).")
    var file: String

    @Option(
        name: .customLong("set"),
        help: ArgumentHelp("Override a key, e.g. --set federation.rounds=5 (repeatable).", valueName: "KEY=VALUE"))
    var overrides: [String] = []

    func load(registry: PluginRegistry) throws -> ExperimentSpec {
        try ExperimentLoader(registry: registry).load(file: file, overrides: overrides)
    }
}

func builtinRegistry() throws -> PluginRegistry {
    do { return try BuiltinPlugins.registry() } catch {
        throw CommandFailure(status: .runFailed, message: "error: a built-in method preset is invalid: \(error)")
    }
}
