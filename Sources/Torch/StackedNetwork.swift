/// K networks of one architecture run as one computation (many small clients trained or
/// evaluated together).
///
/// Every parameter of the template is stacked along a new leading dimension: slot k of a
/// stacked parameter [K, ...] is network k's value. A forward pass takes the inputs of a
/// contiguous range of slots as one tensor [k, n, ...sample] (n samples per slot) and returns
/// [k, n, ...output]:
/// - a convolution runs as one grouped convolution: the k inputs side by side as channels
///   [n, k*C, H, W], the k weights as [k*O, C, kh, kw], `groups: k`;
/// - a linear layer runs as one batched matrix product, `baddbmm(bias [k, O, 1], W [k, O, F], x^T [k, F, n])`;
/// - activations, pooling, flatten and reshape act on each slot as before.
///
/// Slot ranges let slots whose data has ended drop out of a step without padding: the
/// parameters of the range are leaves sharing the rows of the stacked tensors
/// (`parameters(rows:)`), so gradients are computed for those rows only. Supported layers: `Conv2d`, `Linear`, `Activation`, `Pool2d`, `Flatten`,
/// `Reshape`, `Dropout` with probability 0 and `Sequential`; `unsupportedLayer(in:)` names the
/// first other one (LSTM, embedding, batch norm, active dropout).
public final class StackedNetwork {
    /// K, the number of slots.
    public let count: Int
    /// The template's parameters, in its order, with names ("body.0.weight", ...) and stacked values [K, ...].
    public let parameters: [(name: String, tensor: Tensor)]
    let body: [StackedStep]
    let head: [StackedStep]
    /// Parameter leaves of slot ranges, by range (see `parameters(rows:)`).
    private var rowViews: [Range<Int>: [Tensor]] = [:]

    /// Stacks `count` copies of `template`'s architecture; every slot starts at zero (load states
    /// with `load(_:)` or `load(_:into:)`). Throws when the template has a layer that cannot be stacked.
    public init(template: Network, count: Int) throws {
        guard count >= 1 else { throw TorchError("stack", "a stack needs at least one slot, got \(count)") }
        if let layer = Self.unsupportedLayer(in: template) {
            throw TorchError("stack", "the network cannot be stacked: \(layer)")
        }
        guard template.namedBuffers.isEmpty else {
            throw TorchError(
                "stack", "the network has buffers \(template.namedBuffers.map(\.name)); only parameters can be stacked")
        }
        self.count = count
        parameters = try template.namedParameters.map { entry in
            (entry.name, try Tensor.zeros([count] + entry.tensor.shape).requiringGrad())
        }
        var index = 0
        body = try Self.plan(template.body, parameterIndex: &index)
        head = try Self.plan(template.head, parameterIndex: &index)
        guard index == parameters.count else {
            throw TorchError("stack", "planned \(index) of \(parameters.count) parameters (internal error)")
        }
    }

    /// The first layer of `network` a stack cannot run, described, or nil when all can be stacked.
    public static func unsupportedLayer(in network: any Layer) -> String? {
        switch network {
        case is Conv2d, is Linear, is Activation, is Pool2d, is Flatten, is Reshape: return nil
        case let dropout as Dropout:
            return dropout.probability == 0
                ? nil : "dropout with probability \(dropout.probability) (each slot would need its own random mask)"
        case let sequence as Sequential:
            return sequence.layers.lazy.compactMap { unsupportedLayer(in: $0) }.first
        case let network as Network:
            return unsupportedLayer(in: network.body) ?? unsupportedLayer(in: network.head)
        default:
            return "layer \(type(of: network))"
        }
    }

    // MARK: - States

    /// The indices (into `parameters`) of the entries under `prefix.` ("body", "head").
    public func parameterIndices(under prefix: String) -> [Int] {
        parameters.indices.filter { parameters[$0].name.hasPrefix(prefix + ".") }
    }

    /// Copies one state per slot into the stack (`states.count == count`); every parameter
    /// name must be present in each state, in its per-network shape (extra entries are errors).
    public func load(_ states: [StateDict]) throws {
        guard states.count == count else {
            throw TorchError("stack", "\(states.count) states for a stack of \(count) slots")
        }
        try withoutGrad {
            for (name, tensor) in parameters {
                let values = try states.enumerated().map { slot, state -> Tensor in
                    try Self.entry(name, of: state, slot: slot, shape: Array(tensor.shape.dropFirst()))
                }
                try tensor.copy_(Tensor.stack(values))
            }
        }
        for (slot, state) in states.enumerated() { try checkNoExtraEntries(state, slot: slot) }
    }

    /// Copies `state` into slot `slot`. With `strict`, every parameter must be present and no
    /// other entry; otherwise entries `state` lacks keep their values (a head-only personal state).
    public func load(_ state: StateDict, into slot: Int, strict: Bool = true) throws {
        try checkSlot(slot)
        try withoutGrad {
            for (name, tensor) in parameters {
                if !strict, state[name] == nil { continue }
                let value = try Self.entry(name, of: state, slot: slot, shape: Array(tensor.shape.dropFirst()))
                try tensor.select(dim: 0, slot).copy_(value)
            }
        }
        try checkNoExtraEntries(state, slot: slot)
    }

    /// A deep copy of slot `slot` as one network's state (names as the template's).
    public func state(of slot: Int) throws -> StateDict {
        try checkSlot(slot)
        return try withoutGrad {
            StateDict(try parameters.map { ($0.name, try $0.tensor.select(dim: 0, slot).detached().clone()) })
        }
    }

    /// Views of slot `slot`'s parameters (no copy; valid while the stack lives).
    public func view(of slot: Int) throws -> StateDict {
        try checkSlot(slot)
        return StateDict(try parameters.map { ($0.name, try $0.tensor.detached().select(dim: 0, slot)) })
    }

    static func entry(_ name: String, of state: StateDict, slot: Int, shape: [Int]) throws -> Tensor {
        guard let value = state[name] else { throw TorchError("stack", "slot \(slot): the state has no entry \(name)") }
        guard value.shape == shape else {
            throw TorchError(
                "stack",
                "slot \(slot): \(name) has shape \(Tensor.describe(shape: value.shape)), expected \(Tensor.describe(shape: shape))"
            )
        }
        return value
    }

    func checkNoExtraEntries(_ state: StateDict, slot: Int) throws {
        let known = Set(parameters.map(\.name))
        let extra = state.names.filter { !known.contains($0) }
        guard extra.isEmpty else { throw TorchError("stack", "slot \(slot): unexpected entries \(extra)") }
    }

    func checkSlot(_ slot: Int) throws {
        guard (0..<count).contains(slot) else { throw TorchError("stack", "slot \(slot) is outside 0..<\(count)") }
    }

    // MARK: - Forward

    /// Logits [k, n, classes] of slots `rows` for inputs [k, n, ...sample].
    public func forward(_ x: Tensor, rows: Range<Int>) throws -> Tensor {
        try self.head(features(x, rows: rows), rows: rows)
    }

    /// The body's output [k, n, features] of slots `rows`.
    public func features(_ x: Tensor, rows: Range<Int>) throws -> Tensor {
        try run(body, x, rows: rows)
    }

    /// The head's output [k, n, classes] of slots `rows` for features [k, n, features].
    public func head(_ features: Tensor, rows: Range<Int>) throws -> Tensor {
        try run(head, features, rows: rows)
    }

    /// The parameters of slots `rows` as tensors that share the stacked storage: the stacked
    /// tensors themselves for all slots, otherwise leaves made from row views (kept for the next
    /// call with the same rows), so that a step of a few slots computes gradients of those slots'
    /// size only. Their `grad` holds the gradient of the slots' rows after a backward pass through
    /// a `forward(_:rows:)` with the same rows; in-place updates of them update the stack. A leaf
    /// requires gradients when its stacked tensor did when it was made: call `dropRowViews()` after
    /// changing `requiringGrad` on the stacked tensors.
    public func parameters(rows: Range<Int>) throws -> [Tensor] {
        try checkRows(rows)
        if rows.count == count { return parameters.map(\.tensor) }
        if let views = rowViews[rows] { return views }
        let views = try parameters.map { try $0.tensor.detached().slice(rows).requiringGrad($0.tensor.requiresGrad) }
        rowViews[rows] = views
        return views
    }

    /// Forgets the leaves `parameters(rows:)` made (and their gradients).
    public func dropRowViews() { rowViews = [:] }

    func checkRows(_ rows: Range<Int>) throws {
        guard !rows.isEmpty, rows.lowerBound >= 0, rows.upperBound <= count else {
            throw TorchError("stacked forward", "rows \(rows) are not a non-empty range of 0..<\(count)")
        }
    }

    func run(_ steps: [StackedStep], _ x: Tensor, rows: Range<Int>) throws -> Tensor {
        try checkRows(rows)
        guard x.rank >= 2, x.shape[0] == rows.count else {
            throw TorchError(
                "stacked forward",
                "expected inputs [\(rows.count), n, ...] for rows \(rows), got \(Tensor.describe(shape: x.shape))")
        }
        let weights = try parameters(rows: rows)
        var value = StackedValue.stacked(x)
        for step in steps { value = try step.apply(value, slots: rows.count, parameters: weights) }
        return try value.stacked(slots: rows.count)
    }

    // MARK: - Planning

    static func plan(_ layer: any Layer, parameterIndex index: inout Int) throws -> [StackedStep] {
        func take(_ n: Int) -> Int { defer { index += n }; return index }
        switch layer {
        case let conv as Conv2d:
            return [
                .conv(
                    weight: take(1), bias: conv.bias != nil ? take(1) : nil, stride: conv.stride, padding: conv.padding)
            ]
        case let linear as Linear:
            return [.linear(weight: take(1), bias: linear.bias != nil ? take(1) : nil)]
        case let activation as Activation: return [.activation(activation)]
        case let pool as Pool2d: return [.pool(pool)]
        case is Flatten: return [.flatten]
        case let reshape as Reshape: return [.reshape(reshape.shape)]
        case is Dropout: return []
        case let sequence as Sequential:
            return try sequence.layers.flatMap { try plan($0, parameterIndex: &index) }
        default:
            throw TorchError("stack", "layer \(type(of: layer)) cannot be stacked")
        }
    }
}

/// An activation between stacked layers, in one of two layouts.
enum StackedValue {
    /// [k, n, ...]: slot first.
    case stacked(Tensor)
    /// [n, k*C, H, W]: the slots' channels side by side (grouped-convolution layout).
    case grouped(Tensor)

    func stacked(slots k: Int) throws -> Tensor {
        switch self {
        case .stacked(let x): return x
        case .grouped(let x):
            let s = x.shape  // [n, k*C, H, W] -> [k, n, C, H, W]
            return try x.view([s[0], k, s[1] / k, s[2], s[3]]).permuted([1, 0, 2, 3, 4])
        }
    }

    func grouped(slots k: Int) throws -> Tensor {
        switch self {
        case .grouped(let x): return x
        case .stacked(let x):
            let s = x.shape  // [k, n, C, H, W] -> [n, k*C, H, W]
            guard s.count == 5 else {
                throw TorchError(
                    "stacked conv2d", "expected per-slot images [k, n, C, H, W], got \(Tensor.describe(shape: s))")
            }
            return try x.permuted([1, 0, 2, 3, 4]).reshaped([s[1], k * s[2], s[3], s[4]])
        }
    }
}

/// One layer of a stacked network; parameters are indices into `StackedNetwork.parameters`.
enum StackedStep {
    case conv(weight: Int, bias: Int?, stride: Int, padding: Int)
    case linear(weight: Int, bias: Int?)
    case activation(Activation)
    case pool(Pool2d)
    case flatten
    case reshape([Int])

    /// Applies the layer to `slots` slots whose parameters are `parameters` (`parameters(rows:)`).
    func apply(_ value: StackedValue, slots k: Int, parameters: [Tensor]) throws -> StackedValue {
        func rowsOf(_ i: Int) -> Tensor { parameters[i] }
        switch self {
        case .conv(let w, let b, let stride, let padding):
            let x = try value.grouped(slots: k)
            let weight = rowsOf(w)
            let ws = weight.shape  // [k, O, C, kh, kw]
            let bias = b.map { rowsOf($0) }
            if ws[2] == 1, k > 1 {
                // One input channel per slot (the first layer on grey images): oneDNN's grouped
                // kernel is slower here than one convolution per slot (measured, docs/benchmarks.md).
                return .grouped(
                    try Tensor.cat(
                        (0..<k).map { s in
                            try F.conv2d(
                                x.slice(dim: 1, s..<(s + 1)), weight: weight.select(dim: 0, s),
                                bias: bias?.select(dim: 0, s),
                                stride: stride, padding: padding)
                        }, dim: 1))
            }
            return .grouped(
                try F.conv2d(
                    x, weight: weight.reshaped([k * ws[1], ws[2], ws[3], ws[4]]),
                    bias: bias?.reshaped([k * ws[1]]), stride: stride, padding: padding, groups: k))
        case .linear(let w, let b):
            // y^T = W x^T (+ b) per slot: [k, O, F] x [k, F, n] -> [k, O, n], returned as the view
            // [k, n, O]. This orientation keeps the weight gradient contiguous (measured faster than
            // x W^T, whose weight operand and gradient are transposed views).
            let x = try value.stacked(slots: k)
            let s = x.shape
            let flat = s.count == 3 ? x : try x.reshaped([k, -1, s[s.count - 1]])
            let weight = rowsOf(w), xT = try flat.transposed(1, 2)
            let yT = try b.map { try F.baddbmm(rowsOf($0).unsqueezed(2), weight, xT) } ?? F.bmm(weight, xT)
            let y = try yT.transposed(1, 2)
            return .stacked(s.count == 3 ? y : try y.reshaped(Array(s.dropLast()) + [y.shape[2]]))
        case .activation(let activation):
            switch value {
            case .stacked(let x): return .stacked(try activation.forward(x))
            case .grouped(let x): return .grouped(try activation.forward(x))
            }
        case .pool(let pool):
            switch value {
            case .grouped(let x): return .grouped(try pool.forward(x))
            case .stacked(let x):
                let s = x.shape  // [k, n, C, H, W]
                guard s.count == 5 else {
                    throw TorchError(
                        "stacked pool2d", "expected per-slot images [k, n, C, H, W], got \(Tensor.describe(shape: s))")
                }
                let y = try pool.forward(x.reshaped([s[0] * s[1], s[2], s[3], s[4]]))
                return .stacked(try y.reshaped([s[0], s[1]] + Array(y.shape.dropFirst())))
            }
        case .flatten:
            switch value {
            case .grouped(let x):
                let s = x.shape  // [n, k*C, H, W] -> [k, n, C*H*W]
                return .stacked(try x.reshaped([s[0], k, -1]).transposed(0, 1))
            case .stacked(let x): return .stacked(try x.flattened(from: 2))
            }
        case .reshape(let shape):
            let x = try value.stacked(slots: k)
            return .stacked(try x.reshaped([k, x.shape[1]] + shape))
        }
    }
}
