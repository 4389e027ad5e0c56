/// A batch-first unidirectional LSTM over [N, T, features]. Returns the last time step's
/// hidden state [N, hidden] (`returnsSequence == false`) or the whole sequence [N, T, hidden].
public final class LSTM: Layer {
    public let hidden: Int
    public let layers: Int
    public let returnsSequence: Bool
    let weights: [(name: String, tensor: Tensor)]

    public init(
        inputs: Int, hidden: Int, layers: Int = 1, returnsSequence: Bool = false, generator: RandomGenerator
    ) throws {
        self.hidden = hidden
        self.layers = layers
        self.returnsSequence = returnsSequence
        var weights: [(name: String, tensor: Tensor)] = []
        for l in 0..<layers {
            let inSize = l == 0 ? inputs : hidden
            let shapes = [
                ("weight_ih_l\(l)", [4 * hidden, inSize]), ("weight_hh_l\(l)", [4 * hidden, hidden]),
                ("bias_ih_l\(l)", [4 * hidden]), ("bias_hh_l\(l)", [4 * hidden]),
            ]
            for (name, shape) in shapes {
                weights.append((name, try Initialise.uniformFanIn(shape, fanIn: hidden, generator: generator)))
            }
        }
        self.weights = weights
    }

    public var localParameters: [(name: String, tensor: Tensor)] { weights }

    public func forward(_ x: Tensor) throws -> Tensor {
        let result = try F.lstm(x, parameters: weights.map(\.tensor), layers: layers)
        return returnsSequence ? result.output : try result.h.select(dim: 0, layers - 1)
    }
}
