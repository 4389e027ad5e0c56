import Torch

/// A trainer whose clients are tested with a model composed from what the method keeps, rather
/// than with a stored model as is (docs/design.md §7): APFL's mixture alpha v + (1 - alpha) w,
/// Per-FedAvg's one local step from the global model, FedBABU's fine-tuned head.
///
/// Before the call, `context.model` holds the model the method's `evaluate_with` names (the
/// global model, or the client's stored personal state loaded over it), in training mode;
/// `context.personal` and `context.carried` are the client's stored states (nil for a client
/// that never trained), `context.payload` is empty and `context.data` is the client's training
/// data. The trainer turns `context.model` into the tested model in place; the engine then
/// switches it to evaluation mode. Nothing of it is stored. It must depend only on its inputs
/// and `context.generator`, so that results do not depend on the number of workers.
public protocol EvaluationComposition {
    func composeEvaluationModel(_ context: ClientTrainingContext) throws
}
