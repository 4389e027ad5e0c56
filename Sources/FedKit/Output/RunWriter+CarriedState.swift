import Foundation
import Torch

extension RunWriter {
    /// Saves what a run carries besides the global and personal models, under checkpoint/:
    /// each client's carried state (`carried/client-<c>.safetensors`, one client at a time) and the
    /// server-side plugin state (`server.safetensors`, from `RoundCarriedState`). Writes nothing
    /// for a method that carries nothing.
    public func saveCarriedStates(_ store: ClientStateStore, server: StateDict?, clients: Int, round: Int) throws {
        let dir = "\(directory)/checkpoint"
        if let server, !server.isEmpty {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try server.save(to: "\(dir)/server.safetensors", metadata: ["round": String(round)])
        }
        guard store.count > 0 else { return }
        try FileManager.default.createDirectory(atPath: "\(dir)/carried", withIntermediateDirectories: true)
        for c in 0..<clients {
            guard let state = try store.get(c) else { continue }
            try state.save(to: "\(dir)/carried/client-\(c).safetensors", metadata: ["round": String(round), "client": String(c)])
        }
    }
}
