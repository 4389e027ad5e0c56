import CTorch

/// SGD with momentum and weight decay over stacked parameters [K, ...] (see `StackedNetwork`):
/// one fused update per parameter for the slots that took a step, each slot's rows updated
/// exactly as `SGD` updates one network's parameter (same formula, same first-step rule).
///
/// Slots outside the stepped rows keep their weights and momentum untouched, so a slot whose
/// data has ended simply stops. Each slot has its own first step (momentum buffer = gradient).
public final class StackedSGD {
    /// The stacked parameters being optimised.
    public let parameters: [Tensor]
    /// Weight decay per parameter (e.g. only on tensors that are weights in the unstacked network).
    public let weightDecays: [Double]
    public var learningRate: Double
    public let momentum: Double
    private let buffers: [Tensor?]
    private var started: [Bool]

    /// - Parameters:
    ///   - parameters: stacked tensors sharing the leading slot dimension.
    ///   - weightDecays: one per parameter.
    public init(_ parameters: [Tensor], weightDecays: [Double], learningRate: Double, momentum: Double = 0) throws {
        guard weightDecays.count == parameters.count else {
            throw TorchError("stacked sgd", "\(weightDecays.count) weight decays for \(parameters.count) parameters")
        }
        let slots = parameters.first?.shape.first ?? 0
        guard parameters.allSatisfy({ $0.rank >= 1 && $0.shape[0] == slots }) else {
            throw TorchError(
                "stacked sgd",
                "parameters must share the leading slot dimension, got \(parameters.map { Tensor.describe(shape: $0.shape) })"
            )
        }
        self.parameters = parameters
        self.weightDecays = weightDecays
        self.learningRate = learningRate
        self.momentum = momentum
        buffers = try parameters.map { momentum != 0 ? try $0.zerosLike() : nil }
        started = Array(repeating: false, count: slots)
    }

    /// Weight decay `weightDecay` on the parameters that are weights in one network (rank >= 2
    /// there, so rank >= 3 stacked), none on biases: the groups `ParameterGroup.decayingWeightsOnly` makes.
    public convenience init(
        decayingWeightsOnly parameters: [Tensor], weightDecay: Double, learningRate: Double,
        momentum: Double = 0
    ) throws {
        try self.init(
            parameters, weightDecays: parameters.map { $0.rank >= 3 ? weightDecay : 0 },
            learningRate: learningRate, momentum: momentum)
    }

    /// Updates slots `rows` of every parameter from its accumulated gradient (parameters without
    /// a gradient are skipped, as in `SGD`).
    public func step(rows: Range<Int>) throws {
        try step(rows: rows, parameters: nil)
    }

    /// Updates slots `rows` from the gradients of `parameters`: one tensor per optimised parameter,
    /// in order, holding those rows and sharing their storage (`StackedNetwork.parameters(rows:)`).
    public func step(rows: Range<Int>, parameters rowParameters: [Tensor]?) throws {
        guard !rows.isEmpty else { return }
        guard rows.lowerBound >= 0, rows.upperBound <= started.count else {
            throw TorchError("stacked sgd", "rows \(rows) outside 0..<\(started.count)")
        }
        if let rowParameters {
            guard rowParameters.count == parameters.count,
                zip(rowParameters, parameters).allSatisfy({ $0.shape == [rows.count] + $1.shape.dropFirst() })
            else {
                throw TorchError(
                    "stacked sgd", "the row parameters do not match rows \(rows) of the \(parameters.count) parameters")
            }
        }
        // Runs of slots with the same first-step state (normally all of `rows`).
        var start = rows.lowerBound
        while start < rows.upperBound {
            let first = !started[start]
            var end = start + 1
            while end < rows.upperBound, started[end] != first { end += 1 }
            try update(start..<end, within: rows, rowParameters, firstStep: first)
            for slot in start..<end { started[slot] = true }
            start = end
        }
    }

    private func update(_ run: Range<Int>, within rows: Range<Int>, _ rowParameters: [Tensor]?, firstStep: Bool) throws
    {
        let local = (run.lowerBound - rows.lowerBound)..<(run.upperBound - rows.lowerBound)
        for (i, p) in parameters.enumerated() {
            let source = rowParameters?[i] ?? p
            guard let grad = source.grad else { continue }
            // Offsets into `source`: rows of the row parameters, slots of the stacked tensor.
            let span = rowParameters == nil ? run : local
            let whole = span.count == source.shape[0]
            let pRows = whole ? source : try source.slice(span)
            let gRows = whole ? grad : try grad.slice(span)
            let bRows = try buffers[i].map { run.count == $0.shape[0] ? $0 : try $0.slice(run) }
            try Tensor.check("stacked sgd", [pRows, gRows] + (bRows.map { [$0] } ?? [])) {
                ft_sgd_step(
                    pRows.handle.pointer, gRows.handle.pointer, bRows?.handle.pointer, learningRate, momentum, 0,
                    weightDecays[i], false, firstStep)
            }
        }
    }

    /// Drops every parameter's gradient.
    public func zeroGrad() throws { for p in parameters { try p.zeroGrad() } }
}
