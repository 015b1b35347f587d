import Foundation

extension LoadedConfig {
    /// The effective configuration for `config show`: every key that has a value, nested
    /// by its dotted path, in key-table order. Unset optional keys are omitted.
    ///
    /// - `json: false` → YAML (two-space indent). `json: true` → compact JSON, `/` unescaped.
    /// - Secrets (`auth.api_key`, `auth.admin_api_key`, `auth.worker_token`, `database.dsn`, …)
    ///   print as `"***"` unless `showSecrets`. `_file` paths and `_sha256` hashes are shown.
    /// - `sources: true` marks each value's origin (`default`, `file`, `env`, `flag`):
    ///   in YAML as a trailing comment, `port: 7423  # env` (for a list or map, on its key's
    ///   line); in JSON each value becomes `{"value":…,"source":"env"}`.
    /// Durations print in Go form (`30m0s`); sizes as integers.
    public func render(json: Bool, showSecrets: Bool, sources: Bool) -> String {
        let tree = RenderTree.build(config)
        var out = ""
        if json {
            out = RenderTree.json(tree, config: config, showSecrets: showSecrets, sources: sources)
        } else {
            RenderTree.yaml(tree, config: config, showSecrets: showSecrets, sources: sources, indent: 0, into: &out)
        }
        return out
    }
}

private final class RenderTree {
    var children: [(name: String, leaf: ConfigKey?, branch: RenderTree?)] = []

    static func build(_ config: Config) -> RenderTree {
        let root = RenderTree()
        for entry in KeyTable.all where config.value(entry.key) != nil {
            var node = root
            let parts = entry.key.split(separator: ".").map(String.init)
            for part in parts.dropLast() {
                if let existing = node.children.first(where: { $0.name == part })?.branch {
                    node = existing
                } else {
                    let branch = RenderTree()
                    node.children.append((part, nil, branch))
                    node = branch
                }
            }
            node.children.append((parts.last!, entry, nil))
        }
        return root
    }

    private static func shown(_ entry: ConfigKey, _ config: Config, _ showSecrets: Bool) -> ConfigValue {
        let value = config.value(entry.key)!
        return entry.secret && !showSecrets ? .string("***") : value
    }

    // MARK: YAML

    static func yaml(_ tree: RenderTree, config: Config, showSecrets: Bool, sources: Bool, indent: Int,
                     into out: inout String) {
        let pad = String(repeating: " ", count: indent)
        for child in tree.children {
            let name = yamlScalar(child.name)
            if let branch = child.branch {
                out += "\(pad)\(name):\n"
                yaml(branch, config: config, showSecrets: showSecrets, sources: sources, indent: indent + 2, into: &out)
                continue
            }
            let entry = child.leaf!
            let comment = sources ? "  # \(config.source(entry.key)?.rawValue ?? "default")" : ""
            let value = shown(entry, config, showSecrets)
            switch value {
            case .list(let items) where !items.isEmpty:
                out += "\(pad)\(name):\(comment)\n"
                for item in items { out += "\(pad)  - \(yamlScalar(item))\n" }
            case .intList(let items) where !items.isEmpty:
                out += "\(pad)\(name):\(comment)\n"
                for item in items { out += "\(pad)  - \(item)\n" }
            case .map(let m) where !m.isEmpty:
                out += "\(pad)\(name):\(comment)\n"
                for k in m.keys.sorted() { out += "\(pad)  \(yamlScalar(k)): \(yamlScalar(m[k]!))\n" }
            case .records(let records) where !records.isEmpty:
                out += "\(pad)\(name):\(comment)\n"
                for record in records {
                    var first = true
                    for k in record.keys.sorted() {
                        out += "\(pad)  \(first ? "- " : "  ")\(yamlScalar(k)): \(yamlScalar(record[k]!))\n"
                        first = false
                    }
                    if first { out += "\(pad)  - {}\n" }
                }
            default:
                out += "\(pad)\(name): \(yamlInline(value))\(comment)\n"
            }
        }
    }

    private static func yamlInline(_ value: ConfigValue) -> String {
        switch value {
        case .string(let s): return yamlScalar(s)
        case .int(let i): return String(i)
        case .double(let d): return formatDouble(d)
        case .bool(let b): return b ? "true" : "false"
        case .duration(let d): return yamlScalar(d.description)
        case .list, .intList, .records: return "[]"
        case .map: return "{}"
        }
    }

    /// Plain when YAML would read it back as the same string; otherwise double-quoted
    /// (JSON escapes are valid YAML double-quoted escapes).
    static func yamlScalar(_ s: String) -> String {
        let reserved: Set<String> = ["true", "false", "yes", "no", "on", "off", "y", "n", "null", "~"]
        let safe = !s.isEmpty
            && s.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "_./@+-:".unicodeScalars.contains($0)) }
            && s.unicodeScalars.first.map { CharacterSet.letters.contains($0) || CharacterSet.decimalDigits.contains($0) || $0 == "/" } == true
            && !reserved.contains(s.lowercased())
            && Double(s) == nil
        // Starting with a digit: only with a letter inside and no ':' (durations such as
        // `30m0s`), so numbers, dotted quads, sexagesimals and 0x/0o forms get quoted.
        let digitOK = s.first.map { !$0.isNumber } ?? true
            || (s.contains(where: { $0.isLetter }) && !s.contains(":")
                && !["0x", "0o", "0b"].contains(where: { s.lowercased().hasPrefix($0) }))
        return safe && digitOK ? s : jsonString(s)
    }

    // MARK: JSON

    static func json(_ tree: RenderTree, config: Config, showSecrets: Bool, sources: Bool) -> String {
        var parts: [String] = []
        for child in tree.children {
            let rendered: String
            if let branch = child.branch {
                rendered = json(branch, config: config, showSecrets: showSecrets, sources: sources)
            } else {
                let entry = child.leaf!
                let value = jsonValue(shown(entry, config, showSecrets))
                rendered = sources
                    ? "{\"value\":\(value),\"source\":\"\(config.source(entry.key)?.rawValue ?? "default")\"}"
                    : value
            }
            parts.append("\(jsonString(child.name)):\(rendered)")
        }
        return "{" + parts.joined(separator: ",") + "}"
    }

    private static func jsonValue(_ value: ConfigValue) -> String {
        func object(_ m: [String: String]) -> String {
            "{" + m.keys.sorted().map { "\(jsonString($0)):\(jsonString(m[$0]!))" }.joined(separator: ",") + "}"
        }
        switch value {
        case .string(let s): return jsonString(s)
        case .int(let i): return String(i)
        case .double(let d): return formatDouble(d)
        case .bool(let b): return b ? "true" : "false"
        case .duration(let d): return jsonString(d.description)
        case .list(let l): return "[" + l.map(jsonString).joined(separator: ",") + "]"
        case .intList(let l): return "[" + l.map(String.init).joined(separator: ",") + "]"
        case .map(let m): return object(m)
        case .records(let r): return "[" + r.map(object).joined(separator: ",") + "]"
        }
    }
}

/// Integral values without a fraction (`8`), others as Swift prints them (`1.5`).
private func formatDouble(_ d: Double) -> String {
    if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
    return String(d)
}

/// A JSON string literal: `"` and `\` escaped, control characters as escapes, `/` and
/// non-ASCII left as they are (README §4).
func jsonString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\u{08}": out += "\\b"
        case "\u{0C}": out += "\\f"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F {
                out += String(format: "\\u%04x", scalar.value)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}

/// YAML form of one string scalar (plain when safe, else double-quoted).
func yamlScalar(_ s: String) -> String { RenderTree.yamlScalar(s) }
