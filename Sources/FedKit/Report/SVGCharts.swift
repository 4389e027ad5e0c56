import Foundation

/// Plots as inline SVG text, drawn by our own small code: no scripts, fonts or files from anywhere.
enum SVG {
    static let palette = [
        "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
        "#bcbd22", "#17becf",
    ]

    static func color(_ index: Int) -> String { palette[index % palette.count] }

    /// Solid for the first ten methods, then dashed, then dotted: colours repeat, line styles tell them apart.
    static func dash(_ index: Int) -> String {
        switch (index / palette.count) % 3 {
        case 0: return ""
        case 1: return " stroke-dasharray=\"7 3\""
        default: return " stroke-dasharray=\"2 2\""
        }
    }

    static func n(_ v: Double) -> String { String(format: "%.1f", v) }

    static func text(
        _ s: String, x: Double, y: Double, size: Int = 11, anchor: String = "start", extra: String = ""
    ) -> String {
        "<text x=\"\(n(x))\" y=\"\(n(y))\" font-size=\"\(size)\" text-anchor=\"\(anchor)\"\(extra)>\(HTML.escape(s))</text>"
    }

    /// About `count` round tick values covering lo...hi (steps of 1, 2 or 5 times a power of ten).
    /// With `integers`, steps are whole numbers (rounds).
    static func ticks(_ lo: Double, _ hi: Double, count: Int = 5, integers: Bool = false) -> [Double] {
        guard hi > lo else { return [lo] }
        let raw = (hi - lo) / Double(max(1, count))
        let magnitude = pow(10, floor(log10(raw)))
        var step = [1.0, 2, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? 10 * magnitude
        if integers { step = Swift.max(1, step.rounded()) }
        let first = (lo / step - 1e-9).rounded(.up), last = (hi / step + 1e-9).rounded(.down)
        guard first <= last else { return [] }
        return (Int(first)...Int(last)).map { k in
            let v = Double(k) * step
            return Swift.abs(v) < step * 1e-9 ? 0 : v
        }
    }

    /// A label cut to `limit` characters (the full text stays in a tooltip).
    static func short(_ s: String, _ limit: Int) -> String { s.count <= limit ? s : String(s.prefix(limit - 1)) + "…" }
}

/// A metric against the round, one line per method (mean over seeds) with a band from the
/// smallest to the largest seed's value.
struct LineChart {
    struct Series {
        var label: String
        var color: String
        /// Extra stroke attributes (a dash pattern) or "".
        var dash: String = ""
        /// (round, mean, min, max) over seeds.
        var points: [(x: Double, mean: Double, lo: Double, hi: Double)]
    }

    var yTitle: String
    var percent: Bool
    var series: [Series]

    func svg(width: Double = 900, height: Double = 320) -> String {
        let left = 56.0, right = 230.0, top = 14.0, bottom = 40.0
        let plotW = width - left - right, plotH = height - top - bottom
        let all = series.flatMap(\.points)
        guard !all.isEmpty else { return "" }
        let xs = all.map(\.x)
        let (x0, x1) = (xs.min()!, xs.max()!)
        var (y0, y1) = (all.map(\.lo).min()!, all.map(\.hi).max()!)
        if y1 - y0 < 1e-9 { y0 -= 0.05; y1 += 0.05 }
        let pad = (y1 - y0) * 0.05
        y0 -= pad; y1 += pad
        if percent { y0 = Swift.max(0, y0); y1 = Swift.min(1, y1) }
        let yTicks = SVG.ticks(y0, y1)
        y0 = Swift.min(y0, yTicks.first ?? y0); y1 = Swift.max(y1, yTicks.last ?? y1)
        func x(_ v: Double) -> Double { left + (x1 > x0 ? (v - x0) / (x1 - x0) * plotW : plotW / 2) }
        func y(_ v: Double) -> Double { top + plotH - (v - y0) / (y1 - y0) * plotH }

        var out =
            "<svg class=\"chart\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\">"
        out +=
            "<rect x=\"\(SVG.n(left))\" y=\"\(SVG.n(top))\" width=\"\(SVG.n(plotW))\" height=\"\(SVG.n(plotH))\" fill=\"none\" stroke=\"#999\"/>"
        for t in yTicks {
            out +=
                "<line x1=\"\(SVG.n(left))\" x2=\"\(SVG.n(left + plotW))\" y1=\"\(SVG.n(y(t)))\" y2=\"\(SVG.n(y(t)))\" stroke=\"#e6e6e6\"/>"
            let label =
                percent
                ? String(format: Swift.abs(t * 100 - (t * 100).rounded()) < 1e-6 ? "%.0f%%" : "%.1f%%", t * 100)
                : String(format: "%g", t)
            out += SVG.text(label, x: left - 6, y: y(t) + 4, anchor: "end")
        }
        let xTicks = SVG.ticks(x0, x1, count: 10, integers: true)
        for t in xTicks.isEmpty ? [x0] : xTicks {
            out +=
                "<line x1=\"\(SVG.n(x(t)))\" x2=\"\(SVG.n(x(t)))\" y1=\"\(SVG.n(top + plotH))\" y2=\"\(SVG.n(top + plotH + 4))\" stroke=\"#999\"/>"
            out += SVG.text(String(Int(t)), x: x(t), y: top + plotH + 16, anchor: "middle")
        }
        out += SVG.text("round", x: left + plotW / 2, y: height - 6, anchor: "middle")
        out += SVG.text(
            yTitle, x: 14, y: top + plotH / 2, anchor: "middle",
            extra: " transform=\"rotate(-90 14 \(SVG.n(top + plotH / 2)))\"")
        for s in series where !s.points.isEmpty {
            if s.points.contains(where: { $0.hi > $0.lo }) {
                let upper = s.points.map { "\(SVG.n(x($0.x))),\(SVG.n(y($0.hi)))" }
                let lower = s.points.reversed().map { "\(SVG.n(x($0.x))),\(SVG.n(y($0.lo)))" }
                out +=
                    "<polygon points=\"\((upper + lower).joined(separator: " "))\" fill=\"\(s.color)\" fill-opacity=\"0.15\" stroke=\"none\"/>"
            }
            let line = s.points.map { "\(SVG.n(x($0.x))),\(SVG.n(y($0.mean)))" }.joined(separator: " ")
            out += "<polyline points=\"\(line)\" fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"2\"\(s.dash)/>"
            for p in s.points where s.points.count <= 30 {
                out += "<circle cx=\"\(SVG.n(x(p.x)))\" cy=\"\(SVG.n(y(p.mean)))\" r=\"2.5\" fill=\"\(s.color)\"/>"
            }
        }
        // Legend, right of the plot.
        for (i, s) in series.enumerated() {
            let ly = top + 10 + Double(i) * 18
            let lx = left + plotW + 14
            out +=
                "<g><title>\(HTML.escape(s.label))</title><line x1=\"\(SVG.n(lx))\" x2=\"\(SVG.n(lx + 22))\" y1=\"\(SVG.n(ly - 4))\" y2=\"\(SVG.n(ly - 4))\" stroke=\"\(s.color)\" stroke-width=\"3\"\(s.dash)/>"
            out += SVG.text(SVG.short(s.label, 30), x: lx + 28, y: ly) + "</g>"
        }
        return out + "</svg>"
    }
}

/// Per-client values (one dot per client and seed) with a box from the first to the third
/// quartile, the median (line) and the mean (diamond), one row per method.
struct DistributionChart {
    struct Row {
        var label: String
        var color: String
        var values: [Double]
        var note: String
    }

    var rows: [Row]
    var percent: Bool

    func svg(width: Double = 900) -> String {
        let labelW = 190.0, noteW = 170.0, rowH = 34.0, top = 8.0, axisH = 30.0
        let plotW = width - labelW - noteW
        let height = top + Double(rows.count) * rowH + axisH
        let all = rows.flatMap(\.values)
        var (v0, v1) = percent ? (0.0, 1.0) : (all.min() ?? 0, all.max() ?? 1)
        if v1 - v0 < 1e-9 { v0 -= 0.5; v1 += 0.5 }
        func x(_ v: Double) -> Double { labelW + (v - v0) / (v1 - v0) * plotW }
        var out =
            "<svg class=\"chart\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" role=\"img\">"
        let axisY = top + Double(rows.count) * rowH
        for t in SVG.ticks(v0, v1) {
            out +=
                "<line x1=\"\(SVG.n(x(t)))\" x2=\"\(SVG.n(x(t)))\" y1=\"\(SVG.n(top))\" y2=\"\(SVG.n(axisY))\" stroke=\"#e6e6e6\"/>"
            out += SVG.text(
                percent ? String(format: "%.0f%%", t * 100) : String(format: "%g", t), x: x(t), y: axisY + 14,
                anchor: "middle")
        }
        out +=
            "<line x1=\"\(SVG.n(labelW))\" x2=\"\(SVG.n(labelW + plotW))\" y1=\"\(SVG.n(axisY))\" y2=\"\(SVG.n(axisY))\" stroke=\"#999\"/>"
        for (i, row) in rows.enumerated() {
            let cy = top + Double(i) * rowH + rowH / 2
            out +=
                "<g><title>\(HTML.escape(row.label))</title>"
                + SVG.text(SVG.short(row.label, 30), x: labelW - 8, y: cy + 4, anchor: "end") + "</g>"
            out += SVG.text(row.note, x: labelW + plotW + 8, y: cy + 4)
            let sorted = row.values.sorted()
            guard !sorted.isEmpty else { continue }
            let (q1, med, q3) = (quantile(sorted, 0.25), quantile(sorted, 0.5), quantile(sorted, 0.75))
            out +=
                "<rect x=\"\(SVG.n(x(q1)))\" y=\"\(SVG.n(cy - 10))\" width=\"\(SVG.n(Swift.max(1, x(q3) - x(q1))))\" height=\"20\" fill=\"\(row.color)\" fill-opacity=\"0.12\" stroke=\"\(row.color)\"/>"
            out +=
                "<line x1=\"\(SVG.n(x(med)))\" x2=\"\(SVG.n(x(med)))\" y1=\"\(SVG.n(cy - 10))\" y2=\"\(SVG.n(cy + 10))\" stroke=\"\(row.color)\" stroke-width=\"2\"/>"
            for (k, v) in row.values.enumerated() {
                let jitter = (Double((k * 7919) % 17) / 16 - 0.5) * 14
                out +=
                    "<circle cx=\"\(SVG.n(x(v)))\" cy=\"\(SVG.n(cy + jitter))\" r=\"2\" fill=\"\(row.color)\" fill-opacity=\"0.6\"/>"
            }
            let mean = row.values.reduce(0, +) / Double(row.values.count)
            let mx = x(mean)
            out +=
                "<polygon points=\"\(SVG.n(mx)),\(SVG.n(cy - 6)) \(SVG.n(mx + 5)),\(SVG.n(cy)) \(SVG.n(mx)),\(SVG.n(cy + 6)) \(SVG.n(mx - 5)),\(SVG.n(cy))\" fill=\"#fff\" stroke=\"#000\"/>"
        }
        return out + "</svg>"
    }

    /// Linear interpolation between order statistics (numpy's default).
    static func quantile(_ sorted: [Double], _ q: Double) -> Double {
        let pos = q * Double(sorted.count - 1)
        let i = Int(pos.rounded(.down)), frac = pos - Double(i)
        return i + 1 < sorted.count ? sorted[i] * (1 - frac) + sorted[i + 1] * frac : sorted[i]
    }
    func quantile(_ sorted: [Double], _ q: Double) -> Double { Self.quantile(sorted, q) }
}

/// Training samples per class (rows) and client (columns); the colour grows linearly with the count.
struct PartitionHeatmap {
    var counts: [[Int]]
    /// Columns drawn at most (the first clients).
    var maxClients = 200

    func svg(width: Double = 900) -> String {
        let shown = Array(counts.prefix(maxClients))
        let classes = shown.map(\.count).max() ?? 0
        guard !shown.isEmpty, classes > 0 else { return "" }
        let left = 56.0, top = 8.0, bottom = 34.0, scaleW = 120.0
        let cw = Swift.max(2, Swift.min(28, (width - left - scaleW - 20) / Double(shown.count)))
        let ch = Swift.max(2, Swift.min(18, 420 / Double(classes)))
        let plotW = cw * Double(shown.count), plotH = ch * Double(classes)
        let height = top + plotH + bottom
        let peak = Swift.max(1, shown.flatMap { $0 }.max() ?? 1)
        func fill(_ v: Int) -> String {
            let t = Double(v) / Double(peak)
            let (r, g, b) = (255 - t * (255 - 8), 255 - t * (255 - 69), 255 - t * (255 - 148))
            return String(format: "#%02x%02x%02x", Int(r.rounded()), Int(g.rounded()), Int(b.rounded()))
        }
        var out =
            "<svg class=\"chart\" width=\"\(Int(left + plotW + scaleW + 20))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(left + plotW + scaleW + 20)) \(Int(height))\" role=\"img\">"
        for (k, row) in shown.enumerated() {
            for c in 0..<classes {
                let v = c < row.count ? row[c] : 0
                out +=
                    "<rect x=\"\(SVG.n(left + Double(k) * cw))\" y=\"\(SVG.n(top + Double(c) * ch))\" width=\"\(SVG.n(cw))\" height=\"\(SVG.n(ch))\" fill=\"\(fill(v))\"><title>client \(k), class \(c): \(v)</title></rect>"
            }
        }
        out +=
            "<rect x=\"\(SVG.n(left))\" y=\"\(SVG.n(top))\" width=\"\(SVG.n(plotW))\" height=\"\(SVG.n(plotH))\" fill=\"none\" stroke=\"#999\"/>"
        let clientStep = Swift.max(1, Int((36 / cw).rounded(.up)))
        for k in stride(from: 0, to: shown.count, by: clientStep) {
            out += SVG.text(
                String(k), x: left + (Double(k) + 0.5) * cw, y: top + plotH + 13, size: 10, anchor: "middle")
        }
        out += SVG.text("client", x: left + plotW / 2, y: height - 4, anchor: "middle")
        let classStep = Swift.max(1, Int((12 / ch).rounded(.up)))
        for c in stride(from: 0, to: classes, by: classStep) {
            out += SVG.text(String(c), x: left - 5, y: top + (Double(c) + 0.5) * ch + 3.5, size: 10, anchor: "end")
        }
        out += SVG.text(
            "class", x: 14, y: top + plotH / 2, anchor: "middle",
            extra: " transform=\"rotate(-90 14 \(SVG.n(top + plotH / 2)))\"")
        // Colour scale.
        let sx = left + plotW + 20
        for i in 0..<10 {
            out +=
                "<rect x=\"\(SVG.n(sx))\" y=\"\(SVG.n(top + Double(9 - i) * 12))\" width=\"14\" height=\"12\" fill=\"\(fill(Int((Double(peak) * Double(i) / 9).rounded())))\"/>"
        }
        out +=
            SVG.text("\(peak)", x: sx + 20, y: top + 10, size: 10) + SVG.text("0", x: sx + 20, y: top + 118, size: 10)
        out += SVG.text("samples", x: sx, y: top + 136, size: 10)
        return out + "</svg>"
    }
}
