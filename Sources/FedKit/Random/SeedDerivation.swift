import FedKitBasics

/// Independent, reproducible random streams derived by hashing the experiment seed with a
/// purpose and indices, e.g. `Seeds.derive(seed, "train", round, client)`. Streams do not
/// depend on thread count or on which other streams were used.
public enum Seeds {
    /// A 64-bit seed for the stream named by `purpose` and `indices`.
    public static func derive(_ seed: UInt64, _ purpose: String, _ indices: Int...) -> UInt64 {
        derive(seed, purpose, indices: indices)
    }

    public static func derive(_ seed: UInt64, _ purpose: String, indices: [Int]) -> UInt64 {
        var hash = FNV1a()
        hash.combine(seed)
        hash.combine(purpose)
        for i in indices { hash.combine(UInt64(bitPattern: Int64(i))) }
        // One SplitMix64 step to spread the FNV bits.
        var mixer = SplitMix64(seed: hash.value)
        return mixer.next()
    }

    /// A SplitMix64 stream for `purpose`.
    public static func stream(_ seed: UInt64, _ purpose: String, _ indices: Int...) -> SplitMix64 {
        SplitMix64(seed: derive(seed, purpose, indices: indices))
    }
}

/// 64-bit FNV-1a: a stable hash (Swift's Hasher is randomly seeded per process).
/// The one FNV-1a of the code base: seeds, partition hashes and (with `combineWords`) the
/// content hashes of data files.
public struct FNV1a: Sendable {
    public static let offsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325
    public static let prime: UInt64 = 0x100_0000_01b3

    public private(set) var value: UInt64 = FNV1a.offsetBasis

    public init() {}

    public mutating func combine(_ bytes: some Sequence<UInt8>) {
        for b in bytes {
            value ^= UInt64(b)
            value = value &* Self.prime
        }
    }

    /// FNV-1a with 8-byte symbols: bulk data folded in as little-endian 64-bit words, the tail
    /// byte by byte. 8x faster than `combine` per byte and as stable, but a different hash of
    /// the same bytes: a hash uses one or the other throughout (data-file content hashes use this).
    public mutating func combineWords(_ bytes: UnsafeRawBufferPointer) {
        var h = value
        let n = bytes.count
        var i = 0
        if let base = bytes.baseAddress {
            while i + 8 <= n {
                h ^= UInt64(littleEndian: base.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                h = h &* Self.prime
                i += 8
            }
            while i < n {
                h ^= UInt64(base.load(fromByteOffset: i, as: UInt8.self))
                h = h &* Self.prime
                i += 1
            }
        }
        value = h
    }

    public mutating func combine(_ v: UInt64) {
        withUnsafeBytes(of: v.littleEndian) { combine($0) }
    }

    public mutating func combine(_ s: String) {
        combine(UInt64(s.utf8.count))
        combine(s.utf8)
    }

    /// Sixteen hex digits.
    public var hex: String { Hex.digits(value, count: 16) }
}
