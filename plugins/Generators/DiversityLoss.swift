import Torch

/// FedGen's `DiversityLoss('l1')`, the L_div of FedGen's and FedBKD's generators:
/// exp(-mean_{i,j} d_z(i,j) d_x(i,j)), d_z the mean squared difference of the noise vectors,
/// d_x the mean absolute difference of the (flattened) samples. d_z carries no gradient (the
/// noise is not learned).
public enum DiversityLoss {
    public static func fedgen(noise z: Tensor, samples x: Tensor, noiseDim: Int) throws -> Tensor {
        let flat = try x.flattened(from: 1)
        let dx = try flat.pairwiseDistances(flat, p: 1) / Double(max(1, flat.shape[1]))
        let dz = try withoutGrad { try z.pairwiseDistances(z, p: 2).square() / Double(noiseDim) }
        return try (-(dz * dx).mean()).exp()
    }
}
