import CJansson
#if canImport(Glibc)
import Glibc
#endif

/// Encodes `Encodable` values through jansson.
///
/// Output is always compact, keeps keys in the order the type encodes them, never escapes `/`
/// and keeps integers as integers (spec README §4). Optionals encoded with `encodeIfPresent`
/// (what synthesized conformances do) are omitted when nil.
public struct JanssonEncoder: Sendable {
    public init() {}

    /// The document as bytes.
    public func encode<T: Encodable>(_ value: T) throws(JSONError) -> [UInt8] {
        let (pointer, count) = try encodeMalloced(value)
        defer { free(pointer) }
        return [UInt8](UnsafeRawBufferPointer(start: pointer, count: count))
    }

    /// The document in a `malloc`ed, NUL-terminated buffer that the caller must `free` (or hand
    /// to libmicrohttpd with `RESPMEM_MUST_FREE`, which avoids one copy per response).
    public func encodeMalloced<T: Encodable>(_ value: T) throws(JSONError) -> (UnsafeMutablePointer<CChar>, Int) {
        let root: UnsafeMutablePointer<json_t>
        do {
            root = try box(value, codingPath: [])
        } catch let error as EncodingError {
            throw JSONError(encodingMessage(error))
        } catch {
            throw JSONError("cannot encode value: \(error)")
        }
        defer { json_decref(root) }
        // JSON_COMPACT only: JSON_ESCAPE_SLASH would break byte-for-byte expectations, and
        // insertion order is kept by jansson 2.14 without JSON_PRESERVE_ORDER.
        guard let dumped = json_dumps(root, Int(JSON_COMPACT) | Int(JSON_ENCODE_ANY)) else {
            throw JSONError("cannot encode value")
        }
        return (dumped, strlen(dumped))
    }
}

private func encodingMessage(_ error: EncodingError) -> String {
    switch error {
    case .invalidValue(_, let context):
        let path = renderPath(context.codingPath)
        return path.isEmpty ? context.debugDescription : "field '\(path)': \(context.debugDescription)"
    @unknown default:
        return "cannot encode value"
    }
}

/// Turns one value into a new jansson value (+1 reference owned by the caller).
func box<T: Encodable>(_ value: T, codingPath: [any CodingKey]) throws -> UnsafeMutablePointer<json_t> {
    // Fast paths. Every integer and floating type must be listed: their `encode(to:)` calls
    // `singleValueContainer().encode(self)`, which would land back here through the generic
    // overload and recurse forever.
    // Metatype comparisons are pointer compares; `as` casts would go through the runtime's
    // dynamic cast machinery for every value (measured: ~2 % of a /health request).
    let type = T.self
    if type == String.self { return makeString(unsafeBitCast(value, to: String.self)) }
    if type == Int.self { return json_integer(json_int_t(unsafeBitCast(value, to: Int.self))) }
    if type == Bool.self { return unsafeBitCast(value, to: Bool.self) ? json_true() : json_false() }
    if type == Double.self { return try makeReal(unsafeBitCast(value, to: Double.self), codingPath) }
    if type == Int64.self { return json_integer(unsafeBitCast(value, to: Int64.self)) }
    if type == Int32.self { return json_integer(json_int_t(unsafeBitCast(value, to: Int32.self))) }
    if type == Int16.self { return json_integer(json_int_t(unsafeBitCast(value, to: Int16.self))) }
    if type == Int8.self { return json_integer(json_int_t(unsafeBitCast(value, to: Int8.self))) }
    if type == UInt.self { return try makeUnsigned(UInt64(unsafeBitCast(value, to: UInt.self)), codingPath) }
    if type == UInt64.self { return try makeUnsigned(unsafeBitCast(value, to: UInt64.self), codingPath) }
    if type == UInt32.self { return json_integer(json_int_t(unsafeBitCast(value, to: UInt32.self))) }
    if type == UInt16.self { return json_integer(json_int_t(unsafeBitCast(value, to: UInt16.self))) }
    if type == UInt8.self { return json_integer(json_int_t(unsafeBitCast(value, to: UInt8.self))) }
    if type == Float.self { return try makeReal(Double(unsafeBitCast(value, to: Float.self)), codingPath) }
    let encoder = JanssonValueEncoder(codingPath: codingPath)
    try value.encode(to: encoder)
    return encoder.takeRoot()
}
func makeString(_ s: String) -> UnsafeMutablePointer<json_t> {
    var copy = s
    // Swift strings are valid UTF-8, so the unchecked constructor is safe; it also keeps NULs.
    let made = copy.withUTF8 { buffer -> UnsafeMutablePointer<json_t>? in
        guard let base = buffer.baseAddress, buffer.count > 0 else { return json_string("") }
        return base.withMemoryRebound(to: CChar.self, capacity: buffer.count) {
            json_stringn_nocheck($0, buffer.count)
        }
    }
    return made!
}

private func makeUnsigned(_ v: UInt64, _ path: [any CodingKey]) throws -> UnsafeMutablePointer<json_t> {
    guard v <= UInt64(Int64.max) else {
        throw EncodingError.invalidValue(v, .init(codingPath: path, debugDescription: "integer \(v) is too large for JSON"))
    }
    return json_integer(json_int_t(v))
}

private func makeReal(_ v: Double, _ path: [any CodingKey]) throws -> UnsafeMutablePointer<json_t> {
    guard v.isFinite, let real = json_real(v) else {
        throw EncodingError.invalidValue(v, .init(codingPath: path, debugDescription: "\(v) is not a valid JSON number"))
    }
    return real
}

/// The `Encoder` handed to `encode(to:)`. It owns its root until `takeRoot()`.
final class JanssonValueEncoder: Encoder {
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    private(set) var root: UnsafeMutablePointer<json_t>?

    init(codingPath: [any CodingKey]) { self.codingPath = codingPath }

    deinit { if let root { json_decref(root) } }

    /// Hands over the root (+1). A type that asked for no container encodes as `{}`.
    func takeRoot() -> UnsafeMutablePointer<json_t> {
        defer { root = nil }
        return root ?? json_object()
    }

    private func setRoot(_ value: UnsafeMutablePointer<json_t>) {
        if let old = root { json_decref(old) }
        root = value
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if root == nil || root!.pointee.type != JSON_OBJECT { setRoot(json_object()) }
        return KeyedEncodingContainer(KeyedContainer<Key>(object: root!, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if root == nil || root!.pointee.type != JSON_ARRAY { setRoot(json_array()) }
        return UnkeyedContainer(array: root!, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleContainer(encoder: self) }

    struct SingleContainer: SingleValueEncodingContainer {
        let encoder: JanssonValueEncoder
        var codingPath: [any CodingKey] { encoder.codingPath }
        mutating func encodeNil() throws { encoder.setRoot(json_null()) }
        mutating func encode<T: Encodable>(_ value: T) throws {
            encoder.setRoot(try box(value, codingPath: codingPath))
        }
    }

    /// Borrows `object` from the parent, which keeps it alive for the whole encode call.
    struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let object: UnsafeMutablePointer<json_t>
        let codingPath: [any CodingKey]

        private func set(_ key: Key, _ value: UnsafeMutablePointer<json_t>) {
            key.stringValue.withCString { _ = json_object_set_new_nocheck(object, $0, value) }
        }
        mutating func encodeNil(forKey key: Key) throws { set(key, json_null()) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            set(key, try box(value, codingPath: codingPath + [key]))
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            let child = json_object()!
            set(key, child)
            return KeyedEncodingContainer(KeyedContainer<NestedKey>(object: child, codingPath: codingPath + [key]))
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
            let child = json_array()!
            set(key, child)
            return UnkeyedContainer(array: child, codingPath: codingPath + [key])
        }
        // Class-inheritance encoding is not used by any wire type; failing loudly beats
        // silently dropping the superclass's fields.
        mutating func superEncoder() -> any Encoder { preconditionFailure("superEncoder is not supported") }
        mutating func superEncoder(forKey key: Key) -> any Encoder { preconditionFailure("superEncoder is not supported") }
    }

    struct UnkeyedContainer: UnkeyedEncodingContainer {
        let array: UnsafeMutablePointer<json_t>
        let codingPath: [any CodingKey]
        var count: Int { json_array_size(array) }

        private func nextPath() -> [any CodingKey] { codingPath + [IndexKey(count)] }
        mutating func encodeNil() throws { json_array_append_new(array, json_null()) }
        mutating func encode<T: Encodable>(_ value: T) throws {
            json_array_append_new(array, try box(value, codingPath: nextPath()))
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            let path = nextPath()
            let child = json_object()!
            json_array_append_new(array, child)
            return KeyedEncodingContainer(KeyedContainer<NestedKey>(object: child, codingPath: path))
        }
        mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
            let path = nextPath()
            let child = json_array()!
            json_array_append_new(array, child)
            return UnkeyedContainer(array: child, codingPath: path)
        }
        mutating func superEncoder() -> any Encoder { preconditionFailure("superEncoder is not supported") }
    }
}

struct IndexKey: CodingKey {
    let intValue: Int?
    let stringValue: String
    init(_ index: Int) { intValue = index; stringValue = "Index \(index)" }
    init?(intValue: Int) { self.init(intValue) }
    init?(stringValue: String) { return nil }
}
