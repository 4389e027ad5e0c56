import Foundation

/// The experiment summary: one row per method, mean ± std over seeds of each metric at the
/// final evaluation and over the last N evaluations.
public enum SummaryTable {
    struct Stat { var mean: Double; var std: Double; var n: Int }

    /// Mean and sample std; NaN values (a last-N mean that does not exist) are left out.
    static func stat(_ values: [Double]) -> Stat? {
        let values = values.filter { !$0.isNaN }
        guard !values.isEmpty else { return nil }
        let mean = values.reduce(0, +) / Double(values.count)
        let variance = values.count > 1 ? values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(values.count - 1) : 0
        return Stat(mean: mean, std: variance.squareRoot(), n: values.count)
    }

    static func stats(_ results: [RunResult], method: String, metric: String) -> (final: Stat?, last: Stat?) {
        let runs = results.filter { $0.method == method }.compactMap { $0.summary[metric] }
        return (stat(runs.map(\.final)), stat(runs.map(\.lastMean)))
    }

    /// summary.csv (sample standard deviation over seeds; empty cells for metrics a method lacks).
    public static func csv(_ results: [RunResult], methods: [String]) -> String {
        var header = ["method", "seeds"]
        for m in RunSummary.metricNames { header += ["\(m)_final_mean", "\(m)_final_std", "\(m)_last_mean", "\(m)_last_std"] }
        var lines = [header.joined(separator: ",")]
        for method in methods {
            let seeds = results.filter { $0.method == method }.count
            var row = [method, String(seeds)]
            for m in RunSummary.metricNames {
                let (f, l) = stats(results, method: method, metric: m)
                row += [f.map { fmt($0.mean) } ?? "", f.map { fmt($0.std) } ?? "", l.map { fmt($0.mean) } ?? "", l.map { fmt($0.std) } ?? ""]
            }
            lines.append(row.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func fmt(_ v: Double) -> String { String(format: "%.6f", v) }

    /// The side-by-side table printed at the end of `exp run` (accuracies in percent): test figures,
    /// the number of clients the personalised figures are over, and the validation figures to
    /// choose on.
    public static func text(_ results: [RunResult], methods: [String], lastRounds: Int) -> String {
        let columns: [(String, String, Bool)] = [
            ("global", "global_accuracy", false), ("global last\(lastRounds)", "global_accuracy", true),
            ("pers. (w)", "personalized_weighted", false), ("pers. last\(lastRounds)", "personalized_weighted", true),
            ("pers. worst", "personalized_worst", false), ("pers. p10", "personalized_bottom_decile", false),
            ("clients", "personalized_clients", false),
            ("val global", "validation_global_accuracy", false), ("val global last\(lastRounds)", "validation_global_accuracy", true),
            ("val pers.", "validation_personalized_weighted", false), ("val pers. last\(lastRounds)", "validation_personalized_weighted", true),
        ]
        var rows: [[String]] = [["method", "seeds"] + columns.map(\.0)]
        for method in methods {
            var row = [method, String(results.filter { $0.method == method }.count)]
            for (_, metric, last) in columns {
                let (f, l) = stats(results, method: method, metric: metric)
                if let s = last ? l : f, metric == "personalized_clients" {
                    row.append(s.n > 1 && s.std > 0 ? String(format: "%.1f", s.mean) : String(Int(s.mean.rounded())))
                } else if let s = last ? l : f {
                    row.append(s.n > 1 ? String(format: "%.2f ± %.2f", 100 * s.mean, 100 * s.std) : String(format: "%.2f", 100 * s.mean))
                } else {
                    row.append("–")
                }
            }
            rows.append(row)
        }
        let widths = (0..<rows[0].count).map { c in rows.map { $0[c].count }.max() ?? 0 }
        return rows.enumerated().map { i, row in
            let line = row.enumerated().map { c, cell in
                c == 0 ? cell.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                       : String(repeating: " ", count: widths[c] - cell.count) + cell
            }.joined(separator: "  ")
            return i == 0 ? line + "\n" + String(repeating: "-", count: line.count) : line
        }.joined(separator: "\n")
    }
}
