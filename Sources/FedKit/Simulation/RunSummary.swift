/// Final-round and last-N figures of a run (docs/design.md §7: never the best round).
public enum RunSummary {
    /// The metrics reported per run, in table order.
    /// `personalized_*` are over the clients scored at each evaluation (`personalized_clients` of
    /// them: never-trained clients are never scored); `personalized_all_weighted` only exists when
    /// every client was scored at every evaluation it summarises. `validation_*` are the same
    /// figures on the validation splits: choose on these, report the test ones.
    public static let metricNames = [
        "global_accuracy", "personalized_weighted", "personalized_mean", "personalized_std",
        "personalized_bottom_decile", "personalized_worst", "personalized_clients",
        "personalized_all_weighted", "personalized_ft_weighted",
        "validation_global_accuracy", "validation_personalized_weighted", "validation_personalized_mean",
        "validation_personalized_worst",
        "personal_on_global_test_mean", "personal_on_global_test_max",
    ]

    /// Metric name -> (value at the final evaluation, mean over the last `last` evaluations).
    /// `personalOnGlobalTest`: every client's personal model on the whole test set after the last
    /// round (eval.personal_global_test), reported as its mean and maximum.
    public static func metrics(
        _ records: [RoundRecord], last: Int,
        personalOnGlobalTest: [Double] = []
    ) -> [String: (final: Double, lastMean: Double)] {
        var series: [String: [Double]] = [:]
        for r in records {
            if let g = r.globalAccuracy { series["global_accuracy", default: []].append(g) }
            if let p = r.personalized {
                series["personalized_weighted", default: []].append(p.weightedMean)
                series["personalized_mean", default: []].append(p.mean)
                series["personalized_std", default: []].append(p.std)
                series["personalized_bottom_decile", default: []].append(p.bottomDecile)
                series["personalized_worst", default: []].append(p.worst)
                series["personalized_clients", default: []].append(Double(p.clients))
                series["personalized_all_weighted", default: []].append(r.personalizedAll?.weightedMean ?? .nan)
            }
            if let f = r.personalizedFinetuned {
                series["personalized_ft_weighted", default: []].append(f.weightedMean)
            }
            if let v = r.validation {
                if let g = v.globalAccuracy { series["validation_global_accuracy", default: []].append(g) }
                if let p = v.personalized {
                    series["validation_personalized_weighted", default: []].append(p.weightedMean)
                    series["validation_personalized_mean", default: []].append(p.mean)
                    series["validation_personalized_worst", default: []].append(p.worst)
                }
            }
        }
        var result: [String: (final: Double, lastMean: Double)] = [:]
        for (name, var values) in series where !values.isEmpty {
            // The all-clients figure: the final value when the final evaluation had every client,
            // the last-N mean only over a tail where every evaluation had them all.
            if name == "personalized_all_weighted" {
                guard let final = values.last, !final.isNaN else { continue }
                let tail = values.suffix(last)
                result[name] = (final, tail.contains { $0.isNaN } ? .nan : tail.reduce(0, +) / Double(tail.count))
                continue
            }
            values = values.filter { !$0.isNaN }
            let tail = values.suffix(last)
            result[name] = (values.last!, tail.reduce(0, +) / Double(tail.count))
        }
        if !personalOnGlobalTest.isEmpty {
            let mean = personalOnGlobalTest.reduce(0, +) / Double(personalOnGlobalTest.count)
            result["personal_on_global_test_mean"] = (mean, mean)
            result["personal_on_global_test_max"] = (personalOnGlobalTest.max()!, personalOnGlobalTest.max()!)
        }
        return result
    }
}
