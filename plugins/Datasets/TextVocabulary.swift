/// Tweet tokenisation and a frequency-ranked vocabulary for token datasets (Sent140).
///
/// Tokens: the text is lower-cased; a token is a maximal run of letters, digits and apostrophes
/// (Unicode letters and digits count), with apostrophes at either end removed, so "Don't!!" gives
/// "don't" and "'quoted'" gives "quoted"; everything else separates tokens.
/// Ids: 0 is padding, 1 is out-of-vocabulary; words get 2, 3, ... in order of decreasing training
/// frequency (ties: alphabetical, by Unicode scalars), up to `size` ids in total.
public struct TextVocabulary: Sendable, Equatable {
    public static let padding = 0
    public static let unknown = 1

    /// `words[i]` has id i + 2.
    public private(set) var words: [String]
    private var ids: [String: Int]

    /// Builds the vocabulary from tokenised training texts, keeping the `size - 2` most frequent words.
    public init(texts: [[String]], size: Int) {
        var counts: [String: Int] = [:]
        for tokens in texts { for t in tokens { counts[t, default: 0] += 1 } }
        let ranked = counts.sorted {
            $0.value != $1.value
                ? $0.value > $1.value : $0.key.unicodeScalars.lexicographicallyPrecedes($1.key.unicodeScalars)
        }
        words = ranked.prefix(Swift.max(0, size - 2)).map(\.key)
        ids = Dictionary(uniqueKeysWithValues: words.enumerated().map { ($1, $0 + 2) })
    }

    /// The number of ids, padding and OOV included.
    public var count: Int { words.count + 2 }

    /// The token for each id (index 0 "<pad>", 1 "<unk>").
    public var tokens: [String] { ["<pad>", "<unk>"] + words }

    public func id(_ word: String) -> Int { ids[word] ?? Self.unknown }

    /// Ids of `tokens`, truncated to `length` (keeping the first tokens) and padded with 0 at the end.
    public func encode(_ tokens: [String], length: Int) -> [Int] {
        var out = tokens.prefix(length).map(id)
        if out.count < length { out += [Int](repeating: Self.padding, count: length - out.count) }
        return out
    }

    public static func tokenize(_ text: String) -> [String] {
        var tokens: [String] = []
        var current = ""
        func flush() {
            if !current.isEmpty {
                let trimmed = current.drop { $0 == "'" }.reversed().drop { $0 == "'" }.reversed()
                if !trimmed.isEmpty { tokens.append(String(trimmed)) }
                current = ""
            }
        }
        for ch in text.lowercased() {
            if ch.isLetter || ch.isNumber || ch == "'" || ch == "\u{2019}" {
                current.append(ch == "\u{2019}" ? "'" : ch)
            } else {
                flush()
            }
        }
        flush()
        return tokens
    }
}
