import Foundation
import Yams

/// A parsed document before typing: YAML and JSON both become this, so the rest of the
/// loader does not care which format the file was in.
indirect enum RawNode: Sendable {
    case null
    case scalar(String)
    case list([RawNode])
    case map([(String, RawNode)])
}

enum RawParser {
    /// YAML through Yams' node API (keeps key order and tells `null` from `""`).
    static func parseYAML(_ text: String) throws(ConfigError) -> RawNode {
        let node: Node?
        do {
            node = try Yams.compose(yaml: text)
        } catch {
            throw ConfigError("invalid YAML: \(error)")
        }
        guard let node else { return .null }
        return try convert(node)
    }

    private static func convert(_ node: Node) throws(ConfigError) -> RawNode {
        switch node {
        case .scalar(let scalar):
            if node.tag.rawValue == Tag.Name.null.rawValue { return .null }
            return .scalar(scalar.string)
        case .sequence(let seq):
            var items: [RawNode] = []
            for item in seq { items.append(try convert(item)) }
            return .list(items)
        case .mapping(let mapping):
            var pairs: [(String, RawNode)] = []
            var seen = Set<String>()
            for (key, value) in mapping {
                guard case .scalar(let k) = key else { throw ConfigError("invalid YAML: map keys must be scalars") }
                guard seen.insert(k.string).inserted else { throw ConfigError("invalid YAML: duplicate key \"\(k.string)\"") }
                pairs.append((k.string, try convert(value)))
            }
            return .map(pairs)
        case .alias:
            throw ConfigError("invalid YAML: aliases are not supported")
        }
    }

    /// Strict JSON (for `.json` files, env maps and lists of maps).
    static func parseJSON(_ text: String) throws(ConfigError) -> RawNode {
        do {
            return try JSONDecoder().decode(JSONTree.self, from: Data(text.utf8)).raw
        } catch {
            throw ConfigError("invalid JSON: \(describe(error))")
        }
    }

    private static func describe(_ error: any Error) -> String {
        if case DecodingError.dataCorrupted(let ctx) = error {
            return (ctx.underlyingError as NSError?)?.localizedDescription ?? ctx.debugDescription
        }
        return "\(error)"
    }
}

/// Decodes any JSON value. Order matters: Bool before numbers, integers before doubles,
/// so `true` stays `true` and `7423` stays `7423` (not `7423.0`).
private struct JSONTree: Decodable {
    let raw: RawNode

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        if let container = try? decoder.container(keyedBy: Key.self) {
            var pairs: [(String, RawNode)] = []
            for key in container.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) {
                pairs.append((key.stringValue, try container.decode(JSONTree.self, forKey: key).raw))
            }
            raw = .map(pairs)
            return
        }
        if var container = try? decoder.unkeyedContainer() {
            var items: [RawNode] = []
            while !container.isAtEnd { items.append(try container.decode(JSONTree.self).raw) }
            raw = .list(items)
            return
        }
        let single = try decoder.singleValueContainer()
        if single.decodeNil() {
            raw = .null
        } else if let b = try? single.decode(Bool.self) {
            raw = .scalar(b ? "true" : "false")
        } else if let s = try? single.decode(String.self) {
            raw = .scalar(s)
        } else if let i = try? single.decode(Int64.self) {
            raw = .scalar(String(i))
        } else {
            raw = .scalar(String(try single.decode(Double.self)))
        }
    }
}

// MARK: - Typing

/// Turns raw input into a key's typed value. `nil` with no message means "not set"
/// (a YAML null), so the lower layer (or the default) stays in force.
enum Typer {
    enum Outcome {
        case value(ConfigValue)
        case unset
        case problem(String)
    }

    /// From a file node.
    static func type(_ node: RawNode, as type: ConfigValueType) -> Outcome {
        if case .null = node { return .unset }
        switch type {
        case .string, .int, .double, .bool, .duration:
            guard case .scalar(let text) = node else { return .problem("expected \(type.noun)") }
            return scalar(text, as: type)
        case .stringList, .intList:
            guard case .list(let items) = node else { return .problem("expected \(type.noun)") }
            var strings: [String] = []
            for item in items {
                guard case .scalar(let text) = item else { return .problem("expected \(type.noun)") }
                strings.append(text)
            }
            return list(strings, as: type)
        case .stringMap:
            guard case .map(let pairs) = node else { return .problem("expected \(type.noun)") }
            var out: [String: String] = [:]
            for (k, v) in pairs {
                guard case .scalar(let text) = v else { return .problem("expected \(type.noun) (value of \"\(k)\")") }
                out[k] = text
            }
            return .value(.map(out))
        case .records:
            guard case .list(let items) = node else { return .problem("expected \(type.noun)") }
            var out: [[String: String]] = []
            for item in items {
                guard case .map(let pairs) = item else { return .problem("expected \(type.noun)") }
                var record: [String: String] = [:]
                for (k, v) in pairs {
                    if case .null = v { continue }
                    guard case .scalar(let text) = v else { return .problem("expected \(type.noun) of strings") }
                    record[k] = text
                }
                out.append(record)
            }
            return .value(.records(out))
        }
    }

    /// From an env var or flag: scalars as written, lists comma-separated, maps and
    /// records as JSON.
    static func type(text: String, as type: ConfigValueType) -> Outcome {
        switch type {
        case .string, .int, .double, .bool, .duration:
            return scalar(text, as: type)
        case .stringList, .intList:
            let items = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            return list(items, as: type)
        case .stringMap, .records:
            if text.trimmingCharacters(in: .whitespaces).isEmpty {
                return .value(type == .stringMap ? .map([:]) : .records([]))
            }
            do {
                return self.type(try RawParser.parseJSON(text), as: type)
            } catch {
                return .problem("expected a JSON \(type == .stringMap ? "object" : "array of objects"): \(error.message)")
            }
        }
    }

    private static func list(_ items: [String], as type: ConfigValueType) -> Outcome {
        if type == .stringList { return .value(.list(items)) }
        var ints: [Int] = []
        for item in items {
            guard let n = parseInt(item) else { return .problem("expected \(type.noun), got \"\(item)\"") }
            ints.append(n)
        }
        return .value(.intList(ints))
    }

    private static func scalar(_ text: String, as type: ConfigValueType) -> Outcome {
        switch type {
        case .string:
            return .value(.string(text))
        case .int:
            guard let n = parseInt(text) else { return .problem("expected \(type.noun), got \"\(text)\"") }
            return .value(.int(n))
        case .double:
            guard let n = Double(text.trimmingCharacters(in: .whitespaces)), n.isFinite else {
                return .problem("expected \(type.noun), got \"\(text)\"")
            }
            return .value(.double(n))
        case .bool:
            switch text.trimmingCharacters(in: .whitespaces).lowercased() {
            case "true", "yes", "on", "1": return .value(.bool(true))
            case "false", "no", "off", "0": return .value(.bool(false))
            default: return .problem("expected \(type.noun), got \"\(text)\"")
            }
        case .duration:
            do {
                return .value(.duration(try GoDuration.parse(text.trimmingCharacters(in: .whitespaces))))
            } catch {
                return .problem("\(error.message) (expected \(type.noun))")
            }
        default:
            return .problem("expected \(type.noun)")
        }
    }

    /// Decimal integers only (with an optional sign), so `0x10`, `1e3` and `1.0` are
    /// rejected rather than silently reinterpreted.
    static func parseInt(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: .whitespaces)
        var digits = Substring(t)
        if digits.hasPrefix("-") || digits.hasPrefix("+") { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        return Int(t.hasPrefix("+") ? String(t.dropFirst()) : t)
    }
}
