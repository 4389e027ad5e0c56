import FedKit
import Torch

/// A server round with fixed teachers, for testing generators and distillers without running
/// clients: `count` teachers on `ToyProblem`'s network, each built from its own seed and knowing
/// the classes `classCounts` gives it, and a global model of the same architecture.
public struct FixedTeachers {
    public let problem: ToyProblem
    public let context: ServerRoundContext

    /// - Parameters:
    ///   - classCounts: per teacher, training samples per class (default: teacher 0 saw only
    ///     class 0, teacher 1 only class 1).
    ///   - round: the round the context reports.
    public init(classCounts: [[Int]] = [[20, 0], [0, 20]], round: Int = 1, seed: UInt64 = 7) throws {
        let problem = try ToyProblem()
        let teachers = try classCounts.enumerated().map { i, counts in
            Teacher(
                client: i, state: try problem.network(seed: seed + UInt64(i) + 1).stateDict().copy(),
                classCounts: counts)
        }
        self.problem = problem
        context = ServerRoundContext(
            round: round, global: try problem.network(seed: seed),
            workspace: [try problem.network(), try problem.network()],
            teachers: teachers, classes: problem.input.classes, inputShape: problem.input.inputShape,
            inputKind: problem.input.inputKind, generator: RandomGenerator(seed: seed))
    }
}
