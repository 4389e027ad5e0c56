/// One client's data: its training samples, its own test and validation splits and its training
/// label counts.
public struct ClientData: @unchecked Sendable {
    public var train: LabeledSamples
    public var test: LabeledSamples
    /// Carved from the client's training data (`eval.validation_fraction`), never trained on:
    /// what variants and hyperparameters are chosen on. Empty when the fraction is 0 (or the
    /// client is too small to give any).
    public var validation: LabeledSamples
    /// Training samples per class (`classes` entries), after any holdout was removed.
    public var classCounts: [Int]
    /// Indices of `train` in the dataset's training set.
    public var trainIndices: [Int]
    /// Indices of `test`: into the dataset's test set (`matched`, `natural`) or its training set
    /// (`holdout`, `from-partition`; for a partition file, the training set is the file's pool).
    public var testIndices: [Int]
    /// Indices of `validation` in the dataset's training set.
    public var validationIndices: [Int]

    public init(
        train: LabeledSamples, test: LabeledSamples, validation: LabeledSamples, classCounts: [Int],
        trainIndices: [Int], testIndices: [Int], validationIndices: [Int]
    ) {
        self.train = train
        self.test = test
        self.validation = validation
        self.classCounts = classCounts
        self.trainIndices = trainIndices
        self.testIndices = testIndices
        self.validationIndices = validationIndices
    }
}

/// How each client's test split is built (docs/design.md §7, `eval.local_test`).
public enum LocalTestMode: String, Sendable, CaseIterable {
    /// Drawn from the dataset's test set with the client's training label distribution.
    case matched
    /// A stratified fraction of the client's own partition, removed from its training data.
    case holdout
    /// The test samples of the natural users (LEAF writers) whose training samples the client holds.
    case natural
    /// The client's own test indices from a partition file (`partition: from-file`), into the same pool.
    case fromPartition = "from-partition"
}

/// Assembles per-client train/test data from a partition (docs/datasets.md, "Local test splits").
///
/// - matched: the client's test size m is `matchedTestSize`, or max(10, n_train / 4). Per-class
///   quotas follow the client's training label counts (largest-remainder rounding, so they sum to
///   exactly m). Each class's quota is drawn from that class's test samples without replacement;
///   when the test set has fewer samples of the class than the quota, all of them are taken and
///   the rest is drawn with replacement. Classes absent from the test set are skipped and their
///   quota is given to the client's other classes (an error if none of its classes is in the test set).
/// - holdout: h = round(n * fraction), clamped to [1, n - 1], is split over classes by largest
///   remainder of n_c * fraction (never more than n_c; the clamp keeps at least one training
///   sample); each class's held-out samples are a seeded random subset. Clients with fewer than
///   2 samples are an error.
/// - natural: needs `trainUsers`/`testUsers`; the test samples of every user the client holds.
/// - from-partition: `partitionTests[k]`, indices into the training set (the partition file's
///   pool), exactly as given; every client needs a non-empty list.
///
/// Then the validation split (`validationFraction` > 0) is carved from what is left for training:
/// v = round(n_train x fraction) samples (at most n_train - 1, so a client keeps at least one
/// training sample; 0 for clients too small to give one), split over classes by largest
/// remainder like holdout, each class's share a seeded random subset. The global validation set
/// is the union of the clients' validation splits.
///
/// All randomness comes from `Seeds.stream(seed, "local-test", client)` and
/// `Seeds.stream(seed, "validation", client)`, so a client's splits do not depend on the other
/// clients.
public enum ClientSplits {
    public static func make(
        dataset: DatasetSplits, partition: [[Int]], localTest: String, holdoutFraction: Double,
        matchedTestSize: Int?, validationFraction: Double = 0, seed: Int,
        partitionTests: [[Int]?]? = nil
    ) throws -> [ClientData] {
        guard let mode = LocalTestMode(rawValue: localTest) else {
            throw PluginError(
                "unknown local_test '\(localTest)'; valid: \(LocalTestMode.allCases.map(\.rawValue).joined(separator: ", "))"
            )
        }
        return try make(
            dataset: dataset, partition: partition, mode: mode, holdoutFraction: holdoutFraction,
            matchedTestSize: matchedTestSize, validationFraction: validationFraction, seed: seed,
            partitionTests: partitionTests)
    }

    public static func make(
        dataset: DatasetSplits, partition: [[Int]], mode: LocalTestMode, holdoutFraction: Double,
        matchedTestSize: Int?, validationFraction: Double = 0, seed: Int,
        partitionTests: [[Int]?]? = nil
    ) throws -> [ClientData] {
        let trainLabels = dataset.train.labelArray
        let testLabels = dataset.test.labelArray
        let classes = dataset.classes
        let n = trainLabels.count
        // Validate the partition before indexing anything.
        var seen = [Bool](repeating: false, count: n)
        for (client, indices) in partition.enumerated() {
            guard !indices.isEmpty else {
                throw PluginError(
                    "client \(client) has no training samples; every client needs at least one (use fewer clients or a larger min_size)"
                )
            }
            for i in indices {
                guard i >= 0, i < n else {
                    throw PluginError("partition: client \(client) has sample index \(i), outside 0..<\(n)")
                }
                guard !seen[i] else { throw PluginError("partition: sample \(i) is assigned twice (client \(client))") }
                seen[i] = true
            }
        }
        if mode == .holdout, !(holdoutFraction > 0 && holdoutFraction < 1) {
            throw PluginError("holdout_fraction must be in (0, 1), got \(holdoutFraction)")
        }
        if let m = matchedTestSize, m < 1 { throw PluginError("matched_test_size must be >= 1, got \(m)") }
        if mode == .fromPartition {
            guard let partitionTests, partitionTests.count == partition.count else {
                throw PluginError(
                    "local_test: from-partition needs partition: from-file with a file that gives clients test indices")
            }
            for (client, tests) in partitionTests.enumerated() {
                guard let tests, !tests.isEmpty else {
                    throw PluginError(
                        "local_test: from-partition: client \(client) has no test indices in the partition file")
                }
                for i in tests where !(i >= 0 && i < n) {
                    throw PluginError("partition: client \(client) has test index \(i), outside 0..<\(n)")
                }
            }
        }
        guard validationFraction >= 0, validationFraction < 1 else {
            throw PluginError("validation_fraction must be in [0, 1), got \(validationFraction)")
        }

        // Test indices per class (for matched).
        var testByClass = [[Int]](repeating: [], count: classes)
        for (i, y) in testLabels.enumerated() where y >= 0 && y < classes { testByClass[y].append(i) }
        // Test indices per user (for natural).
        var testByUser: [String: [Int]] = [:]
        if mode == .natural {
            guard let trainUsers = dataset.trainUsers, let testUsers = dataset.testUsers else {
                throw PluginError(
                    "local_test: natural needs a dataset with natural users (femnist, sent140, synthetic); \(dataset.name) has none"
                )
            }
            guard trainUsers.count == n else {
                throw PluginError("\(dataset.name): trainUsers has \(trainUsers.count) entries for \(n) samples")
            }
            for (i, u) in testUsers.enumerated() { testByUser[u, default: []].append(i) }
        }

        let streamSeed = UInt64(bitPattern: Int64(seed))
        var result: [ClientData] = []
        result.reserveCapacity(partition.count)
        for (client, indices) in partition.enumerated() {
            var random = Seeds.stream(streamSeed, "local-test", client)
            var trainIndices = indices
            var testIndices: [Int]
            var testFromTrain = false
            switch mode {
            case .matched:
                let counts = classCounts(of: indices, labels: trainLabels, classes: classes)
                let size = matchedTestSize ?? Swift.max(10, indices.count / 4)
                testIndices = try matched(
                    counts: counts, size: size, testByClass: testByClass, random: &random, client: client)
            case .holdout:
                guard indices.count >= 2 else {
                    throw PluginError(
                        "client \(client) has \(indices.count) training sample; local_test: holdout needs at least 2 per client"
                    )
                }
                (trainIndices, testIndices) = holdout(
                    indices, labels: trainLabels, classes: classes, fraction: holdoutFraction,
                    random: &random)
                testFromTrain = true
            case .natural:
                let users = dataset.trainUsers!
                var userOrder: [String] = []
                var known = Set<String>()
                for i in indices where known.insert(users[i]).inserted { userOrder.append(users[i]) }
                testIndices = userOrder.flatMap { testByUser[$0] ?? [] }
                if testIndices.isEmpty {
                    throw PluginError(
                        "client \(client): its users (\(userOrder.prefix(3).joined(separator: ", "))\(userOrder.count > 3 ? ", ..." : "")) have no test samples; use local_test: matched or holdout"
                    )
                }
            case .fromPartition:
                testIndices = partitionTests![client]!
                testFromTrain = true
            }
            guard !trainIndices.isEmpty else {
                throw PluginError("client \(client) has no training samples left after the local test split")
            }
            var validationIndices: [Int] = []
            if validationFraction > 0 {
                var stream = Seeds.stream(streamSeed, "validation", client)
                let size = Swift.min(
                    trainIndices.count - 1, Int((Double(trainIndices.count) * validationFraction).rounded()))
                (trainIndices, validationIndices) = stratifiedSplit(
                    trainIndices, labels: trainLabels, size: size, random: &stream)
            }
            let train = try dataset.train.subset(trainIndices)
            let test = testFromTrain ? try dataset.train.subset(testIndices) : try dataset.test.subset(testIndices)
            let validation =
                validationIndices.isEmpty
                ? try LabeledSamples(inputs: dataset.train.inputs.slice(0..<0).clone(), labels: [])
                : try dataset.train.subset(validationIndices)
            result.append(
                ClientData(
                    train: train, test: test, validation: validation,
                    classCounts: classCounts(of: trainIndices, labels: trainLabels, classes: classes),
                    trainIndices: trainIndices, testIndices: testIndices, validationIndices: validationIndices))
        }
        return result
    }

    static func classCounts(of indices: [Int], labels: [Int], classes: Int) -> [Int] {
        var counts = [Int](repeating: 0, count: classes)
        for i in indices where labels[i] >= 0 && labels[i] < classes { counts[labels[i]] += 1 }
        return counts
    }

    /// Splits `total` over `weights` proportionally with largest-remainder rounding (ties: lower index),
    /// never giving an entry more than `caps[i]` when caps are given. Returns exact integers summing
    /// to min(total, sum(caps)).
    static func apportion(_ total: Int, weights: [Double], caps: [Int]? = nil) -> [Int] {
        let k = weights.count
        var quotas = [Int](repeating: 0, count: k)
        let sum = weights.reduce(0, +)
        guard total > 0, sum > 0 else { return quotas }
        var remainders: [(Double, Int)] = []
        var assigned = 0
        for i in 0..<k {
            let exact = Double(total) * weights[i] / sum
            var q = Int(exact.rounded(.down))
            if let caps { q = Swift.min(q, caps[i]) }
            quotas[i] = q
            assigned += q
            remainders.append((exact - Double(q), i))
        }
        remainders.sort { $0.0 != $1.0 ? $0.0 > $1.0 : $0.1 < $1.1 }
        var left = total - assigned
        // Hand out the remainder one by one, cycling while some entry still has room.
        while left > 0 {
            var progressed = false
            for (_, i) in remainders where left > 0 && weights[i] > 0 {
                if let caps, quotas[i] >= caps[i] { continue }
                quotas[i] += 1
                left -= 1
                progressed = true
            }
            if !progressed { break }
        }
        return quotas
    }

    static func matched(
        counts: [Int], size: Int, testByClass: [[Int]], random: inout SplitMix64, client: Int
    ) throws -> [Int] {
        // Only classes present in the test set can be drawn; their weights are the client's counts.
        let weights = counts.enumerated().map { testByClass[$0.offset].isEmpty ? 0 : Double($0.element) }
        guard weights.contains(where: { $0 > 0 }) else {
            let own = counts.enumerated().filter { $0.element > 0 }.map { String($0.offset) }
            throw PluginError(
                "client \(client): none of its classes (\(own.prefix(10).joined(separator: ", "))) appears in the test set; use local_test: holdout"
            )
        }
        let quotas = apportion(size, weights: weights)
        var picked: [Int] = []
        picked.reserveCapacity(size)
        for (c, q) in quotas.enumerated() where q > 0 {
            let pool = testByClass[c]
            if q <= pool.count {
                for j in random.sample(q, from: pool.count) { picked.append(pool[j]) }
            } else {
                // Every test sample of the class once, then the rest with replacement.
                picked += random.shuffled(pool)
                for _ in 0..<(q - pool.count) { picked.append(pool[random.nextInt(below: pool.count)]) }
            }
        }
        return picked
    }

    static func holdout(
        _ indices: [Int], labels: [Int], classes: Int, fraction: Double,
        random: inout SplitMix64
    ) -> (train: [Int], test: [Int]) {
        let n = indices.count
        let total = Swift.min(n - 1, Swift.max(1, Int((Double(n) * fraction).rounded())))
        let split = stratifiedSplit(indices, labels: labels, size: total, random: &random)
        return (split.kept, split.taken)
    }

    /// `size` of `indices` taken out, split over classes by largest remainder of their counts (never
    /// more than a class has), each class's share a seeded random subset; both parts keep the
    /// original order.
    static func stratifiedSplit(
        _ indices: [Int], labels: [Int], size total: Int,
        random: inout SplitMix64
    ) -> (kept: [Int], taken: [Int]) {
        guard total > 0 else { return (indices, []) }
        var byClass: [Int: [Int]] = [:]
        var classOrder: [Int] = []
        for i in indices {
            if byClass[labels[i]] == nil { classOrder.append(labels[i]) }
            byClass[labels[i], default: []].append(i)
        }
        classOrder.sort()
        let sizes = classOrder.map { byClass[$0]!.count }
        let quotas = apportion(total, weights: sizes.map(Double.init), caps: sizes)
        var test = Set<Int>()
        for (k, c) in classOrder.enumerated() where quotas[k] > 0 {
            let pool = byClass[c]!
            for j in random.sample(quotas[k], from: pool.count) { test.insert(pool[j]) }
        }
        let train = indices.filter { !test.contains($0) }
        let testList = indices.filter { test.contains($0) }
        return (train, testList)
    }
}
