import XCTest
import StacyAPI
import StacyConfig
import StacyHTTP
import StacyJSON
import StacyStore
import StacyTestSupport
@testable import StacyServer

/// Authentication and authorization (api.md §3): hashed keys, roles → scopes, tenants and
/// owners, worker credentials refused, CORS, failed-auth limits and API key management.
final class AuthTests: XCTestCase {
    static let adminKey = "admin-key-for-tests-0123456789abcdef"
    static let apiKey = "api-key-for-tests-0123456789abcdef"
    static let viewerKey = "viewer-key-for-tests-0123456789abc"
    static let otherTenantKey = "other-tenant-key-for-tests-0123456"
    static let aliceKey = "alice-bound-key-for-tests-01234567"

    private var harness: ServerHarness?
    private var store: SQLiteStore { harness!.store }
    private var controlPlane: ControlPlane { harness!.controlPlane }
    private var port: UInt16 { harness?.port ?? 0 }
    private var directory: String { harness!.directory }

    private static func record(_ key: String, _ role: String, tenant: String? = nil, owner: String? = nil) -> String {
        var fields = [#""sha256":"\#(SHA256.hex(key))""#, #""role":"\#(role)""#]
        if let tenant { fields.append(#""tenant_id":"\#(tenant)""#) }
        if let owner { fields.append(#""owner_id":"\#(owner)""#) }
        return "{" + fields.joined(separator: ",") + "}"
    }

    private func startServer(_ extra: [String: String] = [:]) throws {
        let records = [Self.record(Self.apiKey, "api"), Self.record(Self.viewerKey, "viewer"),
                       Self.record(Self.otherTenantKey, "api", tenant: "other"),
                       Self.record(Self.aliceKey, "api", owner: "alice")]
        var env = ["STACYVM_AUTH_ADMIN_API_KEY": Self.adminKey, "STACYVM_AUTH_API_KEYS": "[" + records.joined(separator: ",") + "]",
                   "STACYVM_LIMITS_STREAM_KEEPALIVE": "1s", "STACYVM_SERVER_CORS_ALLOWED_ORIGINS": "https://app.example.test"]
        env.merge(extra) { $1 }
        harness = try ServerHarness(environment: env, adminKey: Self.adminKey)
    }

    override func tearDown() { harness?.stop() }

    private func call(_ method: String, _ path: String, key: String? = nil, headers: [(String, String)] = [],
                      json: String? = nil) throws -> RawResponse {
        var all = headers
        if let key { all.append(("X-API-Key", key)) }
        if let json { return try rawRequest(port: port, method: method, path: path, headers: all, json: json) }
        return try rawRequest(port: port, method: method, path: path, headers: all)
    }

    private func spawn(key: String, headers: [(String, String)] = []) throws -> Sandbox {
        let response = try call("POST", "/api/v1/sandboxes", key: key, headers: headers, json: "{}")
        XCTAssertEqual(response.status, 201, response.text)
        return try JanssonDecoder().decode(Sandbox.self, from: response.body)
    }

    // MARK: the matrix

    private enum Credential: String, CaseIterable {
        case none, viewer, api, admin, worker, otherTenant

        var headers: [(String, String)] {
            switch self {
            case .none: return []
            case .viewer: return [("X-API-Key", AuthTests.viewerKey)]
            case .api: return [("X-API-Key", AuthTests.apiKey)]
            case .admin: return [("X-Admin-API-Key", AuthTests.adminKey)]
            case .worker: return [("X-Worker-ID", "worker-a"), ("X-Worker-Token", "stacyvm-worker-secret")]
            case .otherTenant: return [("X-API-Key", AuthTests.otherTenantKey)]
            }
        }

        var scopes: Set<String> {
            switch self {
            case .none, .worker: return []
            case .viewer: return ["read:*"]
            case .api, .otherTenant: return ["read:*", "api:*"]
            case .admin: return ["read:*", "api:*", "operator:*", "admin:*"]
            }
        }
    }

    /// Every operation of openapi/openapi.json × every kind of caller gets the status its
    /// declared scope implies: 401 without a (valid API) credential, 403 without the scope, and
    /// otherwise neither (404 for a sandbox of another tenant).
    func testAuthMatrixFromTheOpenAPIDocument() throws {
        // The `.worker` caller is a real worker here (the shared staging token), so worker routes
        // check acceptance as well as refusal.
        try startServer(["STACYVM_AUTH_WORKER_TOKEN": "stacyvm-worker-secret"])
        let documentURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("openapi/openapi.json")
        let document = try JanssonDecoder().decode(JSONValue.self, from: Array(try Data(contentsOf: documentURL)))
        guard case .object(let paths)? = document["paths"] else { return XCTFail("no paths") }
        var checked = 0
        for (path, item) in paths {
            guard case .object(let operations) = item else { continue }
            for (method, operation) in operations {
                guard case .string(let declared)? = operation["x-stacyvm-scope"] else { continue }
                // own_owner: R for the caller's own owner, else O; these callers have no owner and
                // ask about "alice".
                let scope = operation["x-stacyvm-auth-rule"] == .string("own_owner") ? "operator:*" : declared
                for credential in Credential.allCases {
                    // A fresh sandbox per check, so destroys and prunes never change what the next sees.
                    let sandbox = try spawn(key: Self.adminKey)
                    let concrete = path.replacingOccurrences(of: "{id}", with: sandbox.id)
                        .replacingOccurrences(of: "{keyID}", with: "nonexistent")
                        .replacingOccurrences(of: "{ownerID}", with: "alice")
                        .replacingOccurrences(of: "{workerID}", with: "worker-a")
                        .replacingOccurrences(of: "{credentialID}", with: "nonexistent")
                        .replacingOccurrences(of: "{resourceID}", with: "nonexistent")
                    let status = try statusOf(method.uppercased(), concrete + "?path=x&pattern=*", credential.headers)
                    let label = "\(method.uppercased()) \(path) as \(credential.rawValue) → \(status)"
                    if scope.hasPrefix("worker:") {
                        // Worker routes take worker credentials only: an API key is no credential there.
                        if credential == .worker {
                            XCTAssertFalse([401, 403].contains(status), label)
                        } else {
                            XCTAssertEqual(status, 401, label)
                        }
                    } else if scope == "public" {
                        XCTAssertFalse([401, 403].contains(status), label)
                    } else if credential == .none || credential == .worker {
                        XCTAssertEqual(status, 401, label)
                    } else if !credential.scopes.contains(scope) {
                        XCTAssertEqual(status, 403, label)
                    } else if credential == .otherTenant && path.contains("{id}") {
                        XCTAssertEqual(status, 404, label)
                    } else {
                        XCTAssertFalse([401, 403].contains(status), label)
                    }
                    checked += 1
                }
            }
        }
        XCTAssertGreaterThan(checked, 150)
    }

    /// The status of one request; streams (events, followed logs) are judged by their head.
    private func statusOf(_ method: String, _ path: String, _ headers: [(String, String)]) throws -> Int {
        let connection = try RawConnection(port: port)
        var head = "\(method) \(path) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        let body = ["POST", "PUT", "PATCH"].contains(method) ? "{}" : ""
        if !body.isEmpty { head += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
        connection.send(head + "\r\n" + body)
        return try connection.readHead().0
    }

    // MARK: specific rules

    func testKeysAreRequiredOnceConfiguredAndWrongKeysAre401() throws {
        try startServer()
        let missing = try call("GET", "/api/v1/sandboxes")
        XCTAssertEqual(missing.status, 401)
        XCTAssertEqual(missing.text, #"{"code":"UNAUTHORIZED","message":"invalid or missing API key"}"#)
        XCTAssertEqual(try call("GET", "/api/v1/sandboxes", key: "wrong").status, 401)
        XCTAssertEqual(try call("GET", "/api/v1/sandboxes", key: Self.apiKey, headers: [("Authorization", "Bearer stacyvm-worker")]).status, 401)
        XCTAssertEqual(try call("GET", "/api/v1/sandboxes", headers: [("X-Admin-API-Key", Self.apiKey)]).status, 200,
                       "either header takes any key; the key's role decides")
        XCTAssertEqual(try call("GET", "/api/v1/health").status, 200, "public routes stay public")
        XCTAssertEqual(try call("GET", "/api/v1/metrics").status, 401)
        XCTAssertEqual(try call("GET", "/api/v1/metrics", key: Self.viewerKey).status, 200)
    }

    func testTenantsAndBoundOwnersAreIsolated() throws {
        try startServer()
        let mine = try spawn(key: Self.apiKey)
        let other = try spawn(key: Self.otherTenantKey)
        XCTAssertEqual(other.tenantID, "other")
        XCTAssertEqual(try call("GET", "/api/v1/sandboxes/\(other.id)", key: Self.apiKey).status, 404)
        XCTAssertEqual(try call("GET", "/api/v1/sandboxes/\(mine.id)", key: Self.otherTenantKey).status, 404)
        XCTAssertEqual(try JanssonDecoder().decode([Sandbox].self, from: call("GET", "/api/v1/sandboxes", key: Self.otherTenantKey).body).map(\.id),
                       [other.id])
        XCTAssertEqual(try call("GET", "/api/v1/sandboxes", key: Self.otherTenantKey, headers: [("X-Tenant-ID", "default2")]).status, 403,
                       "a bound key cannot switch tenants")
        let alices = try spawn(key: Self.aliceKey)
        XCTAssertEqual(alices.ownerID, "alice")
        XCTAssertEqual(try call("GET", "/api/v1/sandboxes", key: Self.aliceKey, headers: [("X-User-ID", "bob")]).status, 403,
                       "a bound owner cannot act as another owner without operator:*")
        XCTAssertEqual(try call("GET", "/api/v1/sandboxes/\(alices.id)", key: Self.apiKey, headers: [("X-User-ID", "bob")]).status, 404)
        XCTAssertEqual(try call("GET", "/api/v1/sandboxes/\(alices.id)", key: Self.adminKey).status, 200, "global admins see all")
    }

    func testAPIKeysAreCreatedOnceHashedAndRevocable() throws {
        try startServer()
        let created = try call("POST", "/api/v1/admin/api-keys", key: Self.adminKey, json: #"{"role":"viewer","description":"ci"}"#)
        XCTAssertEqual(created.status, 201, created.text)
        guard case .string(let key)? = try JanssonDecoder().decode(JSONValue.self, from: created.body)["key"],
              case .string(let id)? = try JanssonDecoder().decode(JSONValue.self, from: created.body)["id"] else {
            return XCTFail(created.text)
        }
        XCTAssertTrue(key.hasPrefix("svmk_\(id)_"), key)
        XCTAssertEqual(key.count, "svmk_".count + id.count + 1 + 43)
        XCTAssertEqual(try store.findActiveAPIKey(sha256: SHA256.hex(key))?.id, id, "stored as its SHA-256")
        XCTAssertFalse(try store.listAPIKeys(tenantID: nil).contains { $0.keySHA256 == key }, "never in plain text")
        XCTAssertEqual(try call("GET", "/api/v1/sandboxes", key: key).status, 200)
        XCTAssertEqual(try call("POST", "/api/v1/sandboxes", key: key, json: "{}").status, 403, "viewer cannot spawn")
        let listed = try call("GET", "/api/v1/admin/api-keys", key: Self.adminKey)
        XCTAssertFalse(listed.text.contains(key), "lists never show secrets")
        XCTAssertEqual(try call("DELETE", "/api/v1/admin/api-keys/\(id)", key: Self.adminKey).text, #"{"status":"revoked"}"#)
        XCTAssertEqual(try call("GET", "/api/v1/sandboxes", key: key).status, 401, "revoked keys stop working")
        XCTAssertEqual(try call("DELETE", "/api/v1/admin/api-keys/\(id)", key: Self.adminKey).status, 404)
        XCTAssertEqual(try call("POST", "/api/v1/admin/api-keys", key: Self.adminKey, json: #"{"role":"root"}"#).status, 400)
        XCTAssertEqual(try call("POST", "/api/v1/admin/api-keys", key: Self.apiKey, json: #"{"role":"admin"}"#).status, 403)
    }

    func testCORSAllowsListedOriginsAndRefusesOthers() throws {
        try startServer()
        let preflight = try call("OPTIONS", "/api/v1/sandboxes", headers: [("Origin", "https://app.example.test"),
                                                                          ("Access-Control-Request-Method", "POST")])
        XCTAssertEqual(preflight.status, 204, "preflight is answered before auth")
        XCTAssertEqual(preflight.header("Access-Control-Allow-Origin"), "https://app.example.test")
        XCTAssertTrue(preflight.header("Access-Control-Allow-Headers")?.contains("X-API-Key") ?? false)
        let allowed = try call("GET", "/api/v1/sandboxes", key: Self.apiKey, headers: [("Origin", "https://app.example.test")])
        XCTAssertEqual(allowed.status, 200)
        XCTAssertEqual(allowed.header("Access-Control-Allow-Origin"), "https://app.example.test")
        let error = try call("GET", "/api/v1/sandboxes", headers: [("Origin", "https://app.example.test")])
        XCTAssertEqual(error.status, 401)
        XCTAssertEqual(error.header("Access-Control-Allow-Origin"), "https://app.example.test", "errors carry CORS headers too")
        let driveBy = try call("POST", "/api/v1/sandboxes", key: Self.apiKey, headers: [("Origin", "https://evil.test")], json: "{}")
        XCTAssertEqual(driveBy.status, 403)
        XCTAssertEqual(try JanssonDecoder().decode(ErrorEnvelope.self, from: driveBy.body).code, "FORBIDDEN")
        XCTAssertEqual(try store.listSandboxes(filter: SandboxFilter(limit: 10)).count, 0, "nothing was spawned")
    }

    func testFailedAuthenticationsAreLimitedPerClient() throws {
        try startServer(["STACYVM_RATE_LIMIT_ENABLED": "true", "STACYVM_RATE_LIMIT_AUTH_FAILURES_PER_MINUTE": "3"])
        for _ in 0..<3 { XCTAssertEqual(try call("GET", "/api/v1/sandboxes", key: "guess").status, 401) }
        let limited = try call("GET", "/api/v1/sandboxes", key: "guess")
        XCTAssertEqual(limited.status, 429)
        XCTAssertEqual(limited.header("Retry-After"), "60")
        XCTAssertEqual(try call("GET", "/api/v1/sandboxes", key: Self.apiKey).status, 429, "the limit applies before checking keys")
    }

    func testAnonymousModeEndsOnceAKeyExists() throws {
        try startServer(["STACYVM_AUTH_ADMIN_API_KEY": "", "STACYVM_AUTH_API_KEYS": "[]"])
        XCTAssertEqual(try call("GET", "/api/v1/sandboxes").status, 200, "no credential configured: anonymous loopback")
        let key = "svmk_seeded_" + String(repeating: "k", count: 43)
        _ = try store.insertAPIKey(APIKeyRecord(id: "seeded", keySHA256: SHA256.hex(key), role: "admin"))
        controlPlane.auth.keysChanged()
        XCTAssertEqual(try call("GET", "/api/v1/sandboxes").status, 401, "a database key ends anonymous mode")
        XCTAssertEqual(try call("GET", "/api/v1/sandboxes", key: key).status, 200)
    }

    func testNonLoopbackNeedsACredential() throws {
        try startServer()
        let base = ["STACYVM_SERVER_DATA_DIR": directory, "STACYVM_SERVER_HOST": "0.0.0.0", "STACYVM_PROVIDERS_MOCK_ROOT_DIR": directory]
        let bare = try Config.load(LoadOptions(environment: base, workingDirectory: directory, homeDirectory: directory)).config
        XCTAssertThrowsError(try ControlPlane.refuseInsecureExposure(bare, credentialsConfigured: false))
        XCTAssertThrowsError(try ControlPlane.refuseInsecureExposure(bare, credentialsConfigured: true), "mock needs allow_non_loopback")
        var allowed = base
        allowed["STACYVM_PROVIDERS_MOCK_ALLOW_NON_LOOPBACK"] = "true"
        let config = try Config.load(LoadOptions(environment: allowed, workingDirectory: directory, homeDirectory: directory)).config
        XCTAssertNoThrow(try ControlPlane.refuseInsecureExposure(config, credentialsConfigured: true))
    }
}
