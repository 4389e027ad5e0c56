import CYAML
import FedKitBasics

/// Drives libyaml's event parser over a byte buffer and assembles the `YAMLNode` tree, enforcing
/// the rules documented on `YAMLParser` (one document, scalar unique keys, alias and depth limits).
/// libyaml's parser is iterative, so reading stops at the first event past the depth limit and
/// deep input never recurses here either.
struct TreeBuilder {
    let source: SourceText
    let fileName: String
    let limits: YAMLLimits
    let byteOffsetBase: Int

    /// An open collection.
    final class Frame {
        let isMapping: Bool
        let location: SourceLocation
        let anchor: String?
        var items: [YAMLNode] = []
        var entries: [YAMLMappingEntry] = []
        /// A key read, waiting for its value.
        var pendingKey: YAMLNode?
        /// Nodes in this subtree so far, alias expansions included.
        var count = 1
        /// keyString -> line of first occurrence, built once a mapping grows past a few keys.
        var keyLines: [String: Int]?
        /// Merge-key sources (`<<`): entries to insert at `position` in `entries`.
        var merges: [(position: Int, entries: [YAMLMappingEntry])] = []
        /// Line of this mapping's `<<` key (merge keys are not kept as entries).
        var mergeKeyLine: Int?

        init(isMapping: Bool, location: SourceLocation, anchor: String?) {
            self.isMapping = isMapping
            self.location = location
            self.anchor = anchor
        }
    }

    private var stack: [Frame] = []
    private var anchors: [String: (node: YAMLNode, count: Int)] = [:]
    private var expanded = 0
    private var root: YAMLNode?

    init(source: SourceText, fileName: String, limits: YAMLLimits, byteOffsetBase: Int) {
        self.source = source
        self.fileName = fileName
        self.limits = limits
        self.byteOffsetBase = byteOffsetBase
    }

    mutating func build() throws(ConfigError) -> YAMLNode {
        let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        let event = UnsafeMutablePointer<yaml_event_t>.allocate(capacity: 1)
        defer {
            parser.deallocate()
            event.deallocate()
        }
        guard yaml_parser_initialize(parser) != 0 else {
            throw ConfigError("\(fileName): out of memory while starting the YAML parser")
        }
        defer { yaml_parser_delete(parser) }

        let result: Result<YAMLNode, ConfigError> = source.bytes.withUnsafeBufferPointer { buffer in
            yaml_parser_set_input_string(parser, buffer.baseAddress, buffer.count)
            yaml_parser_set_encoding(parser, YAML_UTF8_ENCODING)
            var documents = 0
            while true {
                guard yaml_parser_parse(parser, event) != 0 else { return .failure(libyamlError(parser)) }
                defer { yaml_event_delete(event) }
                let e = event.pointee
                let location = self.location(e.start_mark)
                do throws(ConfigError) {
                    switch e.type.rawValue {
                    case YAML_STREAM_START_EVENT.rawValue, YAML_DOCUMENT_END_EVENT.rawValue:
                        break
                    case YAML_STREAM_END_EVENT.rawValue:
                        guard let root else { return .failure(YAMLParser.emptyFile(fileName)) }
                        return .success(root)
                    case YAML_DOCUMENT_START_EVENT.rawValue:
                        documents += 1
                        if documents > 1 {
                            throw error(
                                "a second YAML document starts here; a config file must contain exactly one document",
                                at: location)
                        }
                    case YAML_SCALAR_EVENT.rawValue:
                        let s = e.data.scalar
                        let text = String(decoding: UnsafeBufferPointer(start: s.value, count: s.length), as: UTF8.self)
                        var quoted = s.style.rawValue != YAML_PLAIN_SCALAR_STYLE.rawValue
                        if let tag = s.tag {
                            quoted =
                                try checkTag(String(cString: tag), allowed: Self.scalarTags, at: location) || quoted
                        }
                        let node = YAMLNode(kind: .scalar(text, quoted: quoted), location: location)
                        register(s.anchor.map { String(cString: $0) }, node, count: 1)
                        if stack.isEmpty, !quoted, text.isEmpty {
                            return .failure(YAMLParser.emptyFile(fileName))  // "---" alone
                        }
                        try add(node, count: 1)
                    case YAML_ALIAS_EVENT.rawValue:
                        try alias(String(cString: e.data.alias.anchor), at: location)
                    case YAML_SEQUENCE_START_EVENT.rawValue:
                        let s = e.data.sequence_start
                        if let tag = s.tag {
                            _ = try checkTag(String(cString: tag), allowed: Self.sequenceTags, at: location)
                        }
                        try open(isMapping: false, anchor: s.anchor.map { String(cString: $0) }, at: location)
                    case YAML_MAPPING_START_EVENT.rawValue:
                        let m = e.data.mapping_start
                        if let tag = m.tag {
                            _ = try checkTag(String(cString: tag), allowed: Self.mappingTags, at: location)
                        }
                        try open(isMapping: true, anchor: m.anchor.map { String(cString: $0) }, at: location)
                    case YAML_SEQUENCE_END_EVENT.rawValue, YAML_MAPPING_END_EVENT.rawValue:
                        try close()
                    default:
                        break
                    }
                } catch {
                    return .failure(error)
                }
            }
        }
        return try result.get()
    }

    // MARK: - Tree assembly

    private mutating func open(isMapping: Bool, anchor: String?, at location: SourceLocation) throws(ConfigError) {
        if let top = stack.last, top.isMapping, top.pendingKey == nil {
            throw error(
                "mapping keys must be scalars; found a \(isMapping ? "mapping" : "list") used as a key", at: location)
        }
        if stack.count >= limits.maxDepth {
            throw error("nesting deeper than \(limits.maxDepth) levels", at: location)
        }
        stack.append(Frame(isMapping: isMapping, location: location, anchor: anchor))
    }

    private mutating func close() throws(ConfigError) {
        let frame = stack.removeLast()
        let node: YAMLNode
        if frame.isMapping {
            node = YAMLNode(
                kind: .mapping(frame.merges.isEmpty ? frame.entries : applyMerges(frame)), location: frame.location)
        } else {
            node = YAMLNode(kind: .sequence(frame.items), location: frame.location)
        }
        register(frame.anchor, node, count: frame.count)
        try add(node, count: frame.count)
    }

    private mutating func register(_ anchor: String?, _ node: YAMLNode, count: Int) {
        if let anchor { anchors[anchor] = (node, count) }
    }

    /// Appends a finished node to the open collection (or makes it the root). `aliasAt` is where
    /// an alias stood when `node` is its expansion (the node itself keeps the anchor's location).
    private mutating func add(_ node: YAMLNode, count: Int, aliasAt: SourceLocation? = nil) throws(ConfigError) {
        guard let top = stack.last else {
            root = node
            return
        }
        top.count += count
        if !top.isMapping {
            top.items.append(node)
            return
        }
        if let key = top.pendingKey {
            top.pendingKey = nil
            if case .scalar("<<", quoted: false) = key.kind {
                try merge(node, into: top, keyAt: key.location, aliasAt: aliasAt)
            } else {
                top.entries.append(YAMLMappingEntry(key: key, value: node))
            }
            return
        }
        // `node` is a key.
        guard case .scalar(let keyText, _) = node.kind else {
            throw error(
                "mapping keys must be scalars; found a \(node.items != nil ? "list" : "mapping") used as a key",
                at: aliasAt ?? node.location)
        }
        if let firstLine = firstOccurrence(of: keyText, in: top) {
            throw error("duplicate key '\(keyText)' (first at line \(firstLine))", at: aliasAt ?? node.location)
        }
        if top.keyLines != nil { top.keyLines![keyText] = node.location.line }
        top.pendingKey = node
    }

    /// The line where `key` already appears in the mapping, if it does.
    private func firstOccurrence(of key: String, in frame: Frame) -> Int? {
        if let index = frame.keyLines { return index[key] }
        if frame.entries.count >= 8 {
            var index: [String: Int] = [:]
            for entry in frame.entries where index[entry.keyString] == nil {
                index[entry.keyString] = entry.key.location.line
            }
            frame.keyLines = index
            return index[key] ?? mergeKeyLine(key, in: frame)
        }
        return frame.entries.first { $0.keyString == key }?.key.location.line ?? mergeKeyLine(key, in: frame)
    }

    /// Merge keys are not kept as entries; a second `<<` is still a duplicate.
    private func mergeKeyLine(_ key: String, in frame: Frame) -> Int? {
        key == "<<" ? frame.mergeKeyLine : nil
    }

    /// Records a `<<` merge: its value must be a mapping or a list of mappings.
    private mutating func merge(
        _ value: YAMLNode, into frame: Frame, keyAt keyLocation: SourceLocation,
        aliasAt: SourceLocation?
    ) throws(ConfigError) {
        var sources: [YAMLMappingEntry] = []
        switch value.kind {
        case .mapping(let entries):
            sources = entries
        case .sequence(let items):
            for item in items {
                guard let entries = item.entries else {
                    throw error(
                        "a merge key '<<' takes a mapping or a list of mappings; this item is \(item.messageDescription)",
                        at: aliasAt ?? item.location)
                }
                sources += entries
            }
        case .scalar:
            throw error(
                "a merge key '<<' takes a mapping or a list of mappings (e.g. '<<: *defaults'), got \(value.messageDescription)",
                at: aliasAt ?? value.location)
        }
        frame.mergeKeyLine = keyLocation.line
        frame.merges.append((frame.entries.count, sources))
    }

    /// The mapping's entries with merged entries inserted where their `<<` stood. Explicit keys
    /// win over merged ones; among merged sources the first one listed wins.
    private func applyMerges(_ frame: Frame) -> [YAMLMappingEntry] {
        var seen = Set(frame.entries.map(\.keyString))
        var result: [YAMLMappingEntry] = []
        var next = 0
        for merge in frame.merges {
            result += frame.entries[next..<merge.position]
            next = merge.position
            for entry in merge.entries where !seen.contains(entry.keyString) {
                seen.insert(entry.keyString)
                result.append(entry)
            }
        }
        result += frame.entries[next...]
        return result
    }

    private mutating func alias(_ name: String, at location: SourceLocation) throws(ConfigError) {
        guard let (node, count) = anchors[name] else {
            if stack.contains(where: { $0.anchor == name }) {
                throw error(
                    "alias '*\(name)' refers to the collection that contains it (a recursive structure)", at: location)
            }
            var message = "undefined alias '*\(name)' (an anchor '&\(name)' must be defined before it is used)"
            if let guess = closestMatch(to: name, in: anchors.keys.sorted()) {
                message += "; did you mean '*\(guess)'?"
            }
            throw error(message, at: location)
        }
        expanded += count
        if expanded > limits.maxAliasExpansion {
            throw error("alias expansion exceeds \(limits.maxAliasExpansion) nodes (alias bomb?)", at: location)
        }
        try add(node, count: count, aliasAt: location)
    }

    // MARK: - Tags

    static let scalarTags: Set<String> = [
        "tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool",
        "tag:yaml.org,2002:null", "tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary",
    ]
    static let sequenceTags: Set<String> = [
        "tag:yaml.org,2002:seq", "tag:yaml.org,2002:omap", "tag:yaml.org,2002:pairs",
    ]
    static let mappingTags: Set<String> = ["tag:yaml.org,2002:map", "tag:yaml.org,2002:set"]

    /// Validates an explicit tag; returns true when it makes a scalar a string (`!!str`, `!`).
    private func checkTag(_ tag: String, allowed: Set<String>, at location: SourceLocation) throws(ConfigError) -> Bool
    {
        if allowed == Self.scalarTags, tag == "tag:yaml.org,2002:str" || tag == "!" { return true }
        if allowed.contains(tag) { return false }
        let shown = tag.hasPrefix("tag:yaml.org,2002:") ? "!!" + tag.dropFirst("tag:yaml.org,2002:".count) : tag
        throw error(
            "unsupported tag '\(shown)' (config files use plain YAML values; only '!!str' and the standard tags are accepted)",
            at: location)
    }

    // MARK: - Errors and positions

    private func location(_ mark: yaml_mark_t) -> SourceLocation {
        SourceLocation(file: fileName, line: Int(mark.line) + 1, column: Int(mark.column) + 1)
    }

    private func error(_ message: String, at location: SourceLocation) -> ConfigError {
        ConfigError(message, at: location, sourceLine: source.lineText(location.line))
    }

    /// Turns libyaml's error state into a `ConfigError`.
    private func libyamlError(_ parser: UnsafeMutablePointer<yaml_parser_t>) -> ConfigError {
        let p = parser.pointee
        let problem = p.problem.map { String(cString: $0) } ?? "invalid YAML"
        switch p.error {
        case YAML_MEMORY_ERROR:
            return ConfigError("\(fileName): out of memory while parsing YAML")
        case YAML_READER_ERROR:
            let offset = Int(p.problem_offset)
            let (line, column) = source.position(ofByte: offset)
            var message: String
            if problem.contains("control characters") {
                message =
                    "control character U+\(Hex.digits(UInt32(truncatingIfNeeded: p.problem_value), count: 4, uppercase: true)) is not allowed"
                    + " (at byte offset \(offset + byteOffsetBase)); is this a binary file?"
            } else {
                message = "invalid UTF-8: \(problem)"
                if p.problem_value >= 0 {
                    message += " 0x\(Hex.digits(UInt32(p.problem_value), count: 2, uppercase: true))"
                }
                message += " at byte offset \(offset + byteOffsetBase); the file must be UTF-8 text"
            }
            return error(message, at: SourceLocation(file: fileName, line: line, column: column))
        default:
            let at = location(p.problem_mark)
            var message = problem
            if let context = p.context.map({ String(cString: $0) }) {
                let started = location(p.context_mark)
                if started.line != at.line || started.column != at.column {
                    message += " (\(context) that started at line \(started.line), column \(started.column))"
                } else {
                    message += " (\(context))"
                }
            }
            if let hint = tabHint(at: at) { message += "; " + hint }
            return error(message, at: at)
        }
    }

    /// A hint when a syntax error is caused by a tab used for indentation.
    private func tabHint(at location: SourceLocation) -> String? {
        let hint = "tabs are not allowed for indentation in YAML; indent with spaces"
        if source.character(line: location.line, column: location.column) == "\t" { return hint }
        if let line = source.lineText(location.line), line.prefix(while: { $0 == " " || $0 == "\t" }).contains("\t") {
            return hint
        }
        return nil
    }
}
