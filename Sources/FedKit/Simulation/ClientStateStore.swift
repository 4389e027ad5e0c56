import Foundation
import Torch

/// Keeps each client's personal state (a head, a whole model) between rounds.
///
/// States are held as one contiguous vector per client (names kept once per layout). When
/// the held bytes exceed `memoryBudget`, the least recently used states are written to
/// `spillDirectory` (raw float32 files, `SpillFile`) and reloaded on demand (a state read back and not
/// replaced since is not written again when it spills a second time).
public final class ClientStateStore: @unchecked Sendable {
    struct Layout { var names: [String]; var shapes: [[Int]] }
    struct Slot { var layout: Int; var flat: Tensor?; var lastUse: Int; var onDisk: Bool }

    private var layouts: [Layout] = []
    private var slots: [Int: Slot] = [:]
    private var clock = 0
    private var heldBytes = 0
    private var writes = 0
    private let lock = NSLock()
    private var budget: Int
    public let spillDirectory: String?

    /// Bytes of state kept in memory before the least recently used states spill (takes effect at the next put or get).
    public var memoryBudget: Int {
        get { lock.withLock { budget } }
        set { lock.withLock { budget = newValue } }
    }

    /// - Parameters:
    ///   - memoryBudget: bytes of state kept in memory before spilling (Int.max: never spill).
    ///   - spillDirectory: where spilled states go; required for spilling.
    public init(memoryBudget: Int = .max, spillDirectory: String? = nil) {
        budget = memoryBudget
        self.spillDirectory = spillDirectory
    }

    /// Number of clients with a stored state.
    public var count: Int { lock.withLock { slots.count } }

    /// Number of times a state was written to the spill directory.
    public var spillWrites: Int { lock.withLock { writes } }

    /// Deletes the spill directory (the run is over and its states are checkpointed); the store
    /// keeps only what is in memory afterwards.
    public func discardSpilledStates() {
        lock.withLock {
            guard let dir = spillDirectory else { return }
            slots = slots.filter { $0.value.flat != nil }
            for key in slots.keys { slots[key]?.onDisk = false }
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    /// Bytes currently held in memory.
    public var bytesInMemory: Int { lock.withLock { heldBytes } }

    public func contains(_ client: Int) -> Bool { lock.withLock { slots[client] != nil } }

    /// Stores a copy of `state` for `client` (the caller's tensors are not retained).
    public func put(_ client: Int, _ state: StateDict) throws {
        let flat = try state.flattened()
        let layout = Layout(names: state.names, shapes: state.tensors.map(\.shape))
        try lock.withLock {
            let index =
                layouts.firstIndex { $0.names == layout.names && $0.shapes == layout.shapes }
                ?? {
                    layouts.append(layout)
                    return layouts.count - 1
                }()
            if let old = slots[client], let oldFlat = old.flat { heldBytes -= oldFlat.count * 4 }
            clock += 1
            slots[client] = Slot(layout: index, flat: flat, lastUse: clock, onDisk: false)
            heldBytes += flat.count * 4
            try spillIfNeeded()
        }
    }

    /// The stored state of `client` as fresh tensors (one copy of the stored vector), or nil.
    public func get(_ client: Int) throws -> StateDict? {
        guard let (flat, layout) = try held(client) else { return nil }
        return try Self.views(of: withoutGrad { try flat.clone() }, layout: layout)
    }

    /// Copies the stored state of `client` into the matching entries of `layer` (other entries keep
    /// their values), straight from the stored vector: no intermediate copy. False when none is stored.
    @discardableResult
    public func load(_ client: Int, into layer: any Layer) throws -> Bool {
        guard let (flat, layout) = try held(client) else { return false }
        // The views keep `flat` alive even if a concurrent put or spill replaces it.
        try layer.load(Self.views(of: flat, layout: layout), strict: false)
        return true
    }

    /// Entry names of the stored state of `client` (no tensor work), or nil.
    public func names(_ client: Int) -> [String]? {
        lock.withLock { slots[client].map { layouts[$0.layout].names } }
    }

    /// The stored vector of `client` (read back from disk if it was spilled) and its layout.
    private func held(_ client: Int) throws -> (Tensor, Layout)? {
        try lock.withLock {
            guard var slot = slots[client] else { return nil }
            clock += 1
            slot.lastUse = clock
            let flat: Tensor
            if let held = slot.flat {
                flat = held
            } else {
                let loaded = try SpillFile.read(spillPath(client))
                flat = loaded
                slot.flat = loaded  // the file stays valid until the next put: a later spill need not rewrite it
                heldBytes += loaded.count * 4
            }
            slots[client] = slot
            try spillIfNeeded(keeping: client)
            return (flat, layouts[slot.layout])
        }
    }

    /// Entries that are views (slices) of `flat`, in layout order.
    private static func views(of flat: Tensor, layout: Layout) throws -> StateDict {
        var offset = 0
        var entries: [(name: String, tensor: Tensor)] = []
        entries.reserveCapacity(layout.names.count)
        for (name, shape) in zip(layout.names, layout.shapes) {
            let count = shape.reduce(1, *)
            entries.append((name, try flat.slice(offset..<(offset + count)).view(shape)))
            offset += count
        }
        guard offset == flat.count else {
            throw PluginError("client state holds \(flat.count) values, its layout \(offset)")
        }
        return StateDict(entries)
    }

    private func spillPath(_ client: Int) -> String { "\(spillDirectory ?? ".")/client-\(client).state" }

    private func spillIfNeeded(keeping keep: Int? = nil) throws {
        guard heldBytes > budget, let dir = spillDirectory else { return }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let victims = slots.filter { $0.value.flat != nil && $0.key != keep }.sorted {
            $0.value.lastUse < $1.value.lastUse
        }
        for (client, slot) in victims where heldBytes > budget {
            guard let flat = slot.flat else { continue }
            if !slot.onDisk {
                try SpillFile.write(flat, to: spillPath(client))
                writes += 1
            }
            slots[client]?.flat = nil
            slots[client]?.onDisk = true
            heldBytes -= flat.count * 4
        }
    }
}
