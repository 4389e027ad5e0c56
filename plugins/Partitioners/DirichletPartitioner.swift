import FedKit

/// `dirichlet`: label skew by per-class Dirichlet proportions (Hsu et al. 2019; the NIID-Bench
/// "noniid-labeldir" procedure), with `min_size` enforced by a deterministic repair instead of
/// NIID-Bench's unbounded resampling loop.
///
/// 1. For each class c in order: shuffle its samples; draw p ~ Dir(alpha, ..., alpha) over the K
///    clients; with `balance`, zero p_k for clients already holding >= N/K samples (renormalise;
///    keep p if that zeroes everything); cut the class at floor(cumsum(p) * n_c).
/// 2. Repair: every client below min_size receives samples from the largest clients. The donors
///    give down to a common water level L >= min_size (the largest clients first), each giving a
///    seeded random subset of its samples. The donated samples are ordered by label (random order
///    within a label) and handed to the deficient clients, taken in a seeded random order, in
///    consecutive runs, so a repaired client gets few classes, in the spirit of a small alpha.
/// Runs in O(N log N + C K); always terminates. Error when clients * min_size > N.
public struct DirichletPartitioner: PartitionerPlugin {
    public static let descriptor = PluginDescriptor(
        kind: .partitioner, name: "dirichlet",
        summary:
            "label skew: each class split over clients by Dirichlet(alpha) proportions (NIID-Bench), min_size repaired",
        keys: [alpha, minSize, balance])

    public static let alpha = ParameterKey.double(
        "alpha", min: 0, minExclusive: true,
        doc: "Dirichlet concentration: small (0.1) is highly skewed, large (100) approaches IID")
    public static let minSize = ParameterKey.int(
        "min_size", default: 10, min: 1, doc: "every client ends with at least this many samples")
    public static let balance = ParameterKey.bool(
        "balance", default: true,
        doc: "as NIID-Bench: a client already holding N/clients samples receives nothing of later classes")

    public let alpha: Double
    public let minSize: Int
    public let balance: Bool

    public init(parameters p: Parameters) throws {
        self.init(alpha: p[Self.alpha], minSize: p[Self.minSize], balance: p[Self.balance])
    }

    public init(alpha: Double, minSize: Int = 10, balance: Bool = true) {
        self.alpha = alpha
        self.minSize = minSize
        self.balance = balance
    }

    public func partition(_ request: PartitionRequest, random: inout SplitMix64) throws -> [[Int]] {
        try PartitionSupport.validate(request, name: "dirichlet")
        let n = request.labels.count, k = request.clients
        guard alpha > 0, alpha.isFinite else { throw PluginError("dirichlet: alpha must be > 0, got \(alpha)") }
        guard k * Swift.max(minSize, 1) <= n else {
            throw PluginError(
                "dirichlet: \(k) clients x min_size \(Swift.max(minSize, 1)) = \(k * Swift.max(minSize, 1)) samples needed, "
                    + "but the training set has \(n); lower partition.clients or min_size")
        }
        let byClass = PartitionSupport.indicesByClass(request.labels, classes: request.classes)
        var assignment = [[Int]](repeating: [], count: k)
        let target = Double(n) / Double(k)
        for members in byClass where !members.isEmpty {
            let shuffled = random.shuffled(members)
            var p = random.nextDirichlet(alpha: alpha, count: k)
            if balance {
                let kept = p.enumerated().map { Double(assignment[$0.offset].count) < target ? $0.element : 0 }
                if kept.reduce(0, +) > 0 { p = kept }
            }
            let counts = PartitionSupport.cumulativeCounts(shuffled.count, weights: p)
            var start = 0
            for client in 0..<k where counts[client] > 0 {
                assignment[client].append(contentsOf: shuffled[start..<(start + counts[client])])
                start += counts[client]
            }
        }
        Self.repair(&assignment, minSize: Swift.max(minSize, 1), labels: request.labels, random: &random)
        return assignment
    }

    /// Moves samples from the largest clients to those under `minSize` (see the type's doc).
    /// Requires clients * minSize <= total samples.
    static func repair(_ assignment: inout [[Int]], minSize: Int, labels: [Int], random: inout SplitMix64) {
        let sizes = assignment.map(\.count)
        let needs = sizes.map { Swift.max(0, minSize - $0) }
        let deficit = needs.reduce(0, +)
        guard deficit > 0 else { return }
        func surplus(_ level: Int) -> Int { sizes.reduce(0) { $0 + Swift.max(0, $1 - level) } }
        // Largest level L >= minSize with surplus(L) >= deficit (exists because N >= K * minSize).
        var lo = minSize, hi = sizes.max() ?? minSize
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if surplus(mid) >= deficit { lo = mid } else { hi = mid - 1 }
        }
        let level = lo
        var gives = sizes.map { Swift.max(0, $0 - (level + 1)) }
        var extra = deficit - gives.reduce(0, +)
        // The remaining samples come one each from the largest clients at level + 1 or above.
        let donors = sizes.indices.filter { sizes[$0] >= level + 1 }.sorted {
            sizes[$0] != sizes[$1] ? sizes[$0] > sizes[$1] : $0 < $1
        }
        for d in donors where extra > 0 {
            gives[d] += 1
            extra -= 1
        }
        var pool: [(label: Int, key: UInt64, index: Int)] = []
        pool.reserveCapacity(deficit)
        for (client, give) in gives.enumerated() where give > 0 {
            let chosen = Set(random.sample(give, from: assignment[client].count).map { assignment[client][$0] })
            assignment[client].removeAll { chosen.contains($0) }
            for i in chosen.sorted() { pool.append((labels[i], random.next(), i)) }
        }
        pool.sort {
            $0.label != $1.label ? $0.label < $1.label : ($0.key != $1.key ? $0.key < $1.key : $0.index < $1.index)
        }
        let recipients = random.shuffled(needs.indices.filter { needs[$0] > 0 })
        var start = 0
        for r in recipients {
            assignment[r].append(contentsOf: pool[start..<(start + needs[r])].map(\.index))
            start += needs[r]
        }
    }
}
