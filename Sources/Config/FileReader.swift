#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Reads a whole file with POSIX calls, turning every failure into a `ConfigError` without a
/// location whose message names the path and the reason.
enum FileReader {
    static func contents(of path: String, maxSize: Int) throws(ConfigError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw failure(path, errno: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw failure(path, errno: errno) }
        if (info.st_mode & S_IFMT) == S_IFDIR { throw failure(path, errno: EISDIR) }
        if (info.st_mode & S_IFMT) == S_IFREG, Int(info.st_size) > maxSize {
            throw tooLarge(path, size: Int(info.st_size), limit: maxSize)
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity((info.st_mode & S_IFMT) == S_IFREG ? Int(info.st_size) : 64 << 10)
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure(path, errno: errno)
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
            if bytes.count > maxSize { throw tooLarge(path, size: nil, limit: maxSize) }
        }
        return bytes
    }

    /// The error for a failed system call on `path`.
    static func failure(_ path: String, errno code: Int32) -> ConfigError {
        let reason: String
        switch code {
        case ENOENT: reason = "no such file"
        case EISDIR: reason = "it is a directory, not a YAML file"
        case EACCES, EPERM: reason = "permission denied"
        case ENOTDIR: reason = "a component of the path is not a directory"
        default: reason = String(cString: strerror(code)).lowercased()
        }
        return ConfigError("cannot read '\(path)': \(reason)")
    }

    static func tooLarge(_ path: String, size: Int?, limit: Int) -> ConfigError {
        let what = size.map { "it is \(formatSize($0))" } ?? "it is larger than that"
        return ConfigError("cannot read '\(path)': \(what); config files are limited to \(formatSize(limit))")
    }

    /// `17.0 MiB`, `512 KiB`, `300 bytes`.
    static func formatSize(_ bytes: Int) -> String {
        func oneDecimal(_ v: Double) -> String {
            let tenths = Int((v * 10).rounded())
            return tenths % 10 == 0 ? "\(tenths / 10)" : "\(tenths / 10).\(tenths % 10)"
        }
        if bytes >= 1 << 20 { return oneDecimal(Double(bytes) / Double(1 << 20)) + " MiB" }
        if bytes >= 1 << 10 { return oneDecimal(Double(bytes) / Double(1 << 10)) + " KiB" }
        return "\(bytes) bytes"
    }
}
