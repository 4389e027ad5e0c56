/// The candidate most similar to `word`, for "did you mean …?" hints: the smallest Levenshtein
/// distance (insertions, deletions, substitutions; compared case-insensitively), the earliest
/// candidate winning ties. Returns nil when even the best is too far off to be a plausible
/// typo, i.e. its distance exceeds `max(2, word.count / 3)`, or when `candidates` is empty.
///
///     closestMatch(to: "fedavgg", in: ["fedavg", "fedprox"])   // "fedavg"
///     closestMatch(to: "resnet", in: ["mlp", "cnn"])            // nil
public func closestMatch(to word: String, in candidates: [String]) -> String? {
    let target = Array(word.lowercased())
    let limit = max(2, target.count / 3)
    var best: (candidate: String, distance: Int)?
    for candidate in candidates {
        let other = Array(candidate.lowercased())
        // Cheap bound: the distance is at least the length difference.
        if abs(other.count - target.count) > min(limit, best?.distance ?? limit) { continue }
        let d = levenshtein(target, other)
        if d <= limit, d < (best?.distance ?? Int.max) { best = (candidate, d) }
    }
    return best?.candidate
}

/// Edit distance between two character arrays (two-row dynamic programming).
func levenshtein(_ a: [Character], _ b: [Character]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
            current[j] = min(substitution, previous[j] + 1, current[j - 1] + 1)
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}
