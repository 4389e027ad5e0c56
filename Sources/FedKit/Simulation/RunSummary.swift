/// Final-round and last-N figures of a run (docs/design.md §7: never the best round).
public enum RunSummary {
    /// The metrics reported per run, in table order.
    public static let metricNames = ["global_accuracy", "personalized_weighted", "personalized_mean", "personalized_std",
                                     "personalized_bottom_decile", "personalized_worst", "personalized_ft_weighted",
                                     "personal_on_global_test_mean", "personal_on_global_test_max"]

    /// Metric name -> (value at the final evaluation, mean over the last `last` evaluations).
    /// `personalOnGlobalTest`: every client's personal model on the whole test set after the last
    /// round (eval.personal_global_test), reported as its mean and maximum.
    public static func metrics(_ records: [RoundRecord], last: Int,
                               personalOnGlobalTest: [Double] = []) -> [String: (final: Double, lastMean: Double)] {
        var series: [String: [Double]] = [:]
        for r in records {
            if let g = r.globalAccuracy { series["global_accuracy", default: []].append(g) }
            if let p = r.personalized {
                series["personalized_weighted", default: []].append(p.weightedMean)
                series["personalized_mean", default: []].append(p.mean)
                series["personalized_std", default: []].append(p.std)
                series["personalized_bottom_decile", default: []].append(p.bottomDecile)
                series["personalized_worst", default: []].append(p.worst)
            }
            if let f = r.personalizedFinetuned { series["personalized_ft_weighted", default: []].append(f.weightedMean) }
        }
        var result: [String: (final: Double, lastMean: Double)] = [:]
        for (name, values) in series where !values.isEmpty {
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
