/// The one shape formatter of the code base: `[2, 3, 28, 28]`, as in messages about tensors.
public enum ShapeText {
    public static func describe(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ", ") + "]" }
}
