import FedKit
import Foundation
import XCTest

@testable import Datasets

/// Helpers for the dataset tests: temporary folders, writers for the official formats, and
/// where the shared real data lives.
enum DataTestSupport {
    /// A fresh temporary folder.
    static func temporaryDirectory(_ name: String = "fedkit-data") throws -> String {
        let path = NSTemporaryDirectory() + "\(name)-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        guard FileManager.default.createFile(atPath: path, contents: Data(bytes)) else {
            throw PluginError("cannot write \(path)")
        }
    }

    static func write(_ text: String, to path: String) throws { try write(Array(text.utf8), to: path) }

    /// A gzip file with stored (uncompressed) DEFLATE blocks: valid gzip any reader accepts.
    static func gzipStored(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]
        var start = 0
        repeat {
            let n = Swift.min(65535, data.count - start)
            let last: UInt8 = start + n >= data.count ? 1 : 0
            out.append(last)
            out += [UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
            out += data[start..<(start + n)]
            start += n
        } while start < data.count
        let crc = CRC32.checksum(data)
        for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8((crc >> UInt32(shift)) & 0xFF)) }
        let size = UInt32(truncatingIfNeeded: data.count)
        for shift in stride(from: 0, to: 32, by: 8) { out.append(UInt8((size >> UInt32(shift)) & 0xFF)) }
        return out
    }

    /// An IDX file of unsigned bytes.
    static func idx(dimensions: [Int], data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0, 0, 8, UInt8(dimensions.count)]
        for d in dimensions {
            out += [UInt8((d >> 24) & 0xFF), UInt8((d >> 16) & 0xFF), UInt8((d >> 8) & 0xFF), UInt8(d & 0xFF)]
        }
        return out + data
    }

    /// Writes a small MNIST-layout folder (train: `train` images, test: `test` images), gzipped or not.
    static func writeMNIST(
        root: String, train: Int, test: Int, gzip: Bool
    ) throws -> (trainLabels: [Int], testLabels: [Int]) {
        func images(_ n: Int, seed: Int) -> [UInt8] {
            (0..<(n * 784)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ seed) }
        }
        let trainLabels = (0..<train).map { $0 % 10 }
        let testLabels = (0..<test).map { ($0 * 3) % 10 }
        let files: [(String, [UInt8])] = [
            ("train-images-idx3-ubyte", idx(dimensions: [train, 28, 28], data: images(train, seed: 1))),
            ("train-labels-idx1-ubyte", idx(dimensions: [train], data: trainLabels.map { UInt8($0) })),
            ("t10k-images-idx3-ubyte", idx(dimensions: [test, 28, 28], data: images(test, seed: 2))),
            ("t10k-labels-idx1-ubyte", idx(dimensions: [test], data: testLabels.map { UInt8($0) })),
        ]
        for (name, bytes) in files {
            if gzip {
                try write(gzipStored(bytes), to: "\(root)/\(name).gz")
            } else {
                try write(bytes, to: "\(root)/\(name)")
            }
        }
        return (trainLabels, testLabels)
    }

    /// CIFAR records: label byte(s) then 3072 pixel bytes.
    static func cifarRecords(labels: [[UInt8]], seed: Int) -> [UInt8] {
        var out: [UInt8] = []
        for (r, label) in labels.enumerated() {
            out += label
            out += (0..<3072).map { UInt8(truncatingIfNeeded: $0 &+ r &* 7 &+ seed) }
        }
        return out
    }

    /// Writes a CIFAR-10 folder with `perBatch` records in each of the 5 training batches and the test batch.
    static func writeCIFAR10(root: String, perBatch: Int) throws {
        for b in 1...5 {
            try write(
                cifarRecords(labels: (0..<perBatch).map { [UInt8(($0 + b) % 10)] }, seed: b),
                to: "\(root)/data_batch_\(b).bin")
        }
        try write(cifarRecords(labels: (0..<perBatch).map { [UInt8($0 % 10)] }, seed: 9), to: "\(root)/test_batch.bin")
    }

    /// A LEAF JSON file. `users`: (id, samples as (x JSON text, y)).
    static func leafJSON(_ users: [(String, [(String, Int)])]) -> String {
        let names = users.map { "\"\($0.0)\"" }.joined(separator: ", ")
        let counts = users.map { String($0.1.count) }.joined(separator: ", ")
        let data = users.map { user in
            "\"\(user.0)\": {\"x\": [\(user.1.map(\.0).joined(separator: ", "))], \"y\": [\(user.1.map { String($0.1) }.joined(separator: ", "))]}"
        }.joined(separator: ", ")
        return "{\"users\": [\(names)], \"num_samples\": [\(counts)], \"user_data\": {\(data)}}"
    }

    /// A FEMNIST-like image as JSON: 784 numbers.
    static func femnistImage(_ seed: Int) -> String {
        "[" + (0..<784).map { i in ((i + seed) % 7 == 0) ? "0.25" : "1.0" }.joined(separator: ", ") + "]"
    }

    /// A Sent140 x entry.
    static func tweet(_ text: String, user: String, id: Int) -> String {
        let escaped = text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
        return "[\"\(id)\", \"Sat Jun 20 02:04:00 PDT 2009\", \"NO_QUERY\", \"\(user)\", \"\(escaped)\", \"training\"]"
    }

    // MARK: - Shared real data (../shared/data)

    static var repositoryRoot: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().path
    }

    static var sharedData: String { (repositoryRoot as NSString).deletingLastPathComponent + "/shared/data" }

    nonisolated(unsafe) private static var extracted: [String: String] = [:]
    private static let lock = NSLock()

    /// The folder holding `folder` (e.g. "femnist"): data/<folder> in the repository if present,
    /// else ../shared/data/<folder>, else the shared archive extracted once into a temp folder.
    /// Nil (the caller skips) when none exists.
    static func realData(_ folder: String, archive: String) -> String? {
        for candidate in ["\(repositoryRoot)/data/\(folder)", "\(sharedData)/\(folder)"]
        where FileManager.default.fileExists(atPath: candidate) {
            return candidate
        }
        let tarball = "\(sharedData)/\(archive)"
        guard FileManager.default.fileExists(atPath: tarball), FileManager.default.fileExists(atPath: "/usr/bin/tar")
        else { return nil }
        lock.lock()
        defer { lock.unlock() }
        if let done = extracted[archive] { return done }
        guard let target = try? temporaryDirectory("fedkit-shared") else { return nil }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/tar")
        process.arguments = ["xJf", tarball, "-C", target]
        do { try process.run() } catch { return nil }
        process.waitUntilExit()
        guard process.terminationStatus == 0, FileManager.default.fileExists(atPath: "\(target)/\(folder)") else {
            return nil
        }
        extracted[archive] = "\(target)/\(folder)"
        return "\(target)/\(folder)"
    }

    // MARK: - A deflate stream with many dynamic-Huffman blocks

    /// 12,000 skewed pseudo-random bytes with back-references (an LCG; the same generator in Python
    /// produced `lcgGzip` with zlib level 6, memLevel 1, i.e. many small dynamic blocks).
    static func lcgBytes() -> [UInt8] {
        var state: UInt64 = 12345
        func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 33
        }
        var out: [UInt8] = []
        while out.count < 12000 {
            let r = next()
            if r % 5 == 0 && out.count > 300 {
                let d = 1 + Int(next() % 300), l = 3 + Int(next() % 40)
                for _ in 0..<l { out.append(out[out.count - d]) }
            } else {
                var v = next()
                var k = 0
                while v & 1 == 1 && k < 40 { k += 1; v >>= 1 }
                out.append(UInt8(97 + k))
            }
        }
        return Array(out.prefix(12000))
    }

    static let lcgGzip = Array(
        Data(
            base64Encoded:
                "H4sIAAAAAAAAA4yQUQ7DMAhDz2rsZLv/CWbDumrTPhKJhhLz4qACyrEKrGSLoEtwCSn5B3JszKrVh17kJN7kLFHdSmOUfgO3UlAOwnFlPmxoeMGtNJuQ+22iSOuJYDj+2scScdm49uoGK9k+uW9rNcJhffTaq3lSwG2c46b1vPlSv64nwH5gGk4AmWE9LUE9jp/wNda/3oW37Id0NIYXI9WWACEIAs8qbNn9T7AwpFaK8NXW4rwEkK1cjcbauAeB48nuP5HV85lSKkCgtLKRhXIoQU0GMhHohS2OIgFhpTr5X9j2tCvjeUUJnCJLKoGdDYlOjeQjpqSZqLlMSmzpynG/mBydxZRu+ax7qs2NC0Pv8nt2GEN39N4gbJ/aZxB9stOAQ5wPiUvJ4b5N6F4grM6E4hEPhR+ve+8kALXDmWFuUpEoICxpmDnMv5bICDquGTM0kMpe0NoXhXS9/zKIetTeVZ5hxyJCc1iLzvkffX/GAO2/0N+f0SpIghgEYW9FdLv7/w9sDdTRCkgPnVExJCigpj2x9BtECLVK9/fA31ezaeJsDEpS742axMA5DZJnD8g+X384YkNqrN7BIxxOoR8PTZTUTmsEtIitBhXnE2tSoMltvxuRqow3LPJ7Rs/lU6/yjoqAlVmv1DfFkMorrk1iLpM+3fVaZkjohqtgq33i4yu4pGI7K3hK6Dg2Je01UrgTFMrIz1VIZQoY7h8etRKaFFuDjb7GT6K4cmBr0lvIbUjo0BHznuezRytCDSxNJIp/KXc0+sXT27VSSVOWZ5S3L236dcJygvtTYiVJEIMg8K0sJlUz/7+PImTEBU1OKVnSdLFIkDfIAlvCRF/UFla2JceNGQngOKIALdBAiifWHrbmYUw8Qf0/qdVi072FonN5FdQSAr0iyjvhHnHp9rb9tKpphccDz4JLRtpIAdR1Vexolj/dJ45RSQ7NaVgBt61dcgPSihiESFIiuLMnSuDOsvodEAKBfROJZN1Vm6pGOHHFR2F+qrfYtSwAtQ40n+2qgpWrDTds15y9fi8fXgRorLIUab3ipfeu51iJN3zerv55OYOC2lTgABqcuME36MsZsY61UhM/RqwtCUIQhp21D9edvf8BljagIFD7pYOQpAFKBX9l3PZBj61ck5ottTMXjLw3+90Vz9hfRo1zK9pH6MvP3+W2LvVZSHpsr7Y/KPTsxoxjEsy2ObBxp6WYrhOtOwas5rFTOd3TEZ+4F1PaYSJoCDhoNyZ4XHuVxrdZg2XfwCSltMhBqg20Mh4Jk7ZwOMcqbQaTVwKwNxiXFr1IYGtOEJxawPAYk9LEPatfyCdU3T/qVDytKFynWOF9IKajFihsCXwJxejDYaDlYPHVXnJ1NyZFqwOkZGIsX1XjGKKI/oxZWxLDIAg8Kxh6/yN0dJfW+ADyp4Psw4ijgvOiqifFgeWG0op28Bqh6IFWgVHCr+MAHXvStuQH7Q1Hz8QEFWLkqkks4cpp+YcEetUDBjneP8wgskgUL/+vhEq8o0dabCn3FBaD3rCTPyzea6P54o5RBG9EM2njM1CWfebVnyaEebOvKOszkpmZeDVDnM9zy9t4+qnKxaVfRXDJHxt9J/Qo5gkNMvTmUrXG13/cZ3LDUOMwCHsKLn9GnCHFJU6d9RvzJNdy2WNsDdIXYoWwbGY03waD3t+JhPlkp+KT8aXUCnIgBkHgW4E2zSb9/3nXAYxVq7OXJioODFWDYGOZZdiMUtfGJX6T7L4roCfngEz/98goH7r4tR0XGpKc2ncVofSds1N3oP4OWMi8q5F/HCK6HF3TRGklAs29Yyy/y6YgjXpgaRuBG6u4SJ68hslsRMyDoJUdstSmmSp5U3ciZ3jUm15PRGgOisSDRDpqMutholLURT+NFNbAFdkhxU8IYco8RALlXcHeOWUBBeaUDF4ndJbEyXNZem0Aa05uztQMemrLrwg7UwRBaFSBGAU8bwqWIKa+QzmQsbO2spy3UiLxkmXriHhyM8WU276MWlsSwyAIPCtK0k7vf4DKwzcK+UiigXUXo6OMYPMfwXkAlZX/VdbMDeCICzUDt5KVyWeRmGYiPgSOD54G4thenKjXCs47WO4eplRJF+7xCOqc/ALabpyIRzVtV5LqE0Qb4LxH/ZTFEXYo3kbxNIYVHNgu1EwfqBfV1FQeuVVaVnjo+6v1R0bCPsQ7IZ/YmelIWm/WsJK7EN0EBVDTRgXAoIxeLXgN+baQd68u+vHEmMaaIPRgpVwWW9iMzBIdpPGbx6+eLIhxrEuIR+dB+fd/WftQUlgeePfV6Ob2mfz7qcdjnNY3lJvN91+pteUwDMKws+YB3P8GG4GOVEDiVVV/IMY2Ea9Cf/gEKZGxMLlqz0GwmEazt9cvz12J7UpagUNl2q8BM5d8drlgcylr59EimsbWUucVhxs2boWr2fRS87uZsSFW1St1Z1XEAEcHPvMuLOeVz7BL9pxlHFq2g6/kGxPr7294IZA1GTgCWbvjWsb0FsqSTflQ4EMEL808WVsigzpBJMKl9OON2QnyZOoQ3KefiI7d7siZHXTe2+CXACVEKke0+VX5AzjWagLgLgAA"
        )!)

    /// "hello hello hello hello" compressed with a fixed-Huffman block (Python gzip).
    static let fixedGzip = Array(Data(base64Encoded: "H4sIAAAAAAACA8tIzcnJV8hAJwHjUT2NFwAAAA==")!)
}
