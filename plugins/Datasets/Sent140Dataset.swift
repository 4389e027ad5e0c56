import FedKit
import Torch

/// `sent140`: LEAF's Sentiment140 tweets (binary sentiment) with their authors as natural users.
/// Each x is `[tweet_id, date, query, user, text, flag]`; the text is tokenised
/// (`TextVocabulary.tokenize`), mapped to ids with a vocabulary built from the training split only,
/// and padded/truncated to `sequence_length` ids.
public struct Sent140Dataset: DatasetPlugin {
    public static let descriptor = PluginDescriptor(
        kind: .dataset, name: "sent140",
        summary: "LEAF Sent140 (JSON): tweets as token ids, 2 classes, authors kept as natural users",
        keys: [root, split, testFraction, splitSeed, vocabularySize, sequenceLength, glove])

    /// How the samples are split into train and test.
    public enum Split: String, CaseIterable, Sendable {
        case auto, folders
        case bySample = "by-sample"
    }

    public static let root = ParameterKey.path(
        "root", default: "data/sent140", doc: "folder with LEAF's train/ and/or test/ folders of .json files")
    public static let split = ParameterKey.choice(
        "split", default: Split.auto,
        doc:
            "folders: train/ and test/ as given; by-sample: pool every sample found and move a seeded test_fraction of them to the test split; auto: folders when both exist, else by-sample"
    )
    public static let testFraction = ParameterKey.double(
        "test_fraction", default: 0.2, min: 0, max: 0.9, minExclusive: true,
        doc: "fraction of the samples that go to the test split when splitting by sample")
    public static let splitSeed = ParameterKey.int(
        "split_seed", default: 0, doc: "seed of the by-sample split (fixed, independent of the experiment seeds)")
    public static let vocabularySize = ParameterKey.int(
        "vocabulary_size", default: 10000, min: 3,
        doc: "ids in total: 0 padding, 1 out-of-vocabulary, then the most frequent training words")
    public static let sequenceLength = ParameterKey.int(
        "sequence_length", default: 25, min: 1, doc: "tokens per tweet (truncated or padded with 0 at the end)")
    public static let glove = ParameterKey.optionalPath(
        "glove",
        doc: "GloVe text vectors (e.g. glove.6B.300d.txt) to initialise the embedding; unset: trained from scratch")

    public static let classes = 2

    public let root: String
    public let split: Split
    public let testFraction: Double
    public let splitSeed: Int
    public let vocabularySize: Int
    public let sequenceLength: Int
    public let glove: String?

    public init(parameters p: Parameters) throws {
        root = p[Self.root]
        split = p[Self.split]
        testFraction = p[Self.testFraction]
        splitSeed = p[Self.splitSeed]
        vocabularySize = p[Self.vocabularySize]
        sequenceLength = p[Self.sequenceLength]
        glove = p[Self.glove]
    }

    public init(
        root: String, split: Split = .auto, testFraction: Double = 0.2, splitSeed: Int = 0,
        vocabularySize: Int = 10000, sequenceLength: Int = 25, glove: String? = nil
    ) {
        self.root = root
        self.split = split
        self.testFraction = testFraction
        self.splitSeed = splitSeed
        self.vocabularySize = vocabularySize
        self.sequenceLength = sequenceLength
        self.glove = glove
    }

    static let hint =
        "Generate it with LEAF (https://github.com/TalwalkarLab/leaf, data/sent140: ./preprocess.sh -s niid "
        + "--sf 1.0 -k 3 -t sample), or run `bash scripts/download-data.sh sent140` for the project's sample (test half only: "
        + "use split: by-sample), and set dataset.root to the folder holding train/ and/or test/. See docs/datasets.md."

    var trainFolder: String { DataFiles.join(root, "train") }
    var testFolder: String { DataFiles.join(root, "test") }

    /// The folders the chosen split reads.
    var folders: [String] {
        let hasTrain = DataFiles.directoryExists(trainFolder), hasTest = DataFiles.directoryExists(testFolder)
        switch split {
        case .folders: return [trainFolder, testFolder]
        default:
            let present = [hasTrain ? trainFolder : nil, hasTest ? testFolder : nil].compactMap { $0 }
            return present.isEmpty ? [trainFolder, testFolder] : present
        }
    }

    var splitsBySample: Bool {
        split == .bySample
            || (split == .auto && !(DataFiles.directoryExists(trainFolder) && DataFiles.directoryExists(testFolder)))
    }

    public func requiredFiles() -> [RequiredFile] {
        var files = folders.map { RequiredFile(path: $0, hint: Self.hint) }
        if let glove {
            files.append(
                RequiredFile(
                    path: glove,
                    hint: "Download GloVe vectors from https://nlp.stanford.edu/projects/glove/ "
                        + "(e.g. glove.6B.zip, file glove.6B.300d.txt), or unset dataset.glove."))
        }
        return files
    }

    /// The loaded data together with the vocabulary (for pre-trained embeddings).
    public struct Loaded: @unchecked Sendable {
        public var splits: DatasetSplits
        public var vocabulary: TextVocabulary
    }

    /// Loads the data; with `glove` set, the vectors come along as `pretrainedEmbedding`.
    public func load() throws -> DatasetSplits {
        let loaded = try loadWithVocabulary()
        var splits = loaded.splits
        if let matrix = try pretrainedEmbedding(vocabulary: loaded.vocabulary) {
            splits.pretrainedEmbedding = PretrainedEmbedding(matrix)
        }
        return splits
    }

    public func loadWithVocabulary() throws -> Loaded {
        if split == .folders {
            try DataFiles.requireAll(folders.map { RequiredFile(path: $0, hint: Self.hint) }, dataset: "sent140")
        } else if !DataFiles.directoryExists(trainFolder) && !DataFiles.directoryExists(testFolder) {
            throw PluginError("sent140: neither \(trainFolder) nor \(testFolder) exists\n" + Self.hint)
        }
        var hasher = ContentHasher()
        hasher.combine("sent140")
        struct Tweet { var tokens: [String]; var label: Int; var user: String }
        func read(_ folder: String) throws -> [Tweet] {
            var tweets: [Tweet] = []
            try LEAFReader.read(folder: folder, dataset: "sent140", classes: Self.classes, hasher: &hasher) { sample in
                guard let fields = sample.x.elements, fields.count >= 5, case .string(let text) = fields[4] else {
                    throw PluginError(
                        "sent140: \(folder): user '\(sample.user)': x must be [tweet_id, date, query, user, text, flag] "
                            + "with the text as a string, got \(sample.x.kindName)"
                            + (sample.x.elements.map { " of \($0.count) entries" } ?? ""))
                }
                tweets.append(Tweet(tokens: TextVocabulary.tokenize(text), label: sample.y, user: sample.user))
            }
            return tweets
        }
        var train: [Tweet] = []
        var test: [Tweet] = []
        if splitsBySample {
            var all: [Tweet] = []
            for folder in folders { all += try read(folder) }
            guard all.count >= 2 else { throw PluginError("sent140: \(all.count) samples in \(root); cannot split") }
            var random = Seeds.stream(UInt64(bitPattern: Int64(splitSeed)), "sent140-split")
            let testCount = Swift.min(all.count - 1, Swift.max(1, Int((Double(all.count) * testFraction).rounded())))
            let testSet = Set(random.sample(testCount, from: all.count))
            for (i, t) in all.enumerated() {
                if testSet.contains(i) { test.append(t) } else { train.append(t) }
            }
            hasher.combine("by-sample")
            hasher.combine(splitSeed)
            hasher.combine(String(testFraction))
        } else {
            train = try read(trainFolder)
            test = try read(testFolder)
            hasher.combine("folders")
        }
        hasher.combine(vocabularySize)
        hasher.combine(sequenceLength)
        let vocabulary = TextVocabulary(texts: train.map(\.tokens), size: vocabularySize)
        func samples(_ tweets: [Tweet]) throws -> LabeledSamples {
            var ids: [Int] = []
            ids.reserveCapacity(tweets.count * sequenceLength)
            for t in tweets { ids += vocabulary.encode(t.tokens, length: sequenceLength) }
            return try LabeledSamples(
                inputs: Tensor(ids, shape: [tweets.count, sequenceLength]), labels: tweets.map(\.label))
        }
        let splits = DatasetSplits(
            name: "sent140", train: try samples(train), test: try samples(test), classes: Self.classes,
            inputShape: [sequenceLength], inputKind: .tokens(vocabulary: vocabulary.count),
            trainUsers: train.map(\.user), testUsers: test.map(\.user), contentHash: hasher.hex)
        return Loaded(splits: splits, vocabulary: vocabulary)
    }

    /// The GloVe-initialised embedding matrix [vocabulary.count, d] when `glove` is set (see `GloVe.embeddingMatrix`).
    public func pretrainedEmbedding(vocabulary: TextVocabulary, seed: UInt64 = 0) throws -> Tensor? {
        guard let glove else { return nil }
        return try GloVe.embeddingMatrix(path: glove, vocabulary: vocabulary, seed: seed).matrix
    }
}
