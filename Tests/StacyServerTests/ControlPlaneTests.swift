import XCTest
import StacyAPI
import StacyConfig
import StacyHTTP
import StacyJSON
import StacyStore
import StacyTestSupport
@testable import StacyServer

private func temporaryDirectory() -> String {
    var template = Array("/tmp/stacyvm-cp-XXXXXX".utf8CString)
    return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
}

final class ControlPlaneTests: XCTestCase {
    private var directory = ""
    private var store: SQLiteStore!
    private var controlPlane: ControlPlane!
    private var port: UInt16 = 0

    private func loadConfig(_ environment: [String: String] = [:]) throws -> Config {
        var env = ["STACYVM_SERVER_DATA_DIR": directory, "STACYVM_SERVER_PORT": "0", "STACYVM_PROVIDERS_MOCK_ROOT_DIR": directory,
                   "STACYVM_PROVIDERS_DEFAULT": "mock"]  // tests never rely on auto (runtime.md §2.3)
        env.merge(environment) { $1 }
        let loaded = try Config.load(LoadOptions(environment: env, workingDirectory: directory, homeDirectory: directory))
        XCTAssertEqual(loaded.problems, [])
        return loaded.config
    }

    override func setUpWithError() throws {
        directory = temporaryDirectory()
        let config = try loadConfig()
        store = try SQLiteStore(path: config.database.path)
        _ = try store.migrate(to: nil)
        controlPlane = try ControlPlane(config: config, store: store, log: .disabled, instanceID: "cp-test-000000",
                                        environment: ["STACYVM_TESTING": "1"])
        try controlPlane.start()
        port = controlPlane.port
    }

    override func tearDown() {
        controlPlane?.stop()
        store?.close()
        _ = try? FileManager.default.removeItem(atPath: directory)
    }

    func testHealthIsCompactJSONWithStatusOK() throws {
        let response = try rawRequest(port: port, path: "/api/v1/health")
        XCTAssertEqual(response.status, 200)
        XCTAssertTrue(response.text.hasPrefix(#"{"status":"ok","version":"0.1.0","uptime":""#), response.text)
        XCTAssertFalse(response.text.contains(" "))
        let live = try JanssonDecoder().decode(LiveResponse.self, from: try rawRequest(port: port, path: "/api/v1/live").body)
        XCTAssertEqual(live.status, "alive")
    }

    func testMockDefaultWarnsOutsideTests() throws {
        let config = try loadConfig()
        let loud = try ControlPlane(config: config, store: store, log: .disabled, instanceID: "cp-test-000002")
        try loud.start()
        defer { loud.stop() }
        let health = try JanssonDecoder().decode(HealthResponse.self, from: try rawRequest(port: loud.port, path: "/api/v1/health").body)
        XCTAssertEqual(health.warnings, ["mock provider is the default: no isolation"])
        let spawn = try rawRequest(port: loud.port, method: "POST", path: "/api/v1/sandboxes", json: "{}")
        XCTAssertEqual(spawn.status, 201)
        XCTAssertEqual(spawn.header("Warning"), #"199 stacyvm "mock provider is the default: no isolation""#)
    }

    func testReadyReportsStoreAndMigrations() throws {
        let response = try rawRequest(port: port, path: "/api/v1/ready")
        XCTAssertEqual(response.status, 200)
        let ready = try JanssonDecoder().decode(ReadyResponse.self, from: response.body)
        XCTAssertEqual(ready.status, "ready")
        XCTAssertEqual(ready.checks, ReadinessChecks(store: "ok", migrations: "ok"))
        XCTAssertEqual(ready.providers.map(\.name), ["mock"])
        XCTAssertEqual(ready.readyProviders, 1)
        XCTAssertEqual(ready.totalProviders, 1)
    }

    func testReadyIs503WithPendingMigrations() throws {
        let config = try loadConfig(["STACYVM_DATABASE_PATH": directory + "/fresh.db"])
        let fresh = try SQLiteStore(path: config.database.path)
        defer { fresh.close() }
        let other = try ControlPlane(config: config, store: fresh, log: .disabled, instanceID: "cp-test-000001")
        try other.start()
        defer { other.stop() }
        let response = try rawRequest(port: other.port, path: "/api/v1/ready")
        XCTAssertEqual(response.status, 503)
        let ready = try JanssonDecoder().decode(ReadyResponse.self, from: response.body)
        XCTAssertEqual(ready.status, "not_ready")
        XCTAssertEqual(ready.checks.migrations, "\(SQLiteMigrations.all.count) pending")
    }

    func testReadyIs503WhenStoreIsGone() throws {
        store.close()
        let response = try rawRequest(port: port, path: "/api/v1/ready")
        XCTAssertEqual(response.status, 503)
        XCTAssertEqual(try JanssonDecoder().decode(ReadyResponse.self, from: response.body).checks.store, "unreachable")
    }

    func testMetricsCountRequestsAndReadTheProcess() throws {
        _ = try rawRequest(port: port, path: "/api/v1/health")
        _ = try rawRequest(port: port, path: "/api/v1/nope")
        let metrics = try JanssonDecoder().decode(MetricsResponse.self, from: try rawRequest(port: port, path: "/api/v1/metrics").body)
        XCTAssertGreaterThanOrEqual(metrics.http.requestsTotal, 2)
        XCTAssertGreaterThan(metrics.goroutines, 1, "thread count comes from /proc")
        XCTAssertGreaterThan(metrics.memoryAlloc, 1 << 20, "RSS comes from /proc")
        let prometheus = try rawRequest(port: port, path: "/api/v1/metrics/prometheus")
        XCTAssertTrue(prometheus.header("Content-Type")?.hasPrefix("text/plain; version=0.0.4") ?? false)
        let text = prometheus.text
        XCTAssertTrue(text.contains("# TYPE stacyvm_http_requests_total counter"))
        XCTAssertTrue(text.contains(#"stacyvm_http_requests_total{route="/api/v1/health",method="GET",code="200"} "#), text)
        XCTAssertTrue(text.contains(#"stacyvm_http_requests_total{route="unmatched",method="GET",code="404"} "#), text)
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            XCTAssertTrue(line.hasPrefix("stacyvm_"), String(line))
        }
        let families = text.split(separator: "\n").filter { $0.hasPrefix("# TYPE") }.count
        XCTAssertEqual(families, text.split(separator: "\n").filter { $0.hasPrefix("# HELP") }.count)
    }

    func testServedDocumentIsTheContractAndCoversEveryRoute() throws {
        let response = try rawRequest(port: port, path: "/api/v1/openapi.json")
        XCTAssertEqual(response.status, 200)
        let served = try JanssonDecoder().decode(JSONValue.self, from: response.body)
        let swagger = try JanssonDecoder().decode(JSONValue.self, from: try rawRequest(port: port, path: "/swagger/doc.json").body)
        XCTAssertEqual(served, swagger)

        let onDisk = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("openapi/openapi.json")
        let file = try JanssonDecoder().decode(JSONValue.self, from: Array(try Data(contentsOf: onDisk)))
        XCTAssertEqual(served, file, "embedded document is stale: run scripts/embed-openapi.sh")

        guard case .object(let paths)? = served["paths"] else { return XCTFail("no paths") }
        for route in ControlPlaneRoutes.all {
            let item = paths.first { $0.key == route.path }?.value
            XCTAssertEqual(item?[route.method.lowercased()]?["operationId"], .string(route.operationID), "\(route.method) \(route.path)")
        }
    }

    func testRouteTableIsSortedAndUnique() {
        let entries = ControlPlaneRoutes.entries()
        XCTAssertEqual(entries.map { "\($0.path) \($0.method)" }, entries.map { "\($0.path) \($0.method)" }.sorted())
        XCTAssertEqual(Set(entries.map(\.operationID)).count, entries.count)
    }

    func testNonLoopbackListenersWithoutCredentialsAreRefused() throws {
        for host in ["0.0.0.0", "192.0.2.10", "::"] {
            let config = try loadConfig(["STACYVM_SERVER_HOST": host])
            XCTAssertThrowsError(try ControlPlane(config: config, store: store, log: .disabled, instanceID: "x"), host)
        }
        for host in ["127.0.0.1", "127.1.2.3", "::1", "localhost"] {
            XCTAssertNoThrow(try ControlPlane.refuseInsecureExposure(try loadConfig(["STACYVM_SERVER_HOST": host]),
                                                                     credentialsConfigured: false), host)
        }
    }

    func testInstanceIDShape() {
        let id = ControlPlane.makeInstanceID(configured: nil)
        XCTAssertTrue(id.hasPrefix("cp-"), id)
        XCTAssertEqual(id.split(separator: "-").last?.count, 6)
        XCTAssertEqual(ControlPlane.makeInstanceID(configured: "cp-fixed"), "cp-fixed")
    }

    func testBadInputChangesNothingInTheStore() throws {
        let before = try store.listSettings().count + store.listControlPlanes().count + store.listEvents(afterSeq: 0, limit: 1000).count
        let requests: [(String, String, [UInt8])] = [
            ("POST", "/api/v1/health", Array(#"{"broken":"#.utf8)),
            ("PUT", "/api/v1/ready", [UInt8](repeating: 0x41, count: 2 << 20)),
            ("GET", "/api/v1/%FF", []),
            ("DELETE", "/api/v1/metrics?x=1&x=2", []),
            ("GET", "/" + String(repeating: "a", count: 30_000), []),
        ]
        for (method, path, body) in requests {
            let response = try rawRequest(port: port, method: method, path: path, headers: [("Content-Type", "application/json")], body: body)
            XCTAssertTrue((400..<500).contains(response.status), "\(method) \(path.prefix(40)): \(response.status)")
            XCTAssertNoThrow(try JanssonDecoder().decode(ErrorEnvelope.self, from: response.body), "envelope for \(method) \(path.prefix(40))")
        }
        XCTAssertEqual(try rawRequest(port: port, path: "/api/v1/health").status, 200)
        let after = try store.listSettings().count + store.listControlPlanes().count + store.listEvents(afterSeq: 0, limit: 1000).count
        XCTAssertEqual(before, after)
    }
}
