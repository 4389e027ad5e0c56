import FedKit

/// Shared pieces of the built-in partitioners.
enum PartitionSupport {
    /// Checks the request every partitioner needs (clients >= 1, labels within 0..<classes).
    static func validate(_ request: PartitionRequest, name: String) throws {
        guard request.clients >= 1 else {
            throw PluginError("\(name): partition.clients must be >= 1, got \(request.clients)")
        }
        guard request.classes >= 1 else {
            throw PluginError("\(name): the dataset declares \(request.classes) classes")
        }
        if let bad = request.labels.firstIndex(where: { $0 < 0 || $0 >= request.classes }) {
            throw PluginError(
                "\(name): training sample \(bad) has label \(request.labels[bad]), outside 0..<\(request.classes)")
        }
        if let users = request.users, users.count != request.labels.count {
            throw PluginError("\(name): \(users.count) user ids for \(request.labels.count) samples")
        }
    }

    /// Sample indices per class, in index order.
    static func indicesByClass(_ labels: [Int], classes: Int) -> [[Int]] {
        var byClass = [[Int]](repeating: [], count: classes)
        for (i, y) in labels.enumerated() { byClass[y].append(i) }
        return byClass
    }

    /// Splits `total` over `weights` with cumulative flooring: entry j gets
    /// floor(S_j * total) - floor(S_{j-1} * total), S the normalised cumulative weights (the last
    /// boundary is exactly `total`). This is how NIID-Bench cuts a class with np.split.
    static func cumulativeCounts(_ total: Int, weights: [Double]) -> [Int] {
        let sum = weights.reduce(0, +)
        var counts = [Int](repeating: 0, count: weights.count)
        guard total > 0, sum > 0 else {
            if total > 0, !counts.isEmpty { counts[0] = total }
            return counts
        }
        var cumulative = 0.0
        var previous = 0
        for j in 0..<weights.count {
            cumulative += weights[j]
            let boundary =
                j == weights.count - 1
                ? total : Swift.min(total, Int((cumulative / sum * Double(total)).rounded(.down)))
            counts[j] = Swift.max(0, boundary - previous)
            previous = Swift.max(previous, boundary)
        }
        return counts
    }

    /// Splits `total` over `weights` by largest remainder (ties: lower index); sums to `total` exactly.
    static func largestRemainder(_ total: Int, weights: [Double]) -> [Int] {
        let sum = weights.reduce(0, +)
        var counts = [Int](repeating: 0, count: weights.count)
        guard total > 0, sum > 0 else { return counts }
        var remainders: [(Double, Int)] = []
        var assigned = 0
        for (j, w) in weights.enumerated() {
            let exact = Double(total) * w / sum
            let q = Int(exact.rounded(.down))
            counts[j] = q
            assigned += q
            remainders.append((exact - Double(q), j))
        }
        remainders.sort { $0.0 != $1.0 ? $0.0 > $1.0 : $0.1 < $1.1 }
        var k = 0
        while assigned < total {
            counts[remainders[k % remainders.count].1] += 1
            assigned += 1
            k += 1
        }
        return counts
    }

    /// Consecutive chunks of `items` with the given sizes (which must sum to items.count).
    static func chunks(_ items: [Int], sizes: [Int]) -> [[Int]] {
        var out: [[Int]] = []
        out.reserveCapacity(sizes.count)
        var start = 0
        for s in sizes {
            out.append(Array(items[start..<(start + s)]))
            start += s
        }
        return out
    }

    /// `total` split into `parts` near-equal sizes (the first total % parts get one more).
    static func equalSizes(_ total: Int, parts: Int) -> [Int] {
        (0..<parts).map { total / parts + ($0 < total % parts ? 1 : 0) }
    }
}
