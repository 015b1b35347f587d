import Foundation
import XCTest
import StacyAPI
import StacyJSON
import StacyProviders
import StacyTestSupport
@testable import StacyServer

/// The published SDK flow against a control plane whose default provider is `namespace`: spawn
/// `alpine:latest`, exec `echo hello`, write and read a file, destroy.
final class NamespaceAPITests: XCTestCase {
    private var harness: ServerHarness?
    private var sandboxes = ""
    /// A uid range of this test process's own (see NamespaceProviderTests).
    static let subuidBase = String(1_000_000 + Int(getpid() % 1000) * 10_000)

    override func setUpWithError() throws {
        sandboxes = NSTemporaryDirectory() + "stacyvm-ns-api-\(UUID().uuidString.prefix(8))"
        mkdir(sandboxes, 0o711)
        var settings = NamespaceSettings(dataDirectory: sandboxes)
        settings.subuidBase = Int(Self.subuidBase)!
        if let problem = NamespaceProvider(settings: settings).problem() {
            try? FileManager.default.removeItem(atPath: sandboxes)
            if ProcessInfo.processInfo.environment["STACYVM_REQUIRE_NAMESPACE"] == "1" { XCTFail("namespace provider required but unavailable: \(problem)") }
            throw XCTSkip("namespace provider unavailable: \(problem)")
        }
        harness = try ServerHarness(environment: ["STACYVM_PROVIDERS_DEFAULT": "namespace",
                                                  "STACYVM_PROVIDERS_NAMESPACE_DATA_DIR": sandboxes,
                                                  "STACYVM_PROVIDERS_NAMESPACE_SUBUID_BASE": Self.subuidBase])
    }

    override func tearDown() {
        harness?.stop()
        try? FileManager.default.removeItem(atPath: sandboxes)
    }

    func testSpawnExecDestroyThroughTheAPI() throws {
        let port = try XCTUnwrap(harness).port
        let spawned = try rawRequest(port: port, method: "POST", path: "/api/v1/sandboxes", json: #"{"image":"alpine:latest"}"#)
        XCTAssertEqual(spawned.status, 201, spawned.text)
        let sandbox = try JanssonDecoder().decode(Sandbox.self, from: spawned.body)
        XCTAssertEqual(sandbox.provider, "namespace")
        XCTAssertEqual(sandbox.state, "running")

        let hello = try rawRequest(port: port, method: "POST", path: "/api/v1/sandboxes/\(sandbox.id)/exec",
                                   json: #"{"command":"echo hello; hostname; id -u"}"#)
        XCTAssertEqual(hello.status, 200, hello.text)
        let result = try JanssonDecoder().decode(JSONValue.self, from: hello.body)
        XCTAssertEqual(result["exit_code"], .int(0))
        XCTAssertEqual(result["stdout"], .string("hello\n\(sandbox.id)\n0\n"), "runs inside the sandbox, as its root")

        let written = try rawRequest(port: port, method: "POST", path: "/api/v1/sandboxes/\(sandbox.id)/files",
                                     json: #"{"path":"hello.txt","content":"hello file"}"#)
        XCTAssertTrue([200, 201].contains(written.status), written.text)
        let read = try rawRequest(port: port, path: "/api/v1/sandboxes/\(sandbox.id)/files?path=hello.txt")
        XCTAssertEqual(read.status, 200)
        XCTAssertEqual(read.text, "hello file")
        let cat = try rawRequest(port: port, method: "POST", path: "/api/v1/sandboxes/\(sandbox.id)/exec",
                                 json: #"{"command":"cat /workspace/hello.txt"}"#)
        XCTAssertEqual(try JanssonDecoder().decode(JSONValue.self, from: cat.body)["stdout"], .string("hello file"))

        let destroyed = try rawRequest(port: port, method: "DELETE", path: "/api/v1/sandboxes/\(sandbox.id)")
        XCTAssertTrue([200, 204].contains(destroyed.status), destroyed.text)
        XCTAssertFalse(FileManager.default.fileExists(atPath: sandboxes + "/" + sandbox.id), "the sandbox directory is gone")
        XCTAssertEqual(try rawRequest(port: port, path: "/api/v1/sandboxes/\(sandbox.id)").status, 404)
    }

    /// A command killed by the sandbox's memory limit: exit 137 and a `sandbox.oom` event.
    func testOOMKillIsExit137AndASandboxOOMEvent() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/python3") else { throw XCTSkip("no python3") }
        let harness = try XCTUnwrap(harness)
        let spawned = try rawRequest(port: harness.port, method: "POST", path: "/api/v1/sandboxes", json: #"{"memory_mb":64}"#)
        XCTAssertEqual(spawned.status, 201, spawned.text)
        let id = try JanssonDecoder().decode(Sandbox.self, from: spawned.body).id
        let hog = try rawRequest(port: harness.port, method: "POST", path: "/api/v1/sandboxes/\(id)/exec",
                                 json: #"{"command":"/usr/bin/python3 -c 'a = []\nwhile True: a.append(bytearray(8 << 20))'"}"#)
        XCTAssertEqual(try JanssonDecoder().decode(JSONValue.self, from: hog.body)["exit_code"], .int(137), hog.text)
        var types: [String] = []
        for _ in 0..<100 {
            types = try harness.store.listEvents(afterSeq: 0, limit: 1000).filter { $0.sandboxID == id }.map(\.type)
            if types.contains("sandbox.oom") { break }
            Thread.sleep(forTimeInterval: 0.02)
        }
        XCTAssertTrue(types.contains("sandbox.oom"), "\(types)")
    }

    /// `providers.default: auto` picks namespace when its self-test passes here...
    func testAutoChoosesNamespaceWhenItsSelfTestPasses() throws {
        harness?.stop()
        harness = try ServerHarness(environment: ["STACYVM_PROVIDERS_DEFAULT": "auto",
                                                  "STACYVM_PROVIDERS_NAMESPACE_DATA_DIR": sandboxes,
                                                  "STACYVM_PROVIDERS_NAMESPACE_SUBUID_BASE": Self.subuidBase])
        let port = try XCTUnwrap(harness).port
        let spawned = try rawRequest(port: port, method: "POST", path: "/api/v1/sandboxes", json: "{}")
        XCTAssertEqual(try JanssonDecoder().decode(Sandbox.self, from: spawned.body).provider, "namespace")
        XCTAssertFalse(try rawRequest(port: port, path: "/api/v1/health").text.contains("warnings"))
    }

    /// ...and otherwise falls back to mock on loopback, saying why.
    func testAutoFallsBackToMockAndSaysWhy() throws {
        harness?.stop()
        let hidden = NSTemporaryDirectory() + "stacyvm-hidden-\(UUID().uuidString.prefix(8))"
        mkdir(hidden, 0o700)
        defer { try? FileManager.default.removeItem(atPath: hidden) }
        harness = try ServerHarness(environment: ["STACYVM_PROVIDERS_DEFAULT": "auto",
                                                  "STACYVM_PROVIDERS_NAMESPACE_DATA_DIR": hidden + "/sandboxes"])
        let port = try XCTUnwrap(harness).port
        let spawned = try rawRequest(port: port, method: "POST", path: "/api/v1/sandboxes", json: "{}")
        XCTAssertEqual(try JanssonDecoder().decode(Sandbox.self, from: spawned.body).provider, "mock")
        let health = try rawRequest(port: port, path: "/api/v1/health").text
        XCTAssertTrue(health.contains("namespace provider unavailable") && health.contains("not searchable"), health)
        let detail = try rawRequest(port: port, path: "/api/v1/providers/namespace")
        XCTAssertEqual(detail.status, 200, detail.text)
        let namespace = try JanssonDecoder().decode(ProviderDetail.self, from: detail.body)
        XCTAssertFalse(namespace.healthy)
        XCTAssertFalse(namespace.isDefault)
        XCTAssertTrue(namespace.health.error?.contains("not searchable") == true, detail.text)
    }
}
