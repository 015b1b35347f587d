import XCTest
import StacyAPI
import StacyConfig
import StacyJSON
import StacyStore
import StacyTestSupport
@testable import StacyServer

/// Templates (api.md §8.1, runtime.md §9), in the original SDK's shape.
final class TemplateTests: XCTestCase {
    private var harness: ServerHarness!
    private var store: SQLiteStore { harness.store }
    private var port: UInt16 { harness.port }
    private var directory: String { harness.directory }

    override func setUpWithError() throws { harness = try ServerHarness() }
    override func tearDown() { harness?.stop() }

    private func call(_ method: String, _ path: String, json: String? = nil, body: [UInt8]? = nil) throws -> RawResponse {
        if let json { return try rawRequest(port: port, method: method, path: path, json: json) }
        return try rawRequest(port: port, method: method, path: path, body: body)
    }

    private func decode<T: Decodable>(_ type: T.Type, _ response: RawResponse) throws -> T {
        try JanssonDecoder().decode(type, from: response.body)
    }

    func testCRUDKeepsTheSubmittedShape() throws {
        let created = try call("POST", "/api/v1/templates",
                               json: #"{"name":"py","image":"python:3.12","cpu_cores":2,"ttl":"1h","metadata":{"team":"ml"},"description":"python"}"#)
        XCTAssertEqual(created.status, 201, created.text)
        let template = try decode(Template.self, created)
        XCTAssertEqual(template.vcpus, 2, "cpu_cores is an alias of vcpus")
        XCTAssertEqual(template.ttl, "1h", "ttl reads back as submitted")
        XCTAssertEqual(template.version, 1)
        XCTAssertEqual(template.memoryMB, 512)
        XCTAssertEqual(try call("POST", "/api/v1/templates", json: #"{"name":"py","image":"x"}"#).status, 409)

        let replaced = try decode(Template.self, call("PUT", "/api/v1/templates/py", json: #"{"image":"python:3.13","ttl_seconds":3600}"#))
        XCTAssertEqual(replaced.version, 2)
        XCTAssertEqual(replaced.ttl, "1h0m0s", "ttl_seconds reads back as Go prints it")
        XCTAssertEqual(replaced.createdAt, template.createdAt, "PUT keeps created_at")
        XCTAssertEqual(replaced.vcpus, 1, "PUT replaces the whole template with defaults applied")
        XCTAssertEqual(try decode([Template].self, call("GET", "/api/v1/templates")).map(\.name), ["py"])
        XCTAssertEqual(try call("DELETE", "/api/v1/templates/py").text, #"{"status":"deleted"}"#)
        XCTAssertEqual(try call("GET", "/api/v1/templates/py").status, 404)
        XCTAssertEqual(try call("PUT", "/api/v1/templates/py", json: #"{"image":"x"}"#).status, 404)
    }

    func testValidation() throws {
        for body in [#"{"name":"bad name","image":"x"}"#, #"{"name":"ok"}"#, #"{"name":"ok","image":"x","ttl":"0s"}"#,
                     #"{"name":"ok","image":"x","on_drain":"later"}"#, #"{"name":"ok","image":"x","provider":"docker"}"#,
                     #"{"name":"ok","image":"x","env":{"9X":"1"}}"#,
                     // found by schemathesis: an overflowing ttl_seconds crashed the server
                     #"{"name":"ok","image":"x","ttl_seconds":-1937988094538031}"#,
                     #"{"name":"ok","image":"x","ttl_seconds":9223372036854775807}"#] {
            XCTAssertEqual(try call("POST", "/api/v1/templates", json: body).status, 400, body)
        }
        XCTAssertEqual(try decode([Template].self, call("GET", "/api/v1/templates")).count, 0)
    }

    func testSpawnFromTemplateAppliesValuesEnvAndSetup() throws {
        _ = try call("POST", "/api/v1/templates", json: #"""
            {"name":"web","image":"node:20","memory_mb":256,"ttl":"20m","metadata":{"team":"web"},
             "env":{"GREETING":"hello"},"setup":["echo ready > setup.txt","test -f setup.txt"]}
            """#)
        // The original Python SDK posts with an empty body.
        let response = try call("POST", "/api/v1/templates/web/spawn", body: [])
        XCTAssertEqual(response.status, 201, response.text)
        let sandbox = try decode(Sandbox.self, response)
        XCTAssertEqual(sandbox.template, "web")
        XCTAssertEqual(sandbox.image, "node:20")
        XCTAssertEqual(sandbox.memoryMB, 256)
        XCTAssertEqual(sandbox.metadata, ["team": "web", "template": "web"])
        let ran = try decode(ExecResponse.self, call("POST", "/api/v1/sandboxes/\(sandbox.id)/exec",
                                                     json: #"{"command":"echo $GREETING; cat setup.txt"}"#))
        XCTAssertEqual(ran.stdout, "hello\nready\n", "template env applies to execs and setup ran in /workspace")
        let overridden = try decode(ExecResponse.self, call("POST", "/api/v1/sandboxes/\(sandbox.id)/exec",
                                                            json: #"{"command":"echo $GREETING","env":{"GREETING":"hi"}}"#))
        XCTAssertEqual(overridden.stdout, "hi\n", "the request's env wins")

        let viaBody = try decode(Sandbox.self, call("POST", "/api/v1/sandboxes", json: #"{"template":"web","image":"node:22"}"#))
        XCTAssertEqual(viaBody.image, "node:22", "request fields win over the template")
        XCTAssertEqual(viaBody.template, "web")
        XCTAssertEqual(try call("POST", "/api/v1/templates/nope/spawn", body: []).status, 400)
        XCTAssertEqual(try call("POST", "/api/v1/templates/web/spawn", body: Array("{broken".utf8)).status, 400)
    }

    func testFailingSetupIs422AndLeavesNothing() throws {
        _ = try call("POST", "/api/v1/templates", json: #"{"name":"broken","image":"x","setup":["true","exit 3"]}"#)
        let response = try call("POST", "/api/v1/templates/broken/spawn", body: [])
        XCTAssertEqual(response.status, 422)
        let envelope = try decode(ErrorEnvelope.self, response)
        XCTAssertEqual(envelope.code, "SETUP_FAILED")
        XCTAssertEqual(envelope.message, "setup command 1 exited with 3")
        XCTAssertEqual(try store.listSandboxes(filter: SandboxFilter(limit: 10)).count, 0, "the sandbox was destroyed")
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix("stacyvm-sb-") }) ?? []
        XCTAssertEqual(leftovers, [], "and its runtime removed")
    }
}
