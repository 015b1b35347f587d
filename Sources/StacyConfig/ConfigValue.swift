/// The type a key of the table holds; decides how file, env and flag input is parsed.
public enum ConfigValueType: String, Sendable {
    case string, int, double, bool, duration
    /// YAML/JSON list of strings; env/flag: comma-separated.
    case stringList
    /// YAML/JSON list of integers; env/flag: comma-separated.
    case intList
    /// YAML/JSON map of string → string; env/flag: a JSON object.
    case stringMap
    /// List of string maps (`auth.api_keys`); env/flag: a JSON array of objects.
    case records

    var noun: String {
        switch self {
        case .string: return "a string"
        case .int: return "an integer"
        case .double: return "a number"
        case .bool: return "a boolean (true or false)"
        case .duration: return "a Go duration such as 10s, 1m30s or 2h"
        case .stringList: return "a list of strings"
        case .intList: return "a list of integers"
        case .stringMap: return "a map of strings"
        case .records: return "a list of maps"
        }
    }
}

/// A typed effective value.
public enum ConfigValue: Sendable, Hashable, CustomStringConvertible {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case duration(GoDuration)
    case list([String])
    case intList([Int])
    case map([String: String])
    case records([[String: String]])

    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }
    public var intValue: Int? { if case .int(let i) = self { return i }; return nil }
    public var doubleValue: Double? {
        switch self {
        case .double(let d): return d
        case .int(let i): return Double(i)
        default: return nil
        }
    }
    public var boolValue: Bool? { if case .bool(let b) = self { return b }; return nil }
    public var durationValue: GoDuration? { if case .duration(let d) = self { return d }; return nil }
    public var listValue: [String]? { if case .list(let l) = self { return l }; return nil }
    public var intListValue: [Int]? { if case .intList(let l) = self { return l }; return nil }
    public var mapValue: [String: String]? { if case .map(let m) = self { return m }; return nil }
    public var recordsValue: [[String: String]]? { if case .records(let r) = self { return r }; return nil }

    /// Human form used in messages (lists comma-joined, durations Go-formatted).
    public var description: String {
        switch self {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .double(let d): return String(d)
        case .bool(let b): return String(b)
        case .duration(let d): return d.description
        case .list(let l): return l.joined(separator: ",")
        case .intList(let l): return l.map(String.init).joined(separator: ",")
        case .map(let m): return m.keys.sorted().map { "\($0)=\(m[$0]!)" }.joined(separator: ",")
        case .records(let r): return "\(r.count) entries"
        }
    }
}
