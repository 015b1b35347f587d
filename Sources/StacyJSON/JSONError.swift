/// Why a JSON document could not be read or written. The message is safe to show to an API
/// caller: it names the position or the field, never internal state.
public struct JSONError: Error, Sendable, CustomStringConvertible, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension CodingKey {
    fileprivate var pathComponent: String {
        if let index = intValue, stringValue.hasPrefix("Index ") { return "[\(index)]" }
        return stringValue
    }
}

/// "a.b[2].c" for a coding path, so a caller sees which field was wrong.
func renderPath(_ path: [any CodingKey]) -> String {
    var out = ""
    for key in path {
        let part = key.pathComponent
        if part.hasPrefix("[") { out += part } else { out += out.isEmpty ? part : "." + part }
    }
    return out
}

extension DecodingError {
    /// A caller-facing sentence for a decoding failure.
    var callerMessage: String {
        switch self {
        case .typeMismatch(let type, let context):
            let field = renderPath(context.codingPath)
            return "field '\(field)': expected \(describe(type))"
        case .valueNotFound(let type, let context):
            let field = renderPath(context.codingPath)
            return "field '\(field)': expected \(describe(type)), got null"
        case .keyNotFound(let key, let context):
            let parent = renderPath(context.codingPath)
            let name = parent.isEmpty ? key.stringValue : parent + "." + key.stringValue
            return "missing field '\(name)'"
        case .dataCorrupted(let context):
            let field = renderPath(context.codingPath)
            return field.isEmpty ? context.debugDescription : "field '\(field)': \(context.debugDescription)"
        @unknown default:
            return "invalid JSON"
        }
    }
}

private func describe(_ type: Any.Type) -> String {
    switch type {
    case is String.Type: return "string"
    case is Bool.Type: return "boolean"
    case is Double.Type, is Float.Type: return "number"
    case is any BinaryInteger.Type: return "integer"
    default:
        let name = String(describing: type)
        if name.hasPrefix("Array") { return "array" }
        if name.hasPrefix("Dictionary") { return "object" }
        return "object"
    }
}
