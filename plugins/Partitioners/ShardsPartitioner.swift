import FedKit

/// `shards`: pathological label skew as in FedAvg/LG-FedAvg/FedRep/FedBKD: every client gets
/// exactly `classes_per_client` distinct classes, and each class is cut into equal shards.
///
/// With K clients, s = classes_per_client and C classes present: K * s shards in all; class c gets
/// r_c = floor(K s / C) or that plus one shards (the classes taking the extra shard are chosen at
/// random). Clients, in a seeded random order, each take the s classes with the most shards left
/// (ties broken at random); by the bipartite Havel-Hakimi lemma this greedy choice always
/// completes when s <= C, so no retry loop is needed. Each class's shuffled samples are cut into
/// r_c near-equal shards, one per client that took the class. Every sample is assigned once.
/// Errors: s > C, or a class with fewer samples than shards.
public struct ShardsPartitioner: PartitionerPlugin {
    public static let descriptor = PluginDescriptor(
        kind: .partitioner, name: "shards",
        summary:
            "each client gets exactly classes_per_client distinct classes, one equal shard of each (FedRep/FedBKD)",
        keys: [classesPerClient])

    public static let classesPerClient = ParameterKey.int(
        "classes_per_client", default: 2, min: 1, doc: "distinct classes per client (shards per client)")

    public let classesPerClient: Int

    public init(parameters: Parameters) throws { classesPerClient = parameters[Self.classesPerClient] }
    public init(classesPerClient: Int) { self.classesPerClient = classesPerClient }

    public func partition(_ request: PartitionRequest, random: inout SplitMix64) throws -> [[Int]] {
        try PartitionSupport.validate(request, name: "shards")
        let k = request.clients, s = classesPerClient
        guard s >= 1 else { throw PluginError("shards: classes_per_client must be >= 1, got \(s)") }
        let byClass = PartitionSupport.indicesByClass(request.labels, classes: request.classes)
        let present = byClass.indices.filter { !byClass[$0].isEmpty }
        guard s <= present.count else {
            throw PluginError(
                "shards: classes_per_client \(s) but the training set has only \(present.count) classes with samples")
        }
        // Shards per class: near-equal, the extra ones on randomly chosen classes.
        let total = k * s
        let extraClasses = Set(random.sample(total % present.count, from: present.count).map { present[$0] })
        var shards = [Int](repeating: 0, count: request.classes)
        for c in present { shards[c] = total / present.count + (extraClasses.contains(c) ? 1 : 0) }
        for c in present where shards[c] > byClass[c].count {
            throw PluginError(
                "shards: class \(c) has \(byClass[c].count) samples but needs \(shards[c]) shards "
                    + "(clients x classes_per_client / classes = \(k) x \(s) / \(present.count)); lower partition.clients or classes_per_client"
            )
        }
        // Greedy: each client takes the s classes with the most shards left.
        var left = shards
        var takers = [[Int]](repeating: [], count: request.classes)
        for client in random.shuffled(Array(0..<k)) {
            let ranked = present.map { (c: $0, left: left[$0], key: random.next()) }
                .sorted { $0.left != $1.left ? $0.left > $1.left : $0.key < $1.key }
            for entry in ranked.prefix(s) {
                // Cannot fail when s <= classes (see the type's doc); kept as a guard against bugs.
                guard entry.left > 0 else {
                    throw PluginError("shards: internal error: no shard left for client \(client)")
                }
                left[entry.c] -= 1
                takers[entry.c].append(client)
            }
        }
        var assignment = [[Int]](repeating: [], count: k)
        for c in present {
            let pieces = PartitionSupport.chunks(
                random.shuffled(byClass[c]),
                sizes: PartitionSupport.equalSizes(byClass[c].count, parts: shards[c]))
            for (piece, client) in zip(pieces, takers[c]) { assignment[client].append(contentsOf: piece) }
        }
        return assignment
    }
}
