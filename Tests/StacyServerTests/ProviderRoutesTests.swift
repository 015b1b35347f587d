import XCTest
import StacyAPI
import StacyJSON
import StacyTestSupport
@testable import StacyServer

/// api.md §8.3: GET /providers, GET /providers/{name}, POST /providers/test.
final class ProviderRoutesTests: XCTestCase {
    private var harness: ServerHarness!
    private static let adminKey = "provider-routes-admin-key-0123456789"

    override func setUpWithError() throws {
        harness = try ServerHarness(environment: ["STACYVM_AUTH_ADMIN_API_KEY": Self.adminKey], adminKey: Self.adminKey)
    }

    override func tearDown() { harness?.stop() }

    private func call(_ method: String, _ path: String, json: String? = nil) throws -> RawResponse {
        let headers = [("X-Admin-API-Key", Self.adminKey)]
        if let json { return try rawRequest(port: harness.port, method: method, path: path, headers: headers, json: json) }
        return try rawRequest(port: harness.port, method: method, path: path, headers: headers)
    }

    func testListGetAndTest() throws {
        let listed = try call("GET", "/api/v1/providers")
        XCTAssertEqual(listed.status, 200, listed.text)
        let items = try JanssonDecoder().decode([ProviderInfo].self, from: listed.body)
        let mock = try XCTUnwrap(items.first { $0.name == "mock" })
        XCTAssertTrue(mock.healthy)
        XCTAssertTrue(mock.isDefault)
        XCTAssertEqual(mock.location, "local")
        XCTAssertTrue(mock.lastChecked.hasSuffix("Z"))

        XCTAssertEqual(try call("POST", "/api/v1/sandboxes", json: "{}").status, 201)
        let detail = try JanssonDecoder().decode(ProviderDetail.self, from: try call("GET", "/api/v1/providers/mock").body)
        XCTAssertEqual(detail.sandboxCount, 1)
        XCTAssertEqual(detail.config["isolation"], "none")
        XCTAssertTrue(detail.health.healthy)

        let missing = try call("GET", "/api/v1/providers/nope")
        XCTAssertEqual(missing.status, 404)
        XCTAssertTrue(missing.text.contains(#""code":"NOT_FOUND""#), missing.text)

        let tested = try call("POST", "/api/v1/providers/test")
        XCTAssertEqual(tested.status, 200, tested.text)
        XCTAssertEqual(try JanssonDecoder().decode([String: Bool].self, from: tested.body), ["mock": true])
    }
}
