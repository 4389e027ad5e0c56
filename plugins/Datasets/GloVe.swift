import FedKit
import Foundation
import Torch

/// Pre-trained word vectors in the standard GloVe text format: one word per line followed by its
/// d numbers, separated by single spaces (glove.6B.300d.txt etc.; word2vec text files with a
/// "count dim" first line are accepted too).
public enum GloVe {
    /// An embedding matrix [vocabulary.count, d] for `vocabulary` (ids as in `TextVocabulary`):
    /// row 0 (padding) is zero; a word found in the file gets its vector; every other row
    /// (OOV and words missing from the file) gets N(0, s^2) with s the std of the file's found
    /// vectors, drawn from SplitMix64(seed) in row order. Returns the matrix and the number of
    /// vocabulary words found.
    public static func embeddingMatrix(
        path: String, vocabulary: TextVocabulary, seed: UInt64 = 0
    ) throws
        -> (matrix: Tensor, found: Int)
    {
        var wanted: [String: Int] = [:]
        for (i, w) in vocabulary.words.enumerated() { wanted[w] = i + 2 }
        let (vectors, dimension) = try read(path: path, words: wanted)
        let rows = vocabulary.count
        var values = [Float](repeating: 0, count: rows * dimension)
        var sum = 0.0, sumSquares = 0.0, n = 0.0
        for (id, vector) in vectors {
            for (j, v) in vector.enumerated() {
                values[id * dimension + j] = v
                sum += Double(v)
                sumSquares += Double(v) * Double(v)
                n += 1
            }
        }
        let mean = n > 0 ? sum / n : 0
        let std = n > 1 ? Swift.max(1e-3, (sumSquares / n - mean * mean).squareRoot()) : 0.1
        var random = SplitMix64(seed: seed)
        for id in 1..<rows where vectors[id] == nil {
            for j in 0..<dimension { values[id * dimension + j] = Float(std * random.nextNormal()) }
        }
        return (try Tensor(values, shape: [rows, dimension]), vectors.count)
    }

    /// Vectors of the words in `words` (word -> id), and the dimension. Errors name the file,
    /// the line and its byte offset.
    public static func read(path: String, words: [String: Int]) throws -> (vectors: [Int: [Float]], dimension: Int) {
        let bytes = try DataFiles.read(path, dataset: "glove")
        var vectors: [Int: [Float]] = [:]
        var dimension = 0
        try bytes.withUnsafeBufferPointer { buffer in
            let end = bytes.count
            var pos = 0
            var line = 0
            while pos < end {
                line += 1
                let lineStart = pos
                var lineEnd = pos
                while lineEnd < end && buffer[lineEnd] != 0x0A { lineEnd += 1 }
                defer { pos = lineEnd + 1 }
                var contentEnd = lineEnd
                if contentEnd > lineStart && buffer[contentEnd - 1] == 0x0D { contentEnd -= 1 }
                if contentEnd == lineStart { continue }
                var wordEnd = lineStart
                while wordEnd < contentEnd && buffer[wordEnd] != 0x20 { wordEnd += 1 }
                let word = String(decoding: UnsafeBufferPointer(rebasing: buffer[lineStart..<wordEnd]), as: UTF8.self)
                // Count fields cheaply (spaces) to check the dimension on every line.
                var fields = 0
                var k = wordEnd
                while k < contentEnd {
                    while k < contentEnd && buffer[k] == 0x20 { k += 1 }
                    if k < contentEnd { fields += 1 }
                    while k < contentEnd && buffer[k] != 0x20 { k += 1 }
                }
                if line == 1 && fields == 1, Int(word) != nil {
                    continue  // word2vec header "count dim"
                }
                if dimension == 0 {
                    guard fields > 0 else {
                        throw PluginError(
                            "glove: \(path): line \(line) at byte offset \(lineStart) has a word but no numbers")
                    }
                    dimension = fields
                }
                guard fields == dimension else {
                    throw PluginError(
                        "glove: \(path): line \(line) at byte offset \(lineStart) has \(fields) numbers, expected \(dimension) "
                            + "like the first line\(lineEnd >= end ? " (the file may be truncated)" : "")")
                }
                guard let id = words[word] else { continue }
                var vector = [Float]()
                vector.reserveCapacity(dimension)
                var p = wordEnd
                for _ in 0..<dimension {
                    while p < contentEnd && buffer[p] == 0x20 { p += 1 }
                    guard let (v, next) = DecimalNumber.parse(buffer, from: p, end: contentEnd),
                        next == contentEnd || buffer[next] == 0x20
                    else {
                        throw PluginError("glove: \(path): line \(line): the value at byte offset \(p) is not a number")
                    }
                    vector.append(Float(v))
                    p = next
                }
                if vectors[id] == nil { vectors[id] = vector }
            }
        }
        guard dimension > 0 else { throw PluginError("glove: \(path) holds no vectors") }
        return (vectors, dimension)
    }
}
