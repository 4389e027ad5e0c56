/// 2-d convolution with square kernels.
public final class Conv2d: Layer {
    public let weight: Tensor
    public let bias: Tensor?
    public let stride: Int
    public let padding: Int

    public init(
        _ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
        bias: Bool = true, generator: RandomGenerator
    ) throws {
        let fanIn = inChannels * kernel * kernel
        weight = try Initialise.uniformFanIn(
            [outChannels, inChannels, kernel, kernel], fanIn: fanIn, generator: generator)
        self.bias = bias ? try Initialise.uniformFanIn([outChannels], fanIn: fanIn, generator: generator) : nil
        self.stride = stride
        self.padding = padding
    }

    public var localParameters: [(name: String, tensor: Tensor)] {
        [("weight", weight)] + (bias.map { [("bias", $0)] } ?? [])
    }

    public func forward(_ x: Tensor) throws -> Tensor {
        try F.conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding)
    }
}
