import Foundation

/// A choice among a method's variants made on validation data (`exp report --choose`), so that a
/// results table reports test accuracy only for the setting validation picked.
///
/// Written `NAME=PATTERN[:CRITERION]`: the candidates are an experiment's rows whose label matches
/// PATTERN (`*` stands for any run of characters, e.g. `fedprox-mu*`); the winner is the candidate
/// with the highest mean over seeds of CRITERION (default `val-global-last`), computed on the
/// seeds every candidate completed. The table shows the winner alone, as `NAME [chosen: LABEL]`.
public struct VariantChoice: Sendable, Equatable {
    /// The validation figure a choice is made on.
    public enum Criterion: String, CaseIterable, Sendable {
        case valGlobal = "val-global"
        case valGlobalLast = "val-global-last"
        case valPersonal = "val-personal"
        case valPersonalLast = "val-personal-last"

        var metric: String {
            switch self {
            case .valGlobal, .valGlobalLast: "validation.global_accuracy"
            case .valPersonal, .valPersonalLast: "validation.personalized.weightedMean"
            }
        }
        var last: Bool { self == .valGlobalLast || self == .valPersonalLast }
        /// "val global, last 10" (`lastRounds`: eval.last_rounds of the runs, "N" when they differ).
        func title(lastRounds: String) -> String {
            switch self {
            case .valGlobal: "val global, final"
            case .valGlobalLast: "val global, last \(lastRounds)"
            case .valPersonal: "val personal (w), final"
            case .valPersonalLast: "val personal (w), last \(lastRounds)"
            }
        }
    }

    /// The row name of the chosen variant.
    public var name: String
    public var pattern: String
    public var criterion: Criterion

    public init(name: String, pattern: String, criterion: Criterion = .valGlobalLast) {
        self.name = name
        self.pattern = pattern
        self.criterion = criterion
    }

    /// Parses `NAME=PATTERN[:CRITERION]`.
    public init(argument: String) throws {
        let usage = "expected NAME=PATTERN[:CRITERION], e.g. fedprox=fedprox-mu*:val-global-last"
        guard let equals = argument.firstIndex(of: "="), equals != argument.startIndex else {
            throw ReportError("--choose '\(argument)': \(usage)")
        }
        let name = String(argument[..<equals])
        var pattern = String(argument[argument.index(after: equals)...])
        var criterion = Criterion.valGlobalLast
        if let colon = pattern.lastIndex(of: ":") {
            let word = String(pattern[pattern.index(after: colon)...])
            guard let parsed = Criterion(rawValue: word) else {
                let known = Criterion.allCases.map(\.rawValue).joined(separator: ", ")
                throw ReportError("--choose '\(argument)': unknown criterion '\(word)'; known: \(known)")
            }
            criterion = parsed
            pattern = String(pattern[..<colon])
        }
        guard !pattern.isEmpty else { throw ReportError("--choose '\(argument)': empty PATTERN; \(usage)") }
        self.init(name: name, pattern: pattern, criterion: criterion)
    }

    /// Whether a row label matches the pattern (`*`: any run of characters, anything else literal).
    /// Not fnmatch(3): labels carry brackets (`A [federation.lr=0.1]`), which fnmatch reads as
    /// character classes.
    public func matches(_ label: String) -> Bool {
        Self.glob(Array(pattern), Array(label))
    }

    private static func glob(_ p: [Character], _ s: [Character]) -> Bool {
        // Classic two-pointer wildcard match with backtracking to the last `*`.
        var (i, j, star, mark) = (0, 0, -1, 0)
        while j < s.count {
            if i < p.count, p[i] != "*", p[i] == s[j] {
                i += 1
                j += 1
            } else if i < p.count, p[i] == "*" {
                star = i
                mark = j
                i += 1
            } else if star >= 0 {
                i = star + 1
                mark += 1
                j = mark
            } else {
                return false
            }
        }
        while i < p.count, p[i] == "*" { i += 1 }
        return i == p.count
    }
}

extension Report {
    /// The report with each choice's candidates replaced, in every experiment where the pattern
    /// matches, by the winner (at the first candidate's place), and one line per choice saying
    /// what was chosen on what: the candidates' criterion values and the seeds compared.
    public func choosing(_ choices: [VariantChoice]) throws -> (report: Report, lines: [String]) {
        var result = self
        var lines: [String] = []
        for choice in choices {
            var matchedSomewhere = false
            for e in result.experiments.indices {
                let groups = result.experiments[e].groups
                let candidates = groups.indices.filter {
                    choice.matches(groups[$0].label) && !groups[$0].complete.isEmpty
                }
                guard !candidates.isEmpty else { continue }
                matchedSomewhere = true
                let (winner, line) = try Self.pick(choice, among: candidates.map { groups[$0] })
                var chosen = winner
                chosen.method = choice.name
                chosen.variant = "chosen: \(winner.label)"
                var kept = groups
                kept[candidates[0]] = chosen
                for index in candidates.dropFirst().reversed() { kept.remove(at: index) }
                result.experiments[e].groups = kept
                lines.append(
                    (result.experiments.count > 1 ? "\(result.experiments[e].name): " : "") + line)
            }
            guard matchedSomewhere else {
                let labels = experiments.flatMap { $0.groups.map(\.label) }.joined(separator: ", ")
                throw ReportError(
                    "--choose \(choice.name)=\(choice.pattern): no complete run's label matches; labels: \(labels)")
            }
        }
        return (result, lines)
    }

    /// The candidate with the highest criterion mean over the seeds all candidates completed.
    static func pick(_ choice: VariantChoice, among candidates: [MethodResults]) throws -> (
        MethodResults, String
    ) {
        var shared = Set(candidates[0].complete.map(\.seed))
        for c in candidates.dropFirst() { shared.formIntersection(c.complete.map(\.seed)) }
        guard !shared.isEmpty else {
            let seeds = candidates.map { "\($0.label): \($0.complete.map { String($0.seed) }.joined(separator: ","))" }
            throw ReportError(
                "--choose \(choice.name): the candidates share no completed seed (\(seeds.joined(separator: "; ")))")
        }
        var scored: [(group: MethodResults, value: Double)] = []
        for c in candidates {
            let values = c.bySeed(choice.criterion.metric, last: choice.criterion.last)
                .filter { shared.contains($0.key) }.sorted { $0.key < $1.key }.map(\.value)
            guard values.count == shared.count else {
                throw ReportError(
                    "--choose \(choice.name): \(c.label) has no \(choice.criterion.metric) on every compared seed "
                        + "(run it with eval.validation_fraction > 0)")
            }
            scored.append((c, SeedStatistics(values).mean))
        }
        // Highest value wins; a tie keeps the earlier candidate (the experiment file's order).
        let best = scored.indices.max { a, b in
            scored[a].value < scored[b].value || (scored[a].value == scored[b].value && a > b)
        }!
        let seeds = shared.sorted().map(String.init).joined(separator: ",")
        let values = scored.map { "\($0.group.label) " + String(format: "%.1f", 100 * $0.value) }
        let title = choice.criterion.title(lastRounds: MethodResults.lastRoundsTitle(candidates))
        let line =
            "\(choice.name): chose \(scored[best].group.label) on \(title) "
            + "(\(shared.count == 1 ? "seed" : "mean over seeds") \(seeds); \(values.joined(separator: ", ")))"
        return (scored[best].group, line)
    }
}
