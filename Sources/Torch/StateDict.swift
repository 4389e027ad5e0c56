import CTorch

/// An ordered map from names to tensors: a model's parameters and buffers.
///
/// Aggregators work on `flattened()` vectors; `load(flat:)` scatters one back.
public struct StateDict: @unchecked Sendable {
    public private(set) var entries: [(name: String, tensor: Tensor)]

    public init(_ entries: [(name: String, tensor: Tensor)]) { self.entries = entries }

    public var names: [String] { entries.map(\.name) }
    public var tensors: [Tensor] { entries.map(\.tensor) }
    public var isEmpty: Bool { entries.isEmpty }
    /// Total number of scalars.
    public var scalarCount: Int { entries.reduce(0) { $0 + $1.tensor.count } }

    public subscript(name: String) -> Tensor? { entries.first { $0.name == name }?.tensor }

    /// The entries whose names satisfy `include`.
    public func filter(_ include: (String) -> Bool) -> StateDict { StateDict(entries.filter { include($0.name) }) }

    /// Entries under `prefix.` (e.g. "body"), names kept whole.
    public func under(_ prefix: String) -> StateDict { filter { $0.hasPrefix(prefix + ".") } }

    /// A deep copy, detached from any graph and from the model's storage.
    public func copy() throws -> StateDict {
        try withoutGrad { StateDict(try entries.map { ($0.name, try $0.tensor.detached().clone()) }) }
    }

    /// All entries concatenated into one float32 vector (a fresh tensor).
    public func flattened() throws -> Tensor {
        let ts = tensors
        return try Tensor.make("flatten_state", ts) {
            let handles: [OpaquePointer?] = ts.map { $0.handle.pointer }
            return handles.withUnsafeBufferPointer { ft_flatten_cat($0.baseAddress, Int32($0.count)) }
        }
    }

    /// Copies consecutive slices of `flat` into the entries, in order (inverse of `flattened`).
    public func load(flat: Tensor) throws {
        let ts = tensors
        try Tensor.check("unflatten_state", [flat] + ts) {
            let handles: [OpaquePointer?] = ts.map { $0.handle.pointer }
            return handles.withUnsafeBufferPointer {
                ft_unflatten_copy(flat.handle.pointer, $0.baseAddress, Int32($0.count))
            }
        }
    }

    /// Copies every entry of `source` into the entry of the same name (a partial update: entries
    /// `source` lacks keep their values). A name this state lacks, or another shape, is an error.
    public func update(from source: StateDict) throws {
        let mine = Set(names)
        let unexpected = source.names.filter { !mine.contains($0) }
        guard unexpected.isEmpty else { throw TorchError("update_state", "unexpected keys \(unexpected)") }
        try copyValues(from: source, strict: false)
    }

    /// Copies the values of matching entries of `source` into these tensors.
    /// With `strict`, missing or unexpected names and any shape mismatch are errors.
    public func copyValues(from source: StateDict, strict: Bool) throws {
        var byName: [String: Tensor] = [:]
        for e in source.entries { byName[e.name] = e.tensor }
        if strict {
            let mine = Set(names), theirs = Set(source.names)
            let missing = names.filter { !theirs.contains($0) }
            let unexpected = source.names.filter { !mine.contains($0) }
            if !missing.isEmpty || !unexpected.isEmpty {
                throw TorchError("load_state_dict", "missing keys \(missing), unexpected keys \(unexpected)")
            }
        }
        for (name, tensor) in entries {
            guard let value = byName[name] else { continue }
            guard value.shape == tensor.shape else {
                throw TorchError(
                    "load_state_dict",
                    "\(name): expected shape \(Tensor.describe(shape: tensor.shape)), got \(Tensor.describe(shape: value.shape))"
                )
            }
            try tensor.copy_(value)
        }
    }
}
