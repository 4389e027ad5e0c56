import FedKit
import Foundation
import Torch

/// `synthetic`: FedProx's Synthetic(alpha, beta) (Li et al., MLSys 2020; their generate_niid.py),
/// seeded with SplitMix64. For user k:
///   u_k ~ N(0, alpha^2), B_k ~ N(0, beta^2)   (alpha and beta are standard deviations, as in the code)
///   W_k[j, c] ~ N(u_k, 1), b_k[c] ~ N(u_k, 1), v_k[j] ~ N(B_k, 1)
///   x ~ N(v_k, Sigma) with Sigma diagonal, Sigma_jj = (j + 1)^-1.2
///   y = argmax(x W_k + b_k)
/// Users have floor(exp(N(size_mu, size_sigma^2))) + size_min samples; each user's samples are
/// shuffled and split train_fraction / rest into train and test. Users are natural users.
public struct SyntheticDataset: DatasetPlugin {
    public static let descriptor = PluginDescriptor(
        kind: .dataset, name: "synthetic",
        summary: "FedProx Synthetic(alpha, beta): per-user logistic models on Gaussian features, natural users",
        keys: [alpha, beta, users, features, classes, sizeMu, sizeSigma, sizeMin, sizeMax, trainFraction, seed])

    public static let alpha = ParameterKey.double(
        "alpha", default: 1, min: 0, doc: "std of each user's model mean u_k (model heterogeneity)")
    public static let beta = ParameterKey.double(
        "beta", default: 1, min: 0, doc: "std of each user's feature mean B_k (feature heterogeneity)")
    public static let users = ParameterKey.int("users", default: 30, min: 1, doc: "number of natural users")
    public static let features = ParameterKey.int("features", default: 60, min: 1, doc: "input dimension")
    public static let classes = ParameterKey.int("classes", default: 10, min: 2, doc: "number of classes")
    public static let sizeMu = ParameterKey.double(
        "size_mu", default: 4, doc: "log-normal mean of the user sizes (FedProx: 4)")
    public static let sizeSigma = ParameterKey.double(
        "size_sigma", default: 2, min: 0, doc: "log-normal sigma of the user sizes (FedProx: 2)")
    public static let sizeMin = ParameterKey.int(
        "size_min", default: 50, min: 2, doc: "added to every user's size (FedProx: 50)")
    public static let sizeMax = ParameterKey.int(
        "size_max", default: 100_000, min: 2, doc: "cap on one user's samples (the log-normal tail is heavy)")
    public static let trainFraction = ParameterKey.double(
        "train_fraction", default: 0.9, min: 0.1, max: 0.95, doc: "fraction of each user's samples used for training")
    public static let seed = ParameterKey.int(
        "seed", default: 0, doc: "generator seed (fixed, independent of the experiment seeds)")

    public var alpha: Double
    public var beta: Double
    public var users: Int
    public var features: Int
    public var classes: Int
    public var sizeMu: Double
    public var sizeSigma: Double
    public var sizeMin: Int
    public var sizeMax: Int
    public var trainFraction: Double
    public var seed: Int

    public init(parameters p: Parameters) throws {
        alpha = p[Self.alpha]
        beta = p[Self.beta]
        users = p[Self.users]
        features = p[Self.features]
        classes = p[Self.classes]
        sizeMu = p[Self.sizeMu]
        sizeSigma = p[Self.sizeSigma]
        sizeMin = p[Self.sizeMin]
        sizeMax = p[Self.sizeMax]
        trainFraction = p[Self.trainFraction]
        seed = p[Self.seed]
    }

    /// The sizes' cap must not be below their floor.
    public func validate() throws {
        guard sizeMax >= sizeMin else {
            throw PluginError("synthetic: size_max (\(sizeMax)) must be >= size_min (\(sizeMin))")
        }
    }

    public init(
        alpha: Double = 1, beta: Double = 1, users: Int = 30, features: Int = 60, classes: Int = 10,
        sizeMu: Double = 4, sizeSigma: Double = 2, sizeMin: Int = 50, sizeMax: Int = 100_000,
        trainFraction: Double = 0.9, seed: Int = 0
    ) {
        self.alpha = alpha
        self.beta = beta
        self.users = users
        self.features = features
        self.classes = classes
        self.sizeMu = sizeMu
        self.sizeSigma = sizeSigma
        self.sizeMin = sizeMin
        self.sizeMax = sizeMax
        self.trainFraction = trainFraction
        self.seed = seed
    }

    public func requiredFiles() -> [RequiredFile] { [] }

    public func load() throws -> DatasetSplits {
        var random = Seeds.stream(UInt64(bitPattern: Int64(seed)), "synthetic")
        let d = features, c = classes
        let sizes = (0..<users).map { _ in
            Swift.min(
                sizeMax,
                sizeMin + Int(Swift.min(1e9, random.nextLogNormal(mu: sizeMu, sigma: sizeSigma)).rounded(.down)))
        }
        let modelMeans = (0..<users).map { _ in alpha * random.nextNormal() }
        let featureMeans = (0..<users).map { _ in beta * random.nextNormal() }
        let sigma = (0..<d).map { Foundation.pow(Double($0 + 1), -1.2).squareRoot() }
        var trainX: [Float] = [], testX: [Float] = []
        var trainY: [Int] = [], testY: [Int] = []
        var trainUsers: [String] = [], testUsers: [String] = []
        let width = String(users - 1).count
        for k in 0..<users {
            let user = "user_" + String(repeating: "0", count: Swift.max(0, width - String(k).count)) + String(k)
            let v = (0..<d).map { _ in featureMeans[k] + random.nextNormal() }
            var w = [Double](repeating: 0, count: d * c)
            for i in 0..<(d * c) { w[i] = modelMeans[k] + random.nextNormal() }
            let b = (0..<c).map { _ in modelMeans[k] + random.nextNormal() }
            var xs: [[Float]] = []
            var ys: [Int] = []
            for _ in 0..<sizes[k] {
                let x = (0..<d).map { v[$0] + sigma[$0] * random.nextNormal() }
                var best = 0, bestScore = -Double.infinity
                for cls in 0..<c {
                    var score = b[cls]
                    for j in 0..<d { score += x[j] * w[j * c + cls] }
                    if score > bestScore { bestScore = score; best = cls }
                }
                xs.append(x.map(Float.init))
                ys.append(best)
            }
            var order = Array(0..<sizes[k])
            random.shuffle(&order)
            let trainCount = Swift.max(1, Swift.min(sizes[k] - 1, Int(Double(sizes[k]) * trainFraction)))
            for (rank, i) in order.enumerated() {
                if rank < trainCount {
                    trainX += xs[i]; trainY.append(ys[i]); trainUsers.append(user)
                } else {
                    testX += xs[i]; testY.append(ys[i]); testUsers.append(user)
                }
            }
        }
        var hasher = ContentHasher()
        hasher.combine("synthetic")
        hasher.combine(trainX); hasher.combine(trainY); hasher.combine(testX); hasher.combine(testY)
        return DatasetSplits(
            name: "synthetic",
            train: try LabeledSamples(inputs: Tensor(trainX, shape: [trainY.count, d]), labels: trainY),
            test: try LabeledSamples(inputs: Tensor(testX, shape: [testY.count, d]), labels: testY),
            classes: c, inputShape: [d], trainUsers: trainUsers, testUsers: testUsers, contentHash: hasher.hex)
    }
}
