import CTorch

/// An explicit torch random generator. Every random op takes one, so that parallel clients
/// draw from their own streams and stay reproducible (the global generator is never used).
public final class RandomGenerator: @unchecked Sendable {
    let pointer: OpaquePointer

    public init(seed: UInt64) {
        // ft_generator_new only fails on allocation failure.
        pointer = ft_generator_new(seed)!
    }

    deinit { ft_generator_free(pointer) }

    /// Restarts the stream from `seed`.
    public func reseed(_ seed: UInt64) { ft_generator_set_seed(pointer, seed) }
}

extension Tensor {
    static func random(
        _ name: String, _ shape: [Int], _ call: (UnsafePointer<Int64>?, Int32) -> OpaquePointer?
    ) throws -> Tensor {
        let dims = shape.map(Int64.init)
        return try make(name, []) { dims.withUnsafeBufferPointer { call($0.baseAddress, Int32($0.count)) } }
    }

    /// Standard normal samples.
    public static func randn(_ shape: [Int], generator: RandomGenerator) throws -> Tensor {
        try withExtendedLifetime(generator) { try random("randn", shape) { ft_randn($0, $1, generator.pointer) } }
    }
    /// Uniform samples in [0, 1).
    public static func rand(_ shape: [Int], generator: RandomGenerator) throws -> Tensor {
        try withExtendedLifetime(generator) { try random("rand", shape) { ft_rand($0, $1, generator.pointer) } }
    }
    /// Integers uniform in [low, high).
    public static func randint(_ low: Int, _ high: Int, _ shape: [Int], generator: RandomGenerator) throws -> Tensor {
        try withExtendedLifetime(generator) {
            try random("randint", shape) { ft_randint(Int64(low), Int64(high), $0, $1, generator.pointer) }
        }
    }
    /// A random permutation of 0..<n.
    public static func randperm(_ n: Int, generator: RandomGenerator) throws -> Tensor {
        try withExtendedLifetime(generator) { try make("randperm", []) { ft_randperm(Int64(n), generator.pointer) } }
    }
    /// 1 with probability given by each element of self, else 0.
    public func bernoulli(generator: RandomGenerator) throws -> Tensor {
        try withExtendedLifetime(generator) {
            try Tensor.make("bernoulli", [self]) { withHandle { ft_bernoulli($0, generator.pointer) } }
        }
    }
    /// Fills in place with uniform samples in [from, to).
    public func uniform_(_ from: Double, _ to: Double, generator: RandomGenerator) throws {
        try withExtendedLifetime(generator) {
            try Tensor.check("uniform_", [self]) { withHandle { ft_uniform_($0, from, to, generator.pointer) } }
        }
    }
    /// Fills in place with normal samples.
    public func normal_(mean: Double = 0, std: Double = 1, generator: RandomGenerator) throws {
        try withExtendedLifetime(generator) {
            try Tensor.check("normal_", [self]) { withHandle { ft_normal_($0, mean, std, generator.pointer) } }
        }
    }
}
