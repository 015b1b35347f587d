import XCTest
import StacyAPI
import StacyJSON

/// Types that write their JSON directly must produce exactly the Codable/jansson bytes.
final class DirectJSONTests: XCTestCase {
    private func sandbox(_ text: String, optionals: Bool, metadata: [String: String]?) -> Sandbox {
        Sandbox(id: "sb-" + text, state: "running", stateReason: optionals ? text : nil, provider: "mock", image: text,
                memoryMB: 512, vcpus: -3, ownerID: optionals ? "owner/" + text : nil, tenantID: optionals ? "" : nil,
                template: optionals ? text : nil, vmID: optionals ? "vm" : nil, workerID: "local",
                createdAt: "2026-11-29T21:00:00.000Z", updatedAt: "2026-11-29T21:00:01.000Z",
                expiresAt: "2026-11-29T22:00:00.000Z", metadata: metadata, previewDomain: "localhost:7423")
    }

    func testSandboxBytesEqualTheCodableEncoding() throws {
        let controls = String(decoding: (0..<0x20).map { UInt8($0) }, as: UTF8.self)
        let texts = ["plain", "quote\" back\\slash / slash", controls, "ünïcødé ✓ 🚀 \u{2028}\u{7F}", ""]
        var values: [Sandbox] = []
        for text in texts {
            for optionals in [false, true] {
                for metadata in [nil, ["team": text, "a\"b": "c\\d", "k": ""]] as [[String: String]?] {
                    values.append(sandbox(text, optionals: optionals, metadata: metadata))
                }
            }
        }
        for value in values {
            var writer = JSONWriter()
            value.writeJSON(to: &writer)
            XCTAssertEqual(String(decoding: writer.bytes, as: UTF8.self),
                           String(decoding: try JanssonEncoder().encode(value), as: UTF8.self))
        }
        for list in [[], Array(values.prefix(3)), values] {
            var writer = JSONWriter()
            list.writeJSON(to: &writer)
            XCTAssertEqual(writer.bytes, try JanssonEncoder().encode(list))
        }
    }
}
