import XCTest
@testable import StacyJSON

private struct Address: Codable, Equatable {
    var street: String
    var city: String
}

private struct Order: Codable, Equatable {
    var id: String
    var quantity: Int
    var small: Int8
    var unsigned: UInt16
    var minimum: Int64
    var price: Double
    var ratio: Float
    var paid: Bool
    var note: String?
    var tags: [String]
    var matrix: [[Int]]
    var address: Address
    var limits: [String: Int]
}

private enum Color: String, Codable { case red, green }

private struct Ordered: Codable { var zeta = 1; var alpha = 2; var mid = 3 }

private func encodeText<T: Encodable>(_ value: T) throws -> String {
    String(decoding: try JanssonEncoder().encode(value), as: UTF8.self)
}

private func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
    try JanssonDecoder().decode(type, from: Array(text.utf8))
}

final class JanssonCodecTests: XCTestCase {
    private let sample = Order(id: "o-1", quantity: 3, small: -8, unsigned: 65535, minimum: Int64.min, price: 19.5,
                               ratio: 0.25, paid: true, note: nil, tags: ["a", "b"], matrix: [[1, 2], [], [3]],
                               address: Address(street: "Main St 1", city: "Zürich"), limits: ["cpu": 2])

    func testRoundTripKeepsEveryValue() throws {
        let bytes = try JanssonEncoder().encode(sample)
        XCTAssertEqual(try JanssonDecoder().decode(Order.self, from: bytes), sample)
    }

    func testOutputIsCompactOrderedAndOmitsNilOptionals() throws {
        XCTAssertEqual(try encodeText(Ordered()), #"{"zeta":1,"alpha":2,"mid":3}"#)
        let text = try encodeText(sample)
        XCTAssertFalse(text.contains(" :") || text.contains(": ") || text.contains(", "), text)
        XCTAssertFalse(text.contains("\"note\""), "nil optionals are omitted: \(text)")
        XCTAssertTrue(text.hasPrefix(#"{"id":"o-1","quantity":3,"small":-8,"unsigned":65535,"minimum":-9223372036854775808,"#), text)
    }

    func testSlashesAreNeverEscaped() throws {
        XCTAssertEqual(try encodeText(["url": "https://example.test/a/b"]), #"{"url":"https://example.test/a/b"}"#)
    }

    func testIntegersStayIntegers() throws {
        XCTAssertEqual(try encodeText([1, 2, 3]), "[1,2,3]")
        XCTAssertEqual(try encodeText(["big": Int64.max]), #"{"big":9223372036854775807}"#)
        XCTAssertEqual(try decode(JSONValue.self, "[1, 2.5]"), .array([.int(1), .double(2.5)]))
    }

    func testUnicodeRoundTrips() throws {
        let text = "héllo 世界 🚀 \u{0} tab\t quote\" backslash\\ newline\n"
        let encoded = try encodeText([text])
        XCTAssertTrue(encoded.contains("世界 🚀"), "UTF-8 is written raw, not \\u-escaped: \(encoded)")
        XCTAssertTrue(encoded.contains(#"\u0000"#))
        XCTAssertEqual(try decode([String].self, encoded), [text])
        XCTAssertEqual(try decode([String].self, #"["\u00e9\ud83d\ude80"]"#), ["é🚀"])
        XCTAssertEqual(try encodeText([""]), #"[""]"#)
    }

    func testScalarsEnumsSetsAndNestedContainers() throws {
        XCTAssertEqual(try encodeText(Color.green), #""green""#)
        XCTAssertEqual(try decode(Color.self, #""red""#), .red)
        XCTAssertEqual(try decode(Set<Int>.self, "[3,1,2]"), [1, 2, 3])
        XCTAssertEqual(try decode([String: Double].self, #"{"a":1,"b":2.5}"#), ["a": 1, "b": 2.5])
        XCTAssertEqual(try encodeText(Optional<Int>.none), "null")
    }

    func testMalformedJSONNamesThePosition() {
        XCTAssertThrowsError(try decode(Address.self, #"{"street":"a",}"#)) { error in
            let message = (error as! JSONError).message
            XCTAssertTrue(message.hasPrefix("invalid JSON: line 1 col"), message)
        }
        XCTAssertThrowsError(try decode(Address.self, #"{"street":"a","ci"#)) { error in
            XCTAssertTrue((error as! JSONError).message.contains("invalid JSON"))
        }
        XCTAssertThrowsError(try decode(Address.self, "")) { error in
            XCTAssertTrue((error as! JSONError).message.contains("invalid JSON"))
        }
    }

    func testDuplicateKeysAreRejected() {
        XCTAssertThrowsError(try decode([String: Int].self, #"{"a":1,"a":2}"#)) { error in
            XCTAssertTrue((error as! JSONError).message.contains("duplicate"), "\(error)")
        }
    }

    func testHugeNumbersAreErrorsNotWraparound() {
        XCTAssertThrowsError(try decode([Int].self, "[18446744073709551616]")) { error in
            XCTAssertTrue((error as! JSONError).message.contains("too big"), "\(error)")
        }
        XCTAssertThrowsError(try decode([Double].self, "[1e400]"))
        XCTAssertThrowsError(try decode([Int8].self, "[300]")) { error in
            XCTAssertTrue((error as! JSONError).message.contains("out of range"), "\(error)")
        }
        XCTAssertThrowsError(try decode([UInt].self, "[-1]"))
        XCTAssertThrowsError(try decode([Int].self, "[1.5]"))
        XCTAssertEqual(try decode([Int].self, "[2.0, 1e3]"), [2, 1000])
    }

    func testWrongTypesAndMissingFieldsNameTheField() {
        XCTAssertThrowsError(try decode(Address.self, #"{"street":1,"city":"x"}"#)) { error in
            XCTAssertEqual((error as! JSONError).message, "field 'street': expected string")
        }
        XCTAssertThrowsError(try decode(Address.self, #"{"street":"x"}"#)) { error in
            XCTAssertEqual((error as! JSONError).message, "missing field 'city'")
        }
        XCTAssertThrowsError(try decode(Address.self, #"{"street":null,"city":"x"}"#)) { error in
            XCTAssertEqual((error as! JSONError).message, "field 'street': expected string, got null")
        }
        XCTAssertThrowsError(try decode(Order.self, #"[1]"#))
        XCTAssertThrowsError(try decode([Address].self, #"[{"street":"a","city":"b"},{"street":"a","city":5}]"#)) { error in
            XCTAssertEqual((error as! JSONError).message, "field '[1].city': expected string")
        }
    }

    func testUnknownFieldsAreIgnored() throws {
        XCTAssertEqual(try decode(Address.self, #"{"street":"a","city":"b","extra":[1,{"x":null}]}"#),
                       Address(street: "a", city: "b"))
    }

    func testValuesJSONCannotHoldAreEncodingErrors() {
        XCTAssertThrowsError(try JanssonEncoder().encode([UInt64.max]))
        XCTAssertThrowsError(try JanssonEncoder().encode([Double.nan]))
        XCTAssertThrowsError(try JanssonEncoder().encode(["x": Double.infinity]))
    }

    func testJSONValueKeepsObjectOrder() throws {
        let value = try decode(JSONValue.self, #"{"z":1,"a":[true,null,"s"],"m":{"k":1.5}}"#)
        XCTAssertEqual(String(decoding: try JanssonEncoder().encode(value), as: UTF8.self),
                       #"{"z":1,"a":[true,null,"s"],"m":{"k":1.5}}"#)
        XCTAssertEqual(value["a"], .array([.bool(true), .null, .string("s")]))
        XCTAssertEqual(try decode(JSONValue.self, #"{"n":null}"#)["n"], .null, "null members decode as .null")
    }

    func testMallocedOutputMatchesByteOutput() throws {
        let (pointer, count) = try JanssonEncoder().encodeMalloced(sample)
        defer { free(pointer) }
        let bytes = [UInt8](UnsafeRawBufferPointer(start: pointer, count: count))
        XCTAssertEqual(bytes, try JanssonEncoder().encode(sample))
    }
}
