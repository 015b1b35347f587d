import XCTest
import StacyAPI
import StacyConfig
import StacyJSON
import StacyStore
import StacyTestSupport
@testable import StacyServer

/// Admission (api.md §5.3) and owner quotas (§8.2, runtime.md §10).
final class QuotaTests: XCTestCase {
    static let adminKey = "quota-admin-key-0123456789abcdef"
    private var harness: ServerHarness!
    private var store: SQLiteStore { harness.store }
    private var port: UInt16 { harness.port }

    override func setUpWithError() throws {
        harness = try ServerHarness(environment: ["STACYVM_AUTH_ADMIN_API_KEY": Self.adminKey, "STACYVM_DEFAULTS_MAX_TTL": "4h",
                                                  "STACYVM_DEFAULTS_MAX_SANDBOXES": "3"], adminKey: Self.adminKey)
    }

    override func tearDown() { harness?.stop() }

    private func call(_ method: String, _ path: String, json: String? = nil, user: String? = nil) throws -> RawResponse {
        var headers = [("X-API-Key", Self.adminKey)]
        if let user { headers.append(("X-User-ID", user)) }
        if let json { return try rawRequest(port: port, method: method, path: path, headers: headers, json: json) }
        return try rawRequest(port: port, method: method, path: path, headers: headers)
    }

    private func admission(_ json: String, user: String? = nil) throws -> AdmissionResponse {
        let response = try call("POST", "/api/v1/sandboxes/admission", json: json, user: user)
        XCTAssertEqual(response.status, 200, response.text)
        return try JanssonDecoder().decode(AdmissionResponse.self, from: response.body)
    }

    func testAdmissionHasExactlyTheEightKeysAndAnswers200ForEveryDecision() throws {
        let response = try call("POST", "/api/v1/sandboxes/admission", json: "{}")
        guard case .object(let members) = try JanssonDecoder().decode(JSONValue.self, from: response.body) else {
            return XCTFail(response.text)
        }
        XCTAssertEqual(members.map(\.key), ["allowed", "queueable", "reason", "active_sandboxes", "max_sandboxes",
                                            "active_owner_sandboxes", "max_owner_sandboxes", "max_ttl"])
        XCTAssertEqual(try admission("{}"), AdmissionResponse(allowed: true, queueable: false, reason: "", activeSandboxes: 0,
                                                              maxSandboxes: 3, activeOwnerSandboxes: 0, maxOwnerSandboxes: 0,
                                                              maxTTL: "4h0m0s"))
        let tooLong = try admission(#"{"ttl":"5h"}"#)
        XCTAssertFalse(tooLong.allowed)
        XCTAssertEqual(tooLong.reason, "max_ttl")
        XCTAssertEqual(try call("POST", "/api/v1/sandboxes/admission", json: #"{"ttl":"-1s"}"#).status, 400)
        XCTAssertEqual(try store.listSandboxes(filter: SandboxFilter(limit: 10)).count, 0, "a dry run creates nothing")
    }

    func testGlobalCapRefusesSpawnAndAdmissionSaysWhy() throws {
        for _ in 0..<3 { XCTAssertEqual(try call("POST", "/api/v1/sandboxes", json: "{}").status, 201) }
        let decision = try admission("{}")
        XCTAssertEqual(decision.reason, "max_sandboxes")
        XCTAssertEqual(decision.activeSandboxes, 3)
        XCTAssertFalse(decision.queueable, "reject mode never queues")
        let refused = try call("POST", "/api/v1/sandboxes", json: "{}")
        XCTAssertEqual(refused.status, 429)
        XCTAssertEqual(try JanssonDecoder().decode(ErrorEnvelope.self, from: refused.body).code, "RESOURCE_LIMIT")
    }

    func testOwnerQuotaLimitsSandboxesTTLAndExecTimeout() throws {
        let put = try call("PUT", "/api/v1/quotas/alice", json: #"{"max_sandboxes":1,"max_ttl":"1h","max_exec_timeout":"2s"}"#)
        XCTAssertEqual(put.status, 200, put.text)
        let quota = try JanssonDecoder().decode(OwnerQuota.self, from: put.body)
        XCTAssertEqual(quota.maxTTL, "1h0m0s")
        XCTAssertEqual(quota.maxExecTimeout, "2s")
        XCTAssertEqual(try JanssonDecoder().decode(OwnerQuota.self, from: call("GET", "/api/v1/quotas/alice").body).maxSandboxes, 1)

        XCTAssertEqual(try admission(#"{"ttl":"2h"}"#, user: "alice").reason, "max_ttl", "the owner's max TTL applies")
        XCTAssertEqual(try admission(#"{"ttl":"2h"}"#, user: "bob").reason, "", "other owners keep the global max")
        let first = try call("POST", "/api/v1/sandboxes", json: "{}", user: "alice")
        XCTAssertEqual(first.status, 201)
        XCTAssertEqual(try call("POST", "/api/v1/sandboxes", json: "{}", user: "alice").status, 429)
        XCTAssertEqual(try admission("{}", user: "alice").reason, "max_sandboxes_per_owner")
        XCTAssertEqual(try call("POST", "/api/v1/sandboxes", json: "{}", user: "bob").status, 201)

        let id = try JanssonDecoder().decode(Sandbox.self, from: first.body).id
        XCTAssertEqual(try call("POST", "/api/v1/sandboxes/\(id)/exec", json: #"{"command":"true","timeout":"5s"}"#).status, 429)
        XCTAssertEqual(try call("POST", "/api/v1/sandboxes/\(id)/exec", json: #"{"command":"true","timeout":"1s"}"#).status, 200)

        let usage = try JanssonDecoder().decode(QuotaUsage.self, from: call("GET", "/api/v1/quotas/alice/usage").body)
        XCTAssertEqual(usage, QuotaUsage(ownerID: "alice", activeSandboxes: 1, maxSandboxes: 1, maxTTL: "1h0m0s",
                                         maxExecTimeout: "2s", quotaConfigured: true))
    }

    func testSummaryHasExactlyFourKeysAndQuotaValidation() throws {
        _ = try call("PUT", "/api/v1/quotas/alice", json: #"{"max_sandboxes":2}"#)
        _ = try call("PUT", "/api/v1/quotas/bob", json: #"{"max_ttl":"30m"}"#)
        XCTAssertEqual(try call("GET", "/api/v1/quotas/summary").text,
                       #"{"total":2,"with_max_sandboxes":1,"with_max_ttl":1,"with_max_exec_timeout":0}"#)
        XCTAssertEqual(try JanssonDecoder().decode([OwnerQuota].self, from: call("GET", "/api/v1/quotas").body).map(\.ownerID),
                       ["alice", "bob"])
        XCTAssertEqual(try call("PUT", "/api/v1/quotas/carol", json: #"{"max_ttl":"500ms"}"#).status, 400)
        XCTAssertEqual(try call("PUT", "/api/v1/quotas/carol", json: #"{"max_sandboxes":-1}"#).status, 400)
        XCTAssertEqual(try call("PUT", "/api/v1/quotas/owner%20a", json: "{}").status, 400)
        XCTAssertEqual(try call("GET", "/api/v1/quotas/carol").status, 404)
        XCTAssertEqual(try call("DELETE", "/api/v1/quotas/alice").text, #"{"status":"deleted"}"#)
        XCTAssertEqual(try call("DELETE", "/api/v1/quotas/alice").status, 404)
    }
}

/// runtime.md §10 queue mode: a capacity refusal waits for room instead of failing.
final class SpawnQueueTests: XCTestCase {
    private var harness: ServerHarness!
    private var controlPlane: ControlPlane { harness.controlPlane }
    private var port: UInt16 { harness.port }

    override func setUpWithError() throws {
        harness = try ServerHarness(environment: ["STACYVM_DEFAULTS_MAX_SANDBOXES": "1", "STACYVM_DEFAULTS_SPAWN_OVERFLOW": "queue",
                                                  "STACYVM_DEFAULTS_SPAWN_QUEUE_TIMEOUT": "2s"])
    }

    override func tearDown() { harness?.stop() }

    func testQueuedSpawnProceedsWhenCapacityFreesAndTimesOutOtherwise() async throws {
        let port = self.port
        let first = try JanssonDecoder().decode(Sandbox.self, from: rawRequest(port: port, method: "POST", path: "/api/v1/sandboxes", json: "{}").body)
        let admission = try JanssonDecoder().decode(AdmissionResponse.self,
                                                    from: rawRequest(port: port, method: "POST", path: "/api/v1/sandboxes/admission", json: "{}").body)
        XCTAssertEqual(admission.reason, "max_sandboxes")
        XCTAssertTrue(admission.queueable, "capacity refusals are queueable in queue mode")

        let waiting = Task.detached { try rawRequest(port: port, method: "POST", path: "/api/v1/sandboxes", json: "{}").status }
        for _ in 0..<100 where controlPlane.manager.spawnQueue.depth == 0 { try await Task.sleep(nanoseconds: 30_000_000) }
        XCTAssertEqual(controlPlane.manager.spawnQueue.depth, 1, "the second spawn waits")
        XCTAssertEqual(try rawRequest(port: port, method: "DELETE", path: "/api/v1/sandboxes/\(first.id)").status, 200)
        let status = try await waiting.value
        XCTAssertEqual(status, 201, "destroying the first freed room for the queued spawn")

        let started = Date()
        XCTAssertEqual(try rawRequest(port: port, method: "POST", path: "/api/v1/sandboxes", json: "{}").status, 429)
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(started), 1.5, "it waited for the queue timeout first")
    }
}
