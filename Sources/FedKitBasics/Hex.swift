/// Lower- or upper-case hexadecimal digits of an unsigned integer, zero-padded: the one hex
/// formatter of the code base (hashes, checksums, escapes, magic numbers in messages).
public enum Hex {
    /// `value` in at least `count` hex digits: `Hex.digits(0x1f, count: 2)` is "1f".
    public static func digits(
        _ value: some BinaryInteger & UnsignedInteger, count: Int, uppercase: Bool = false
    ) -> String {
        let text = String(value, radix: 16, uppercase: uppercase)
        return String(repeating: "0", count: max(0, count - text.count)) + text
    }
}
