import CTorch

/// How a loss combines per-sample values.
public enum Reduction: Int32, Sendable {
    case none = 0, mean = 1, sum = 2
}

/// Loss functions, differentiable through autograd.
public enum Loss {
    /// Cross-entropy of logits [N, C] against int64 class ids [N].
    public static func crossEntropy(
        _ logits: Tensor, targets: Tensor, reduction: Reduction = .mean,
        labelSmoothing: Double = 0
    ) throws -> Tensor {
        guard logits.rank == 2, targets.rank == 1, logits.shape[0] == targets.shape[0] else {
            throw TorchError(
                "cross_entropy",
                "expected logits [N, C] and targets [N], got \(Tensor.describe(shape: logits.shape)) and \(Tensor.describe(shape: targets.shape))"
            )
        }
        guard targets.dtype == .int64 else {
            throw TorchError("cross_entropy", "targets must be int64 class ids, got \(targets.dtype)")
        }
        return try Tensor.make("cross_entropy", [logits, targets]) {
            logits.withHandle { l in targets.withHandle { ft_cross_entropy(l, $0, reduction.rawValue, labelSmoothing) }
            }
        }
    }

    /// Negative log-likelihood of log-probabilities [N, C] against class ids [N].
    public static func nll(_ logProbabilities: Tensor, targets: Tensor, reduction: Reduction = .mean) throws -> Tensor {
        try Tensor.make("nll_loss", [logProbabilities, targets]) {
            logProbabilities.withHandle { l in targets.withHandle { ft_nll_loss(l, $0, reduction.rawValue) } }
        }
    }

    /// Knowledge-distillation loss: T^2 * KL(softmax(teacher/T) || softmax(student/T)),
    /// averaged over the batch (rows). Teacher logits are treated as constants.
    public static func distillationKL(student: Tensor, teacher: Tensor, temperature: Double = 1) throws -> Tensor {
        guard student.shape == teacher.shape, student.rank == 2 else {
            throw TorchError(
                "kl_div",
                "expected student and teacher logits of one shape [N, C], got \(Tensor.describe(shape: student.shape)) and \(Tensor.describe(shape: teacher.shape))"
            )
        }
        let t = temperature
        let teacherLogP = try F.logSoftmax(teacher.detached() / t, dim: 1)
        return try klDivergence(logP: teacherLogP, logQ: F.logSoftmax(student / t, dim: 1)) * (t * t)
    }

    /// KL(P || Q) = sum_c P (log P - log Q), averaged over rows, from log-probabilities [N, C].
    public static func klDivergence(logP: Tensor, logQ: Tensor) throws -> Tensor {
        let n = Double(max(1, logP.shape.first ?? 1))
        return try (logP.exp() * (logP - logQ)).sum() / n
    }

    public static func mse(_ a: Tensor, _ b: Tensor, reduction: Reduction = .mean) throws -> Tensor {
        try Tensor.make("mse_loss", [a, b]) {
            a.withHandle { x in b.withHandle { ft_mse_loss(x, $0, reduction.rawValue) } }
        }
    }

    public static func l1(_ a: Tensor, _ b: Tensor, reduction: Reduction = .mean) throws -> Tensor {
        try Tensor.make("l1_loss", [a, b]) {
            a.withHandle { x in b.withHandle { ft_l1_loss(x, $0, reduction.rawValue) } }
        }
    }
}
