import CJansson

/// Decodes `Decodable` values through jansson.
///
/// Duplicate object keys are rejected (a client that sends `{"ttl":"1m","ttl":"24h"}` should
/// not get whichever one a parser happens to keep); integers must fit the target type exactly.
public struct JanssonDecoder: Sendable {
    public init() {}

    public func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws(JSONError) -> T {
        try bytes.withUnsafeBufferPointer { buffer throws(JSONError) in
            try decode(type, from: UnsafeRawBufferPointer(buffer))
        }
    }

    public func decode<T: Decodable>(_ type: T.Type, from buffer: UnsafeRawBufferPointer) throws(JSONError) -> T {
        let root = try parse(buffer)
        defer { json_decref(root) }
        do {
            return try T(from: JanssonValueDecoder(value: root, codingPath: []))
        } catch let error as DecodingError {
            throw JSONError(error.callerMessage)
        } catch let error as JSONError {
            throw error
        } catch {
            throw JSONError("invalid value: \(error)")
        }
    }

    /// Parses without decoding into a type: for callers that only need to know the body is JSON.
    public func validate(_ bytes: [UInt8]) throws(JSONError) {
        let root = try bytes.withUnsafeBufferPointer { buffer throws(JSONError) in
            try parse(UnsafeRawBufferPointer(buffer))
        }
        json_decref(root)
    }

    private func parse(_ buffer: UnsafeRawBufferPointer) throws(JSONError) -> UnsafeMutablePointer<json_t> {
        var error = json_error_t()
        let flags = Int(JSON_REJECT_DUPLICATES) | Int(JSON_DECODE_ANY) | Int(JSON_ALLOW_NUL)
        let base = buffer.baseAddress?.assumingMemoryBound(to: CChar.self)
        let empty: StaticString = ""
        let root = json_loadb(base ?? UnsafeRawPointer(empty.utf8Start).assumingMemoryBound(to: CChar.self),
                              buffer.count, flags, &error)
        guard let root else {
            let text = withUnsafeBytes(of: error.text) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            throw JSONError("invalid JSON: line \(error.line) col \(error.column): \(text)")
        }
        return root
    }
}

/// Borrows every pointer below the root, which `JanssonDecoder.decode` owns for the whole call.
struct JanssonValueDecoder: Decoder {
    let value: UnsafeMutablePointer<json_t>
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard value.pointee.type == JSON_OBJECT else {
            throw mismatch([String: Int].self, value, codingPath)
        }
        return KeyedDecodingContainer(KeyedContainer<Key>(object: value, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard value.pointee.type == JSON_ARRAY else { throw mismatch([Int].self, value, codingPath) }
        return UnkeyedContainer(array: value, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer {
        SingleContainer(value: value, codingPath: codingPath)
    }

    struct SingleContainer: SingleValueDecodingContainer {
        let value: UnsafeMutablePointer<json_t>
        let codingPath: [any CodingKey]
        func decodeNil() -> Bool { value.pointee.type == JSON_NULL }
        func decode<T: Decodable>(_ type: T.Type) throws -> T { try unbox(type, value, codingPath) }
    }

    struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let object: UnsafeMutablePointer<json_t>
        let codingPath: [any CodingKey]

        var allKeys: [Key] {
            var keys: [Key] = []
            var iterator = json_object_iter(object)
            while let current = iterator {
                if let name = json_object_iter_key(current), let key = Key(stringValue: String(cString: name)) {
                    keys.append(key)
                }
                iterator = json_object_iter_next(object, current)
            }
            return keys
        }

        private func lookup(_ key: Key) -> UnsafeMutablePointer<json_t>? {
            key.stringValue.withCString { json_object_get(object, $0) }
        }

        private func require(_ key: Key) throws -> UnsafeMutablePointer<json_t> {
            guard let found = lookup(key) else {
                throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing"))
            }
            return found
        }

        func contains(_ key: Key) -> Bool { lookup(key) != nil }
        func decodeNil(forKey key: Key) throws -> Bool { (lookup(key)?.pointee.type ?? JSON_NULL) == JSON_NULL }

        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            let found = try require(key)
            let path = codingPath + [key]
            // JSONValue represents null itself; other non-optional types cannot hold it.
            if found.pointee.type == JSON_NULL, !(T.self is any ExpressibleByNilLiteral.Type), T.self != JSONValue.self {
                throw DecodingError.valueNotFound(type, .init(codingPath: path, debugDescription: "null"))
            }
            return try unbox(type, found, path)
        }

        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
            try JanssonValueDecoder(value: require(key), codingPath: codingPath + [key]).container(keyedBy: type)
        }
        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
            try JanssonValueDecoder(value: require(key), codingPath: codingPath + [key]).unkeyedContainer()
        }
        func superDecoder() throws -> any Decoder { JanssonValueDecoder(value: object, codingPath: codingPath) }
        func superDecoder(forKey key: Key) throws -> any Decoder {
            JanssonValueDecoder(value: try require(key), codingPath: codingPath + [key])
        }
    }

    struct UnkeyedContainer: UnkeyedDecodingContainer {
        let array: UnsafeMutablePointer<json_t>
        let codingPath: [any CodingKey]
        private(set) var currentIndex = 0

        init(array: UnsafeMutablePointer<json_t>, codingPath: [any CodingKey]) {
            self.array = array
            self.codingPath = codingPath
        }

        var count: Int? { json_array_size(array) }
        var isAtEnd: Bool { currentIndex >= json_array_size(array) }

        private mutating func next<T>(_ type: T.Type) throws -> (UnsafeMutablePointer<json_t>, [any CodingKey]) {
            let path = codingPath + [IndexKey(currentIndex)]
            guard !isAtEnd, let element = json_array_get(array, currentIndex) else {
                throw DecodingError.valueNotFound(type, .init(codingPath: path, debugDescription: "array too short"))
            }
            currentIndex += 1
            return (element, path)
        }

        mutating func decodeNil() throws -> Bool {
            guard !isAtEnd, let element = json_array_get(array, currentIndex) else { return false }
            if element.pointee.type == JSON_NULL { currentIndex += 1; return true }
            return false
        }
        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
            let (element, path) = try next(type)
            return try unbox(type, element, path)
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
            let (element, path) = try next([String: Int].self)
            return try JanssonValueDecoder(value: element, codingPath: path).container(keyedBy: type)
        }
        mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
            let (element, path) = try next([Int].self)
            return try JanssonValueDecoder(value: element, codingPath: path).unkeyedContainer()
        }
        mutating func superDecoder() throws -> any Decoder {
            let (element, path) = try next(Int.self)
            return JanssonValueDecoder(value: element, codingPath: path)
        }
    }
}

private func mismatch(_ type: Any.Type, _ value: UnsafeMutablePointer<json_t>, _ path: [any CodingKey]) -> DecodingError {
    .typeMismatch(type, .init(codingPath: path, debugDescription: "wrong type"))
}

private func readString(_ value: UnsafeMutablePointer<json_t>) -> String {
    let length = json_string_length(value)
    guard length > 0, let chars = json_string_value(value) else { return "" }
    return String(decoding: UnsafeRawBufferPointer(start: chars, count: length), as: UTF8.self)
}

private func readInteger<I: FixedWidthInteger>(_ type: I.Type, _ value: UnsafeMutablePointer<json_t>, _ path: [any CodingKey]) throws -> I {
    if value.pointee.type == JSON_INTEGER, let exact = I(exactly: json_integer_value(value)) { return exact }
    // 1e3 or 2.0 are integers written as reals; accept them only when exact.
    if value.pointee.type == JSON_REAL, let exact = I(exactly: json_real_value(value)) { return exact }
    if value.pointee.type == JSON_INTEGER || value.pointee.type == JSON_REAL {
        throw DecodingError.dataCorrupted(.init(codingPath: path, debugDescription: "number out of range for \(I.self)"))
    }
    throw mismatch(type, value, path)
}

/// Turns one jansson value into `T`, with fast paths for the scalar types.
func unbox<T: Decodable>(_ type: T.Type, _ value: UnsafeMutablePointer<json_t>, _ path: [any CodingKey]) throws -> T {
    // Metatype comparisons instead of `is`/`as` casts: the runtime's dynamic casts were a
    // measurable share of a small request.
    let kind = value.pointee.type
    if type == String.self {
        guard kind == JSON_STRING else { throw mismatch(type, value, path) }
        return unsafeBitCast(readString(value), to: T.self)
    }
    if type == Bool.self {
        guard kind == JSON_TRUE || kind == JSON_FALSE else { throw mismatch(type, value, path) }
        return unsafeBitCast(kind == JSON_TRUE, to: T.self)
    }
    if type == Double.self || type == Float.self {
        let number: Double
        if kind == JSON_REAL { number = json_real_value(value) }
        else if kind == JSON_INTEGER { number = Double(json_integer_value(value)) }
        else { throw mismatch(type, value, path) }
        return type == Float.self ? unsafeBitCast(Float(number), to: T.self) : unsafeBitCast(number, to: T.self)
    }
    if type == Int.self { return unsafeBitCast(try readInteger(Int.self, value, path), to: T.self) }
    if type == Int64.self { return unsafeBitCast(try readInteger(Int64.self, value, path), to: T.self) }
    if type == Int32.self { return unsafeBitCast(try readInteger(Int32.self, value, path), to: T.self) }
    if type == Int16.self { return unsafeBitCast(try readInteger(Int16.self, value, path), to: T.self) }
    if type == Int8.self { return unsafeBitCast(try readInteger(Int8.self, value, path), to: T.self) }
    if type == UInt.self { return unsafeBitCast(try readInteger(UInt.self, value, path), to: T.self) }
    if type == UInt64.self { return unsafeBitCast(try readInteger(UInt64.self, value, path), to: T.self) }
    if type == UInt32.self { return unsafeBitCast(try readInteger(UInt32.self, value, path), to: T.self) }
    if type == UInt16.self { return unsafeBitCast(try readInteger(UInt16.self, value, path), to: T.self) }
    if type == UInt8.self { return unsafeBitCast(try readInteger(UInt8.self, value, path), to: T.self) }
    return try T(from: JanssonValueDecoder(value: value, codingPath: path))
}
