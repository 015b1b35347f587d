import XCTest
import StacyAPI
import StacyJSON
import StacyStore
import StacyTestSupport
import StacyVMClient
import StacyWorker
@testable import StacyServer

/// The control plane's worker routes (workers.md §3–5, api.md §8.4, §8.8): heartbeats and their
/// validation, worker identity, credentials, the registry and lease renewal.
final class WorkerAPITests: XCTestCase {
    static let adminKey = "admin-key-for-worker-tests-0123456789"
    static let apiKey = "api-key-for-worker-tests-0123456789ab"
    static let sharedToken = "shared-staging-token-0123456789abcdef"

    private var harness: ServerHarness?
    private var port: UInt16 { harness!.port }
    private var store: SQLiteStore { harness!.store }

    private func start(sharedToken: Bool = true, extra: [String: String] = [:]) throws {
        var env = ["STACYVM_AUTH_ADMIN_API_KEY": Self.adminKey, "STACYVM_AUTH_API_KEY": Self.apiKey]
        if sharedToken { env["STACYVM_AUTH_WORKER_TOKEN"] = Self.sharedToken }
        env.merge(extra) { $1 }
        harness = try ServerHarness(environment: env, adminKey: Self.adminKey)
    }

    override func tearDown() { harness?.stop() }

    private func call(_ method: String, _ path: String, headers: [(String, String)] = [], json: String? = nil) throws -> RawResponse {
        if let json { return try rawRequest(port: port, method: method, path: path, headers: headers, json: json) }
        return try rawRequest(port: port, method: method, path: path, headers: headers)
    }

    private func admin(_ method: String, _ path: String, json: String? = nil) throws -> RawResponse {
        try call(method, path, headers: [("X-Admin-API-Key", Self.adminKey)], json: json)
    }

    private func worker(_ id: String, _ token: String) -> [(String, String)] { [("X-Worker-ID", id), ("X-Worker-Token", token)] }

    private func heartbeat(_ id: String, token: String = WorkerAPITests.sharedToken, as caller: String? = nil,
                           _ body: String) throws -> RawResponse {
        try call("POST", "/api/v1/worker/\(id)/heartbeat", headers: worker(caller ?? id, token), json: body)
    }

    private static func v2(epoch: String = "aaaa1111", startedAt: String = "2026-05-09T10:00:00.000Z",
                           extra: String = "") -> String {
        #"{"hostname":"worker-a.internal","status":"online","epoch":"\#(epoch)","started_at":"\#(startedAt)","protocol_version":2,"version":"1.0.0","heartbeat_interval":"10s","providers":["mock"],"capabilities":["spawn","exec"],"capacity":{"max_sandboxes":4,"vcpus":8,"memory_mb":4096,"rpc_url":"http://10.0.0.5:7430"},"labels":{"zone":"a"}\#(extra)}"#
    }

    private func issue(_ workerID: String, _ body: String = "{}") throws -> WorkerCredential {
        let response = try admin("POST", "/api/v1/admin/workers/\(workerID)/credentials", json: body)
        XCTAssertEqual(response.status, 201, response.text)
        return try JanssonDecoder().decode(WorkerCredential.self, from: response.body)
    }

    private func decodeWorker(_ response: RawResponse) throws -> Worker {
        try JanssonDecoder().decode(Worker.self, from: response.body)
    }

    // MARK: heartbeat

    func testVersionedHeartbeatIsRecordedAndAnsweredWithDirectivesLeasesAndKeys() throws {
        try start()
        let response = try heartbeat("worker-a", Self.v2())
        XCTAssertEqual(response.status, 200, response.text)
        let answer = try decodeWorker(response)
        XCTAssertEqual(answer.status, "online")
        XCTAssertEqual(answer.liveness, "alive")
        XCTAssertEqual(answer.epoch, "aaaa1111")
        XCTAssertEqual(answer.capacity.rpcURL, "http://10.0.0.5:7430")
        XCTAssertEqual(answer.labels, ["zone": "a"])
        XCTAssertEqual(answer.directives, Worker.Directives(draining: false, drainDeadline: nil, drained: false))
        XCTAssertEqual(answer.leases, [])
        let keys = try XCTUnwrap(answer.controlPlane?.publicKeys)
        XCTAssertEqual(keys.count, 1)
        XCTAssertTrue(keys[0].hasPrefix("ed25519:"))
        XCTAssertTrue(response.text.contains(#""drain_deadline":null"#), response.text)

        let stored = try XCTUnwrap(store.getWorker("worker-a"))
        XCTAssertEqual(stored.hostname, "worker-a.internal")
        XCTAssertEqual(stored.protocolVersion, 2)
        XCTAssertEqual(stored.heartbeatIntervalMs, 10_000)
        XCTAssertNotNil(stored.lastHeartbeat)

        // The registry shows it to operators, with the same key the credential route hands out.
        let listed = try JanssonDecoder().decode([Worker].self, from: try admin("GET", "/api/v1/workers").body)
        XCTAssertEqual(listed.map(\.id), ["worker-a"])
        XCTAssertEqual(try decodeWorker(try admin("GET", "/api/v1/workers/worker-a")).providers, ["mock"])
        XCTAssertEqual(try admin("GET", "/api/v1/workers/nobody").status, 404)
        XCTAssertEqual(try issue("worker-z").controlPlanePublicKey, keys[0])
    }

    /// workers.md §4: the original's plain REST heartbeat (no protocol_version) is accepted with
    /// defaults: epoch `legacy`, capabilities ["spawn"].
    func testPlainRESTHeartbeatIsAcceptedWithDefaults() throws {
        try start()
        let response = try heartbeat("legacy-1", #"{"hostname":"old","status":"online","providers":["mock"],"capacity":{"max_sandboxes":2}}"#)
        XCTAssertEqual(response.status, 200, response.text)
        let answer = try decodeWorker(response)
        XCTAssertEqual(answer.epoch, "legacy")
        XCTAssertEqual(answer.capabilities, ["spawn"])
        XCTAssertEqual(answer.capacity.maxSandboxes, 2)
        XCTAssertEqual(answer.protocolVersion, 1)
    }

    func testMalformedHeartbeatsAreRefusedAndChangeNothing() throws {
        try start()
        XCTAssertEqual(try heartbeat("worker-a", Self.v2()).status, 200)
        let before = try XCTUnwrap(store.getWorker("worker-a"))
        let cases: [(String, Int, String)] = [
            (#"{"protocol_version":1}"#, 400, "UNSUPPORTED_VERSION"),
            (#"{"protocol_version":3,"epoch":"x","started_at":"2026-05-09T10:00:00Z","capabilities":[]}"#, 400, "UNSUPPORTED_VERSION"),
            (Self.v2(extra: #","status":"sleeping""#).replacingOccurrences(of: #""status":"online","#, with: ""), 400, "BAD_REQUEST"),
            (#"{"protocol_version":2,"started_at":"2026-05-09T10:00:00Z","capabilities":[]}"#, 400, "BAD_REQUEST"),
            (#"{"protocol_version":2,"epoch":"e1","started_at":"yesterday","capabilities":[]}"#, 400, "BAD_REQUEST"),
            (Self.v2().replacingOccurrences(of: "http://10.0.0.5:7430", with: "http://0.0.0.0:7430"), 400, "BAD_REQUEST"),
            (Self.v2().replacingOccurrences(of: "http://10.0.0.5:7430", with: "ftp://10.0.0.5"), 400, "BAD_REQUEST"),
            (Self.v2().replacingOccurrences(of: #"["mock"]"#, with: #"["Mock!"]"#), 400, "BAD_REQUEST"),
            (Self.v2().replacingOccurrences(of: #"["spawn","exec"]"#, with: #"["spawn","teleport"]"#), 400, "BAD_REQUEST"),
            (Self.v2().replacingOccurrences(of: #""10s""#, with: #""10m""#), 400, "BAD_REQUEST"),
            (Self.v2().replacingOccurrences(of: #""max_sandboxes":4"#, with: #""max_sandboxes":-1"#), 400, "BAD_REQUEST"),
            (#"{"status":42}"#, 400, "BAD_REQUEST"),
            ("[1,2,3]", 400, "BAD_REQUEST"),
            ("{", 400, "BAD_REQUEST"),
        ]
        for (body, status, code) in cases {
            let response = try heartbeat("worker-a", body)
            XCTAssertEqual(response.status, status, body + " → " + response.text)
            XCTAssertTrue(response.text.contains(#""code":"\#(code)""#), body + " → " + response.text)
        }
        // A huge body never reaches the handler.
        let huge = #"{"hostname":"\#(String(repeating: "h", count: 2 << 20))"}"#
        XCTAssertEqual(try heartbeat("worker-a", huge).status, 413)
        let after = try XCTUnwrap(store.getWorker("worker-a"))
        XCTAssertEqual(after, before, "refused heartbeats changed the row")
    }

    /// workers.md §4: two processes with one ID: the newer start wins, the older gets 409 and
    /// changes nothing; an epoch that went silent for the stale window is replaced.
    func testEpochsDetectTwoProcessesWithOneID() throws {
        try start()
        XCTAssertEqual(try heartbeat("worker-a", Self.v2(epoch: "first", startedAt: "2026-05-09T10:00:00.000Z")).status, 200)
        let newer = try heartbeat("worker-a", Self.v2(epoch: "second", startedAt: "2026-05-09T11:00:00.000Z"))
        XCTAssertEqual(newer.status, 200, newer.text)
        XCTAssertEqual(try decodeWorker(newer).epoch, "second")
        let stale = try heartbeat("worker-a", Self.v2(epoch: "first", startedAt: "2026-05-09T10:00:00.000Z"))
        XCTAssertEqual(stale.status, 409, stale.text)
        XCTAssertTrue(stale.text.contains("epoch superseded"), stale.text)
        let older = try heartbeat("worker-a", Self.v2(epoch: "third", startedAt: "2026-05-09T09:00:00.000Z"))
        XCTAssertEqual(older.status, 409)
        XCTAssertEqual(try store.getWorker("worker-a")?.epoch, "second")
    }

    // MARK: identity

    func testPerWorkerCredentialsBindTheWorkerAndRetireTheSharedToken() throws {
        try start()
        // The shared token works for a worker without its own credential ...
        XCTAssertEqual(try heartbeat("worker-a", Self.v2()).status, 200)
        let credential = try issue("worker-a")
        let token = try XCTUnwrap(credential.token)
        XCTAssertTrue(token.hasPrefix("svmw_\(credential.id)_"), token)
        XCTAssertEqual(credential.scopes, ["worker:heartbeat", "worker:lease", "worker:inventory"])
        // ... and no longer once it has one.
        XCTAssertEqual(try heartbeat("worker-a", Self.v2()).status, 401)
        XCTAssertEqual(try heartbeat("worker-a", token: token, Self.v2()).status, 200)
        // Its credential is worker-a's only: as worker-b it is refused, on worker-b's path 403.
        XCTAssertEqual(try heartbeat("worker-b", token: token, Self.v2()).status, 401)
        XCTAssertEqual(try heartbeat("worker-b", token: token, as: "worker-a", Self.v2()).status, 403)
        // A tampered secret with the right ID prefix is refused.
        let tampered = String(token.dropLast()) + (token.hasSuffix("A") ? "B" : "A")
        XCTAssertEqual(try heartbeat("worker-a", token: tampered, Self.v2()).status, 401)
        // Never on API routes, and API keys never on worker routes.
        XCTAssertEqual(try call("GET", "/api/v1/sandboxes", headers: worker("worker-a", token)).status, 401)
        XCTAssertEqual(try call("GET", "/api/v1/sandboxes", headers: [("Authorization", "Bearer " + token)]).status, 401)
        XCTAssertEqual(try call("POST", "/api/v1/worker/worker-a/heartbeat", headers: [("X-Admin-API-Key", Self.adminKey)],
                                json: Self.v2()).status, 401)
        // Bearer works in place of X-Worker-Token.
        XCTAssertEqual(try call("POST", "/api/v1/worker/worker-a/heartbeat",
                                headers: [("X-Worker-ID", "worker-a"), ("Authorization", "Bearer " + token)], json: Self.v2()).status, 200)
        // The shared token never claims an embedded worker's ID.
        XCTAssertEqual(try heartbeat("local", Self.v2()).status, 401)

        // Revocation is immediate; listing never shows secrets.
        XCTAssertEqual(try admin("DELETE", "/api/v1/admin/workers/worker-a/credentials/\(credential.id)").status, 200)
        XCTAssertEqual(try heartbeat("worker-a", token: token, Self.v2()).status, 401)
        let listed = try admin("GET", "/api/v1/admin/workers/worker-a/credentials")
        XCTAssertFalse(listed.text.contains(token), listed.text)
        let rows = try JanssonDecoder().decode([WorkerCredential].self, from: listed.body)
        XCTAssertEqual(rows.map(\.id), [credential.id])
        XCTAssertNotNil(rows[0].revokedAt)
        XCTAssertNotNil(rows[0].lastUsedAt)
        XCTAssertEqual(try admin("DELETE", "/api/v1/admin/workers/worker-b/credentials/\(credential.id)").status, 404)
    }

    func testCredentialScopesExpiryAndValidation() throws {
        try start()
        // Only the lease scope: heartbeats are 403.
        let leaseOnly = try XCTUnwrap(try issue("worker-a", #"{"scopes":["worker:lease"]}"#).token)
        XCTAssertEqual(try heartbeat("worker-a", token: leaseOnly, Self.v2()).status, 403)
        // An empty list grants nothing.
        let nothing = try XCTUnwrap(try issue("worker-a", #"{"scopes":[]}"#).token)
        XCTAssertEqual(try heartbeat("worker-a", token: nothing, Self.v2()).status, 403)
        // Expiry through PATCH: a credential that expired is refused.
        let expiring = try issue("worker-a")
        XCTAssertEqual(try heartbeat("worker-a", token: expiring.token!, Self.v2()).status, 200)
        let patched = try admin("PATCH", "/api/v1/admin/workers/worker-a/credentials/\(expiring.id)", json: #"{"ttl":"1ms"}"#)
        XCTAssertEqual(patched.status, 200, patched.text)
        Thread.sleep(forTimeInterval: 0.05)
        XCTAssertEqual(try heartbeat("worker-a", token: expiring.token!, Self.v2()).status, 401)
        // Bad requests are 400 and store nothing.
        let count = try store.listWorkerCredentials(workerID: "worker-a").count
        for body in [#"{"scopes":["admin:*"]}"#, #"{"kind":"ed25519"}"#, #"{"ttl":"soon"}"#, #"{"ttl":"-1h"}"#] {
            XCTAssertEqual(try admin("POST", "/api/v1/admin/workers/worker-a/credentials", json: body).status, 400, body)
        }
        XCTAssertEqual(try admin("POST", "/api/v1/admin/workers/local/credentials", json: "{}").status, 400)
        XCTAssertEqual(try admin("POST", "/api/v1/admin/workers/bad%20id/credentials", json: "{}").status, 400)
        XCTAssertEqual(try store.listWorkerCredentials(workerID: "worker-a").count, count)
        // Only admins issue credentials.
        XCTAssertEqual(try call("POST", "/api/v1/admin/workers/worker-a/credentials", headers: [("X-API-Key", Self.apiKey)],
                                json: "{}").status, 403)
        // The compatibility route issues an expiring one; worker:rpc is the control plane's alone.
        let compat = try admin("POST", "/api/v1/admin/worker-tokens", json: #"{"worker_id":"worker-c","ttl":"10m"}"#)
        XCTAssertEqual(compat.status, 201, compat.text)
        let token = try JanssonDecoder().decode(WorkerTokenResponse.self, from: compat.body)
        XCTAssertEqual(try heartbeat("worker-c", token: token.token, Self.v2()).status, 200)
        XCTAssertEqual(try admin("POST", "/api/v1/admin/worker-tokens", json: #"{"worker_id":"worker-c","audience":"worker:rpc"}"#).status, 400)
        XCTAssertEqual(try admin("POST", "/api/v1/admin/worker-tokens", json: #"{"worker_id":"worker-c","ttl":"48h"}"#).status, 400)
    }

    /// workers.md §4 errors: 503 when no worker credential of any kind is configured.
    func testWorkerRoutesAre503UntilWorkerAuthIsConfigured() throws {
        try start(sharedToken: false)
        let response = try heartbeat("worker-a", token: "anything", Self.v2())
        XCTAssertEqual(response.status, 503, response.text)
        XCTAssertTrue(response.text.contains("UNAVAILABLE"))
        let token = try XCTUnwrap(try issue("worker-a").token)
        XCTAssertEqual(try heartbeat("worker-a", token: "anything", Self.v2()).status, 401)
        XCTAssertEqual(try heartbeat("worker-a", token: token, Self.v2()).status, 200)
    }

    /// workers.md §1: `--worker-token-file` is re-read when it changes, so a rotated credential
    /// works without restarting the worker.
    func testAWorkerPicksUpANewTokenFromItsFile() async throws {
        try start(sharedToken: false)
        let credential = try issue("worker-f")
        let file = harness!.directory + "/worker-f.token"
        try "svmw_0000000000000000_not-a-real-secret\n".write(toFile: file, atomically: true, encoding: .utf8)
        let options = WorkerOptions(id: "worker-f", controlPlaneURL: "http://127.0.0.1:\(port)",
                                    token: "svmw_0000000000000000_not-a-real-secret", heartbeatIntervalSeconds: 10,
                                    advertiseURL: nil, previewDomain: nil, stateDirectory: harness!.directory + "/worker-f",
                                    capacity: WorkerCapacity(), labels: [:], controlPlanePublicKeys: [], version: "test",
                                    tokenFile: file)
        let runtime = try WorkerRuntime(options: options, providers: ["mock"], log: .disabled)
        do {
            _ = try await runtime.heartbeat()
            XCTFail("the wrong token was accepted")
        } catch {
            XCTAssertEqual(error.status, 401)
        }
        try (credential.token! + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        let worker = try await runtime.heartbeat()
        XCTAssertEqual(worker.id, "worker-f")
    }

    // MARK: leases

    /// workers.md §5: renew only for the holder, at the current generation, never past the
    /// sandbox's expiry + leases.grace, never bumping the generation.
    func testLeaseRenewEndpoint() throws {
        try start(extra: ["STACYVM_LEASES_GRACE": "1m"])
        let sandbox = try rawRequest(port: port, method: "POST", path: "/api/v1/sandboxes",
                                     headers: [("X-API-Key", Self.apiKey)], json: #"{"ttl":"10m"}"#)
        XCTAssertEqual(sandbox.status, 201, sandbox.text)
        let id = try JanssonDecoder().decode(Sandbox.self, from: sandbox.body).id
        let record = try XCTUnwrap(store.getSandbox(id))
        let expiresAt = try XCTUnwrap(record.expiresAt)
        let lease = try store.acquireLease(resourceID: id, resourceType: "sandbox", holderID: "worker-a",
                                           holderEpoch: "e1", expiry: .fromNow(60_000))
        let path = "/api/v1/worker/worker-a/leases/\(id)/renew"
        let renewed = try call("POST", path, headers: worker("worker-a", Self.sharedToken),
                               json: #"{"ttl":"1h","generation":\#(lease.generation)}"#)
        XCTAssertEqual(renewed.status, 200, renewed.text)
        let token = try JanssonDecoder().decode(LeaseRenewResponse.self, from: renewed.body).lease
        XCTAssertEqual(token.generation, lease.generation)
        XCTAssertEqual(token.holderID, "worker-a")
        XCTAssertEqual(try store.getLease(resourceID: id)?.expiresAt, expiresAt + 60_000, "capped at sandbox expiry + grace")

        XCTAssertEqual(try call("POST", path, headers: worker("worker-a", Self.sharedToken),
                                json: #"{"generation":\#(lease.generation + 1)}"#).status, 409)
        XCTAssertEqual(try call("POST", "/api/v1/worker/worker-b/leases/\(id)/renew", headers: worker("worker-b", Self.sharedToken),
                                json: "{}").status, 409, "another holder")
        XCTAssertEqual(try call("POST", "/api/v1/worker/worker-b/leases/\(id)/renew", headers: worker("worker-a", Self.sharedToken),
                                json: "{}").status, 403, "path is not the caller")
        XCTAssertEqual(try call("POST", "/api/v1/worker/worker-a/leases/sb-none/renew", headers: worker("worker-a", Self.sharedToken),
                                json: "{}").status, 404)
        XCTAssertEqual(try call("POST", path, headers: worker("worker-a", Self.sharedToken), json: #"{"ttl":"0s"}"#).status, 400)
        XCTAssertEqual(try store.getLease(resourceID: id)?.generation, lease.generation)

        // The admin view lists it; the admin repair route renews whatever the holder.
        let leases = try JanssonDecoder().decode([LeaseInfo].self, from: try admin("GET", "/api/v1/admin/leases?holder=worker-a").body)
        XCTAssertEqual(leases.map(\.resourceID), [id])
        XCTAssertEqual(leases.first?.holderEpoch, "e1")
        XCTAssertEqual(try admin("POST", "/api/v1/admin/workers/worker-b/leases/\(id)/renew", json: #"{"ttl":"30s"}"#).status, 200)
        XCTAssertEqual(try admin("GET", "/api/v1/admin/leases?resource_type=bogus").status, 400)
    }

    func testControlPlaneViewNamesTheSigningKey() throws {
        try start()
        let response = try admin("GET", "/api/v1/admin/control-plane")
        XCTAssertEqual(response.status, 200, response.text)
        let view = try JanssonDecoder().decode(ControlPlaneView.self, from: response.body)
        XCTAssertTrue(view.isLeader)
        XCTAssertEqual(view.instanceID, "cp-test")
        XCTAssertTrue(view.publicKey.hasPrefix("ed25519:"))
        XCTAssertEqual(view.keyID.count, 16)
        // The key file is private to the control plane.
        var info = stat()
        XCTAssertEqual(stat(harness!.directory + "/control-plane.ed25519", &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o600)
    }
}
