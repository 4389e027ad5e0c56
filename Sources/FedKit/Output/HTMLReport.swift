import Foundation

/// report.html: the summary table and accuracy-per-round plots as inline SVG (no network needed).
public enum HTMLReport {
    public static func render(spec: ExperimentSpec, results: [RunResult], failures: [RunFailure]) -> String {
        let methods = spec.methods.map(\.label)
        let last = spec.evaluation.int("last_rounds")
        var html = """
        <!doctype html><html><head><meta charset="utf-8"><title>\(escape(spec.name))</title>
        <style>body{font-family:sans-serif;max-width:1000px;margin:2em auto}pre{background:#f6f6f6;padding:1em}
        svg{border:1px solid #ddd;margin:0.5em 0}.legend span{margin-right:1.5em}</style></head><body>
        <h1>\(escape(spec.name))</h1><p>\(escape(spec.file)), seeds \(spec.seeds.map(String.init).joined(separator: ", "))</p>
        <h2>Summary (accuracy %, mean ± std over seeds)</h2><pre>\(escape(SummaryTable.text(results, methods: methods, lastRounds: last)))</pre>
        """
        if !failures.isEmpty {
            html += "<h2>Failed runs</h2><ul>" + failures.map { "<li>\(escape($0.description))</li>" }.joined() + "</ul>"
        }
        let colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]
        let legend = methods.enumerated().map { "<span style=\"color:\(colors[$0.offset % colors.count])\">■ \(escape($0.element))</span>" }.joined()
        for (title, pick) in [("Global accuracy", { (r: RoundRecord) in r.globalAccuracy }),
                              ("Personalized accuracy (weighted mean over the clients trained so far)", { (r: RoundRecord) in r.personalized?.weightedMean }),
                              ("Validation: global accuracy", { (r: RoundRecord) in r.validation?.globalAccuracy }),
                              ("Validation: personalized accuracy (weighted mean)", { (r: RoundRecord) in r.validation?.personalized?.weightedMean })] {
            var series: [(String, [(Double, Double)])] = []
            for (i, m) in methods.enumerated() {
                let runs = results.filter { $0.method == m }
                var byRound: [Int: [Double]] = [:]
                for run in runs { for r in run.records { if let v = pick(r) { byRound[r.round, default: []].append(v) } } }
                let points = byRound.keys.sorted().map { (Double($0), byRound[$0]!.reduce(0, +) / Double(byRound[$0]!.count)) }
                series.append((colors[i % colors.count], points))
            }
            guard series.contains(where: { !$0.1.isEmpty }) else { continue }
            html += "<h2>\(title)</h2><div class=\"legend\">\(legend)</div>" + svg(series, rounds: spec.federation.int("rounds"))
        }
        return html + "</body></html>\n"
    }

    static func svg(_ series: [(String, [(Double, Double)])], rounds: Int) -> String {
        let w = 900.0, h = 300.0, pad = 40.0
        func x(_ r: Double) -> Double { pad + (w - 2 * pad) * (rounds > 1 ? (r - 1) / Double(rounds - 1) : 0.5) }
        func y(_ a: Double) -> Double { h - pad - (h - 2 * pad) * a }
        var out = "<svg width=\"\(Int(w))\" height=\"\(Int(h))\" xmlns=\"http://www.w3.org/2000/svg\">"
        for tick in stride(from: 0.0, through: 1.0, by: 0.25) {
            out += "<line x1=\"\(pad)\" x2=\"\(w - pad)\" y1=\"\(y(tick))\" y2=\"\(y(tick))\" stroke=\"#eee\"/>"
            out += "<text x=\"5\" y=\"\(y(tick) + 4)\" font-size=\"11\">\(Int(tick * 100))%</text>"
        }
        out += "<text x=\"\(w / 2)\" y=\"\(h - 8)\" font-size=\"11\">round (1–\(rounds))</text>"
        for (color, points) in series where !points.isEmpty {
            let path = points.map { String(format: "%.1f,%.1f", x($0.0), y($0.1)) }.joined(separator: " ")
            out += "<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(path)\"/>"
        }
        return out + "</svg>"
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
