import Config
import Foundation

/// The `slurm:` section: what each task of a sweep's job array asks Slurm for. Command-line
/// flags of `exp sweep --backend slurm` override it.
public enum SlurmSettings {
    public static let cpusPerTask = ParameterKey.optionalInt(
        "cpus_per_task", min: 1, doc: "CPUs per task (--cpus-per-task); default federation.workers x threads_per_worker"
    )
    public static let memory = ParameterKey.optionalString(
        "mem", doc: "memory per task (--mem, e.g. 8G); default: the cluster's")
    public static let time = ParameterKey.optionalString(
        "time", doc: "time limit per task (--time, e.g. 04:00:00); default: the partition's")
    public static let partition = ParameterKey.optionalString("partition", doc: "partition (--partition)")
    public static let account = ParameterKey.optionalString("account", doc: "account charged (--account)")
    public static let maxParallel = ParameterKey.optionalInt(
        "max_parallel", min: 1, doc: "at most this many tasks of the array at once (--array=...%N)")
    public static let requeue = ParameterKey.bool(
        "requeue", default: true,
        doc: "let Slurm requeue a pre-empted or failed-node task (--requeue); it resumes from its checkpoint")
    public static let executable = ParameterKey.optionalPath(
        "exp", doc: "the exp executable the tasks run (default: the one that runs `exp sweep`)")

    /// The section's declarations (`extra`, a list, is read by `resolve` itself).
    public static let specs: [ParameterSpec] =
        ([
            cpusPerTask, memory, time, partition, account, maxParallel, requeue, executable,
        ] as [any ParameterDeclaration]).map(\.spec)

    /// `extra`: further `#SBATCH` lines, written as given (e.g. "--qos=long", "--constraint=avx2").
    public static let extraDoc = "further #SBATCH options written as given, e.g. [\"--qos=long\", \"--gres=gpu:1\"]"

    static func resolve(_ node: YAMLNode?, errors: inout [ConfigError]) -> Parameters {
        var result = Parameters.resolve(node, specs: specs, path: "slurm", ignoring: ["extra"], errors: &errors)
        if let extra = node?["extra"], !extra.isNull {
            if let items = extra.items, items.allSatisfy({ $0.scalarValue != nil && !$0.isNull }) {
                let lines = items.compactMap(\.scalarValue)
                if let bad = lines.first(where: { $0.contains("\n") || !$0.hasPrefix("-") }) {
                    errors.append(
                        ConfigError(
                            "slurm.extra: each item is an sbatch option starting with '-' on one line (e.g. --qos=long), got \"\(bad)\"",
                            at: extra.location))
                } else {
                    result.set("extra", .string(lines.joined(separator: "\n")))
                }
            } else {
                errors.append(
                    ConfigError(
                        "slurm.extra must be a list of strings (\(extraDoc)), got \(extra.describedValue)",
                        at: extra.location))
            }
        }
        return result
    }

    /// The extra lines of a resolved section.
    public static func extra(_ parameters: Parameters) -> [String] {
        parameters["extra"]?.stringValue.map { $0.split(separator: "\n").map(String.init) } ?? []
    }
}
