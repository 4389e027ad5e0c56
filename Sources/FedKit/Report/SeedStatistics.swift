import Foundation

/// A metric over the seeds of one method: mean, sample standard deviation and the 95% confidence
/// interval of the mean from Student's t with n - 1 degrees of freedom.
public struct SeedStatistics: Sendable, Equatable {
    public let values: [Double]

    public init(_ values: [Double]) { self.values = values }

    public var n: Int { values.count }
    public var mean: Double { values.isEmpty ? .nan : values.reduce(0, +) / Double(n) }
    /// Sample standard deviation (n - 1 in the denominator); 0 for one value.
    public var std: Double {
        guard n > 1 else { return 0 }
        let m = mean
        return (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(n - 1)).squareRoot()
    }
    public var min: Double { values.min() ?? .nan }
    public var max: Double { values.max() ?? .nan }
    /// Half the width of the 95% confidence interval, t(0.975, n-1) * std / sqrt(n); nil for n < 2
    /// (one seed gives no interval: say "n=1").
    public var ciHalfWidth: Double? {
        guard n > 1 else { return nil }
        return StudentT.quantile975(degreesOfFreedom: n - 1) * std / Double(n).squareRoot()
    }
    public var ci: ClosedRange<Double>? { ciHalfWidth.map { (mean - $0)...(mean + $0) } }
}

/// The 0.975 quantile of Student's t distribution (two-sided 95% intervals).
public enum StudentT {
    /// t(0.975, df) for df = 1...30 (scipy.stats.t.ppf(0.975, df), 9 decimals).
    static let table: [Double] = [
        12.706204736, 4.302652730, 3.182446305, 2.776445105, 2.570581836, 2.446911851, 2.364624252, 2.306004135,
        2.262157163, 2.228138852, 2.200985160, 2.178812830, 2.160368656, 2.144786688, 2.131449546, 2.119905299,
        2.109815578, 2.100922040, 2.093024054, 2.085963447, 2.079613845, 2.073873068, 2.068657610, 2.063898562,
        2.059538553, 2.055529439, 2.051830516, 2.048407142, 2.045229642, 2.042272456,
    ]

    /// From the table up to 30 degrees of freedom; above, the Cornish-Fisher expansion around the
    /// normal quantile (Abramowitz & Stegun 26.7.5), accurate to 1e-6 there.
    public static func quantile975(degreesOfFreedom df: Int) -> Double {
        precondition(df >= 1, "Student t needs at least one degree of freedom")
        if df <= table.count { return table[df - 1] }
        let z = 1.959963984540054, v = Double(df)
        let z3 = z * z * z, z5 = z3 * z * z, z7 = z5 * z * z, z9 = z7 * z * z
        let g1 = (z3 + z) / 4
        let g2 = (5 * z5 + 16 * z3 + 3 * z) / 96
        let g3 = (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / 384
        let g4 = (79 * z9 + 776 * z7 + 1482 * z5 - 1920 * z3 - 945 * z) / 92160
        return z + g1 / v + g2 / (v * v) + g3 / (v * v * v) + g4 / (v * v * v * v)
    }
}
