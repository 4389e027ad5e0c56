import Foundation

/// Sampling from the distributions partitioners and data generators need, on SplitMix64.
extension SplitMix64 {
    /// Standard normal (Box-Muller; one value per call for a simple, fixed definition).
    public mutating func nextNormal() -> Double {
        var u1 = nextUnit()
        while u1 <= Double.leastNormalMagnitude { u1 = nextUnit() }
        let u2 = nextUnit()
        return (-2 * Foundation.log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// Gamma(shape, 1) by Marsaglia and Tsang, with the alpha < 1 boost. Always terminates
    /// with probability 1 and in practice in a few iterations.
    public mutating func nextGamma(shape: Double) -> Double {
        precondition(shape > 0, "gamma shape must be > 0")
        if shape < 1 {
            let u = max(nextUnit(), Double.leastNormalMagnitude)
            return nextGamma(shape: shape + 1) * pow(u, 1 / shape)
        }
        let d = shape - 1.0 / 3.0
        let c = 1 / (9 * d).squareRoot()
        while true {
            var x: Double, v: Double
            repeat {
                x = nextNormal()
                v = 1 + c * x
            } while v <= 0
            v = v * v * v
            let u = nextUnit()
            if u < 1 - 0.0331 * x * x * x * x { return d * v }
            if Foundation.log(max(u, Double.leastNormalMagnitude)) < 0.5 * x * x + d * (1 - v + Foundation.log(v)) {
                return d * v
            }
        }
    }

    /// A Dirichlet(alpha, ..., alpha) vector of length `k`. For tiny alpha where every gamma
    /// draw underflows to 0, falls back to a one-hot vector at a uniformly chosen position
    /// (the limit of the distribution), so the result always sums to 1.
    public mutating func nextDirichlet(alpha: Double, count k: Int) -> [Double] {
        nextDirichlet(alphas: [Double](repeating: alpha, count: k))
    }

    public mutating func nextDirichlet(alphas: [Double]) -> [Double] {
        let draws = alphas.map { nextGamma(shape: $0) }
        let total = draws.reduce(0, +)
        guard total > 0, total.isFinite else {
            var onehot = [Double](repeating: 0, count: alphas.count)
            onehot[nextInt(below: alphas.count)] = 1
            return onehot
        }
        return draws.map { $0 / total }
    }

    /// Log-normal with the given mean and standard deviation of the underlying normal.
    public mutating func nextLogNormal(mu: Double, sigma: Double) -> Double {
        Foundation.exp(mu + sigma * nextNormal())
    }
}
