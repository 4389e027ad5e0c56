import Foundation
import Torch

extension RunWriter {
    /// Saves each client's carried state (`ClientTrainingContext.carried`: SCAFFOLD's c_k, APFL's
    /// alpha) under checkpoint/client-carried/client-<c>.safetensors, one client at a time, for a run
    /// without round checkpoints (round checkpoints hold the same files). Writes nothing for a
    /// method that carries nothing.
    public func saveClientCarriedStates(_ store: ClientStateStore, clients: Int, round: Int) throws {
        guard store.count > 0 else { return }
        let dir = "\(directory)/checkpoint/client-carried"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for c in 0..<clients {
            guard let state = try store.get(c) else { continue }
            try state.save(
                to: "\(dir)/client-\(c).safetensors", metadata: ["round": String(round), "client": String(c)])
        }
    }
}
