import Foundation
import XCTest
import StacyAPI
import StacyHTTP
import StacyJSON
import StacyProviders
import StacyStore
import StacyTestSupport
import StacyWorker
@testable import StacyServer

/// Spawn and destroy through remote workers (workers.md §8): a real control plane and real worker
/// RPC listeners over HTTP, with heartbeats posted as the workers would.
final class RemotePlacementTests: XCTestCase {
    static let adminKey = "admin-key-for-placement-tests-012345"
    static let sharedToken = "shared-token-for-placement-tests-0123"

    private var harness: ServerHarness?
    private var workers: [String: (server: WorkerServer, runtime: WorkerRuntime, state: WorkerState)] = [:]
    private var directory = ""

    override func setUpWithError() throws {
        harness = try ServerHarness(environment: ["STACYVM_AUTH_ADMIN_API_KEY": Self.adminKey,
                                                  "STACYVM_AUTH_WORKER_TOKEN": Self.sharedToken,
                                                  "STACYVM_SERVER_LOCAL_WORKER_ENABLED": "false"],
                                    adminKey: Self.adminKey)
        directory = harness!.directory
    }

    override func tearDown() {
        harness?.stop()
        for worker in workers.values { worker.server.stop(timeoutSeconds: 1) }
    }

    private var port: UInt16 { harness!.port }

    private func admin(_ method: String, _ path: String, json: String? = nil) throws -> RawResponse {
        if let json { return try rawRequest(port: port, method: method, path: path, headers: [("X-API-Key", Self.adminKey)], json: json) }
        return try rawRequest(port: port, method: method, path: path, headers: [("X-API-Key", Self.adminKey)])
    }

    /// Starts a worker listener trusting this control plane's key, then registers it with one heartbeat.
    private func addWorker(_ id: String) async throws {
        let view = try JanssonDecoder().decode(ControlPlaneView.self, from: try admin("GET", "/api/v1/admin/control-plane").body)
        let options = WorkerOptions(
            id: id, controlPlaneURL: "http://127.0.0.1:\(port)", token: Self.sharedToken, heartbeatIntervalSeconds: 10,
            advertiseURL: nil, previewDomain: nil, stateDirectory: "\(directory)/\(id)", capacity: WorkerCapacity(),
            labels: [:], controlPlanePublicKeys: [view.publicKey], version: "test")
        let runtime = try WorkerRuntime(options: options, providers: ["mock"], log: .disabled)
        let state = try WorkerState(directory: options.stateDirectory)
        let registry = ProviderRegistry(providers: [MockProvider(rootDirectory: "\(directory)/\(id)-mock")], defaultName: "mock")
        let dispatcher = RPCDispatcher(runtime: runtime, state: state, registry: registry, capacity: options.capacity,
                                       leaseSkewMs: 1000, log: .disabled)
        let server = try WorkerServer(address: "127.0.0.1:0", runtime: runtime,
                                      endpoint: RPCEndpoint(runtime: runtime, dispatcher: dispatcher, log: .disabled), log: .disabled)
        try server.start()
        runtime.setAdvertiseURL("http://127.0.0.1:\(server.port)")
        _ = try await runtime.heartbeat()
        workers[id] = (server, runtime, state)
    }

    private func spawn() throws -> RawResponse {
        try admin("POST", "/api/v1/sandboxes", json: #"{"provider":"mock","ttl":"5m"}"#)
    }

    func testSpawnLandsOnTheLeastLoadedWorkerAndDestroyGoesThroughIt() async throws {
        try await addWorker("worker-a")
        try await addWorker("worker-b")
        let first = try JanssonDecoder().decode(Sandbox.self, from: try spawn().body)
        let second = try JanssonDecoder().decode(Sandbox.self, from: try spawn().body)
        XCTAssertEqual([first.workerID, second.workerID], ["worker-a", "worker-b"])
        XCTAssertEqual(first.state, "running")
        // The worker holds a record under the lease the control plane took for it.
        let lease = try XCTUnwrap(harness!.store.getLease(resourceID: first.id))
        XCTAssertEqual(lease.holderID, "worker-a")
        XCTAssertEqual(workers["worker-a"]?.state.sandbox(first.id)?.generation, lease.generation)
        // vm_id is the worker's runtime ID (stored only when it differs from the sandbox ID).
        let stored = try XCTUnwrap(harness!.store.getSandbox(first.id))
        XCTAssertEqual(stored.vmID ?? stored.id, workers["worker-a"]?.state.sandbox(first.id)?.runtimeID)

        XCTAssertEqual(try admin("DELETE", "/api/v1/sandboxes/\(first.id)").status, 200)
        XCTAssertNil(try harness!.store.getLease(resourceID: first.id), "the lease is released after the remote destroy")
        XCTAssertNil(workers["worker-a"]?.state.sandbox(first.id))
        XCTAssertNotNil(workers["worker-a"]?.state.tombstone(first.id))
        XCTAssertEqual(try admin("GET", "/api/v1/sandboxes/\(first.id)").status, 404)
        XCTAssertEqual(try admin("DELETE", "/api/v1/sandboxes/\(first.id)").status, 200, "destroy stays idempotent")
        // Remote exec is not routed yet: a clear 503, not a wrong answer.
        let exec = try admin("POST", "/api/v1/sandboxes/\(second.id)/exec", json: #"{"command":"true"}"#)
        XCTAssertEqual(exec.status, 503, exec.text)
    }

    /// workers.md §8 step 5: a worker that refuses (here: it is draining on its own) is skipped for
    /// the next one; when every worker refuses the spawn is 503 WORKER_UNAVAILABLE and leaves no
    /// row and no lease behind.
    func testARefusingWorkerSendsTheSpawnToTheNextOne() async throws {
        try await addWorker("worker-a")
        try await addWorker("worker-b")
        try workers["worker-a"]!.state.setDraining(true)
        workers["worker-a"]!.runtime.setDraining(true)
        let placed = try JanssonDecoder().decode(Sandbox.self, from: try spawn().body)
        XCTAssertEqual(placed.workerID, "worker-b")

        try workers["worker-b"]!.state.setDraining(true)
        workers["worker-b"]!.runtime.setDraining(true)
        let refused = try spawn()
        XCTAssertEqual(refused.status, 503, refused.text)
        XCTAssertTrue(refused.text.contains("WORKER_UNAVAILABLE"), refused.text)
        let rows = try harness!.store.listSandboxes(filter: SandboxFilter(limit: 100))
        XCTAssertEqual(rows.map(\.id), [placed.id], "a refused spawn left a row behind")
        XCTAssertEqual(try harness!.store.listLeases(holderID: nil, resourceType: nil, limit: 100, afterResourceID: nil).map(\.resourceID),
                       [placed.id], "a refused spawn left a lease behind")
    }

    /// A worker that is down is unreachable before anything was sent: the next worker gets the spawn.
    func testAnUnreachableWorkerIsSkipped() async throws {
        try await addWorker("worker-a")
        try await addWorker("worker-b")
        workers["worker-a"]!.server.stop(timeoutSeconds: 1)
        let placed = try JanssonDecoder().decode(Sandbox.self, from: try spawn().body)
        XCTAssertEqual(placed.workerID, "worker-b")
    }

    /// api.md §5: reads refresh a remote sandbox through `worker.status` and persist what changed:
    /// a runtime its worker no longer has becomes `destroyed` (`runtime_missing`).
    func testReadsRefreshRemoteStateThroughTheWorker() async throws {
        try await addWorker("worker-a")
        let sandbox = try JanssonDecoder().decode(Sandbox.self, from: try spawn().body)
        try workers["worker-a"]!.state.tombstone(sandbox.id, generation: 1, reason: "lost in a test", at: 0)
        XCTAssertEqual(try admin("GET", "/api/v1/sandboxes/\(sandbox.id)").status, 200, "the first read answers from the store")
        let deadline = Date().addingTimeInterval(5)
        var record = try harness!.store.getSandbox(sandbox.id)
        while record?.state != "destroyed" && Date() < deadline {
            try await Task.sleep(nanoseconds: 50_000_000)
            record = try harness!.store.getSandbox(sandbox.id)
        }
        XCTAssertEqual(record?.state, "destroyed")
        XCTAssertEqual(record?.stateReason, "runtime_missing")
        XCTAssertEqual(try admin("GET", "/api/v1/sandboxes/\(sandbox.id)").status, 404)
        XCTAssertNil(try harness!.store.getLease(resourceID: sandbox.id))
    }

    /// workers.md §8 step 4: a spawn that cannot finish after the worker created the runtime (here
    /// a template's setup, which remote sandboxes cannot run yet) takes the runtime down again
    /// through its worker, under its lease, and leaves no row and no lease.
    func testACompensatingDestroyGoesThroughTheWorker() async throws {
        try await addWorker("worker-a")
        let template = try admin("POST", "/api/v1/templates", json: #"{"name":"with-setup","image":"alpine:latest","provider":"mock","setup":["true"]}"#)
        XCTAssertEqual(template.status, 201, template.text)
        let spawned = try admin("POST", "/api/v1/sandboxes", json: #"{"template":"with-setup"}"#)
        XCTAssertEqual(spawned.status, 422, spawned.text)
        XCTAssertEqual(try harness!.store.listSandboxes(filter: SandboxFilter(limit: 10)).count, 0, "a row stayed")
        XCTAssertEqual(try harness!.store.listLeases(holderID: nil, resourceType: nil, limit: 10, afterResourceID: nil).count, 0,
                       "a lease stayed")
        let state = try XCTUnwrap(workers["worker-a"]?.state)
        XCTAssertEqual(state.sandboxes.count, 0, "the runtime still runs on the worker")
        XCTAssertEqual(state.tombstones.count, 1)
    }

    func testNoWorkerAtAllIsRefusedAndAProviderNobodyRunsIs400() throws {
        let none = try spawn()
        XCTAssertEqual(none.status, 400, "mock is run by nobody here: unknown provider")
        XCTAssertTrue(none.text.contains("unknown provider"), none.text)
    }
}

/// Drain, undrain, delete and placement explain on the admin API (api.md §8.4–8.5, workers.md §10).
final class WorkerAdministrationTests: XCTestCase {
    static let adminKey = "admin-key-for-administration-tests-01"
    static let sharedToken = "shared-token-for-administration-tests"
    private var harness: ServerHarness?
    private var port: UInt16 { harness!.port }

    override func setUpWithError() throws {
        harness = try ServerHarness(environment: ["STACYVM_AUTH_ADMIN_API_KEY": Self.adminKey,
                                                  "STACYVM_AUTH_WORKER_TOKEN": Self.sharedToken],
                                    adminKey: Self.adminKey)
    }

    override func tearDown() { harness?.stop() }

    private func admin(_ method: String, _ path: String, json: String? = nil) throws -> RawResponse {
        if let json { return try rawRequest(port: port, method: method, path: path, headers: [("X-API-Key", Self.adminKey)], json: json) }
        return try rawRequest(port: port, method: method, path: path, headers: [("X-API-Key", Self.adminKey)])
    }

    /// A worker known to the registry (its heartbeat advertises an address nobody listens on).
    private func register(_ id: String) throws {
        let body = #"{"status":"online","epoch":"e-\#(id)","started_at":"2026-05-09T10:00:00.000Z","protocol_version":2,"heartbeat_interval":"10s","providers":["mock"],"capabilities":["spawn"],"capacity":{"rpc_url":"http://127.0.0.1:9"}}"#
        let response = try rawRequest(port: port, method: "POST", path: "/api/v1/worker/\(id)/heartbeat",
                                      headers: [("X-Worker-ID", id), ("X-Worker-Token", Self.sharedToken)], json: body)
        XCTAssertEqual(response.status, 200, response.text)
    }

    private func explain() throws -> PlacementExplanation {
        let response = try admin("POST", "/api/v1/admin/placement/explain", json: #"{"provider":"mock"}"#)
        XCTAssertEqual(response.status, 200, response.text)
        return try JanssonDecoder().decode(PlacementExplanation.self, from: response.body)
    }

    func testDrainExcludesTheWorkerAtOnceAndUndrainRestoresIt() throws {
        try register("worker-a")
        let ranked = try explain()
        XCTAssertEqual(Set(ranked.candidates.map(\.workerID)), ["local", "worker-a"])
        XCTAssertTrue(ranked.candidates.allSatisfy(\.eligible), "\(ranked)")

        let first = try admin("POST", "/api/v1/admin/workers/worker-a/drain", json: #"{"deadline":"1h","reason":"kernel update"}"#)
        XCTAssertEqual(first.status, 202, first.text)
        let worker = try JanssonDecoder().decode(Worker.self, from: first.body)
        XCTAssertEqual(worker.status, "draining")
        XCTAssertEqual(worker.drain?.reason, "kernel update")
        XCTAssertEqual(try admin("POST", "/api/v1/admin/workers/worker-a/drain", json: #"{"deadline":"2h"}"#).status, 200,
                       "repeating a drain updates it")
        let draining = try explain()
        XCTAssertEqual(draining.selectedWorkerID, "local")
        XCTAssertEqual(draining.candidates.first { $0.workerID == "worker-a" }?.reason, "worker_draining")
        // Heartbeats carry the directive and keep the control plane's decision.
        let beat = try rawRequest(port: port, method: "POST", path: "/api/v1/worker/worker-a/heartbeat",
                                  headers: [("X-Worker-ID", "worker-a"), ("X-Worker-Token", Self.sharedToken)],
                                  json: #"{"status":"online","epoch":"e-worker-a","started_at":"2026-05-09T10:00:00.000Z","protocol_version":2,"capabilities":["spawn"],"providers":["mock"],"capacity":{"rpc_url":"http://127.0.0.1:9"}}"#)
        XCTAssertTrue(beat.text.contains(#""directives":{"draining":true"#), beat.text)
        // Nothing runs there, so the detector soon calls it drained.
        let deadline = Date().addingTimeInterval(5)
        var status = ""
        while status != "drained" && Date() < deadline {
            Thread.sleep(forTimeInterval: 0.2)
            status = (try? JanssonDecoder().decode(Worker.self, from: try admin("GET", "/api/v1/workers/worker-a").body).status) ?? ""
        }
        XCTAssertEqual(status, "drained")

        let undrained = try admin("POST", "/api/v1/admin/workers/worker-a/undrain")
        XCTAssertEqual(undrained.status, 200)
        XCTAssertEqual(try JanssonDecoder().decode(Worker.self, from: undrained.body).status, "online")
        XCTAssertTrue(try explain().candidates.allSatisfy(\.eligible))
        XCTAssertEqual(try admin("POST", "/api/v1/admin/workers/nobody/drain", json: "{}").status, 404)
        XCTAssertEqual(try admin("POST", "/api/v1/admin/workers/worker-a/drain", json: #"{"deadline":"soon"}"#).status, 400)
    }

    func testDeletingAWorkerWithSandboxesNeedsForce() throws {
        try register("worker-a")
        let store = harness!.store
        _ = try store.insertSandbox(SandboxRecord(id: "sb-on-a", state: "running", provider: "mock", image: "alpine",
                                                  memoryMB: 128, vcpus: 1, workerID: "worker-a", expiresAt: Int64.max / 2))
        _ = try store.acquireLease(resourceID: "sb-on-a", resourceType: "sandbox", holderID: "worker-a", holderEpoch: "e",
                                   expiry: .fromNow(60_000))
        let refused = try admin("DELETE", "/api/v1/admin/workers/worker-a")
        XCTAssertEqual(refused.status, 409, refused.text)
        XCTAssertNotNil(try store.getWorker("worker-a"))
        XCTAssertEqual(try admin("DELETE", "/api/v1/admin/workers/worker-a?force=true").status, 200)
        XCTAssertNil(try store.getWorker("worker-a"))
        XCTAssertEqual(try store.getSandbox("sb-on-a")?.state, "destroyed")
        XCTAssertEqual(try store.getSandbox("sb-on-a")?.stateReason, "worker_deleted")
        XCTAssertNil(try store.getLease(resourceID: "sb-on-a"))
        XCTAssertEqual(try admin("DELETE", "/api/v1/admin/workers/worker-a").status, 404)
        XCTAssertFalse(try explain().candidates.contains { $0.workerID == "worker-a" })
    }
}

/// workers.md §8 step 6: a worker that dies while a spawn is on the wire (the request went out, no
/// answer came) makes the attempt ambiguous: the next worker gets the sandbox under a transferred
/// lease, one generation higher, so the first worker is fenced out; nothing stays `creating`.
final class AmbiguousSpawnTests: XCTestCase {
    static let adminKey = "admin-key-for-ambiguous-spawn-tests-0"
    static let sharedToken = "shared-token-for-ambiguous-spawn-test"

    func testAWorkerDyingMidSpawnLeavesNothingStuckAndTheNextWorkerWins() async throws {
        let harness = try ServerHarness(environment: ["STACYVM_AUTH_ADMIN_API_KEY": Self.adminKey,
                                                      "STACYVM_AUTH_WORKER_TOKEN": Self.sharedToken,
                                                      "STACYVM_SERVER_LOCAL_WORKER_ENABLED": "false",
                                                      "STACYVM_WORKERS_SPAWN_TIMEOUT": "2s"],
                                       adminKey: Self.adminKey)
        defer { harness.stop() }
        // "worker-a" reads the request and drops the connection: a process killed mid-call.
        let dying = try DroppingListener()
        defer { dying.stop() }
        let heartbeat = { (id: String, url: String) throws in
            let body = #"{"status":"online","epoch":"e-\#(id)","started_at":"2026-05-09T10:00:00.000Z","protocol_version":2,"heartbeat_interval":"10s","providers":["mock"],"capabilities":["spawn"],"capacity":{"rpc_url":"\#(url)"}}"#
            let response = try rawRequest(port: harness.port, method: "POST", path: "/api/v1/worker/\(id)/heartbeat",
                                          headers: [("X-Worker-ID", id), ("X-Worker-Token", Self.sharedToken)], json: body)
            XCTAssertEqual(response.status, 200, response.text)
        }
        try heartbeat("worker-a", "http://127.0.0.1:\(dying.port)")

        // With only the dying worker the spawn fails cleanly.
        let failed = try rawRequest(port: harness.port, method: "POST", path: "/api/v1/sandboxes",
                                    headers: [("X-API-Key", Self.adminKey)], json: #"{"provider":"mock"}"#)
        XCTAssertEqual(failed.status, 503, failed.text)
        XCTAssertEqual(try harness.store.listSandboxes(filter: SandboxFilter(limit: 10)).filter { $0.state == "creating" }, [],
                       "a spawn that failed left a creating row")

        // A healthy worker-b: the next attempt goes there under a transferred lease.
        let view = try JanssonDecoder().decode(ControlPlaneView.self, from: try rawRequest(
            port: harness.port, path: "/api/v1/admin/control-plane", headers: [("X-API-Key", Self.adminKey)]).body)
        let options = WorkerOptions(id: "worker-b", controlPlaneURL: "http://127.0.0.1:\(harness.port)", token: Self.sharedToken,
                                    heartbeatIntervalSeconds: 10, advertiseURL: nil, previewDomain: nil,
                                    stateDirectory: harness.directory + "/worker-b", capacity: WorkerCapacity(), labels: [:],
                                    controlPlanePublicKeys: [view.publicKey], version: "test")
        let runtime = try WorkerRuntime(options: options, providers: ["mock"], log: .disabled)
        let state = try WorkerState(directory: options.stateDirectory)
        let dispatcher = RPCDispatcher(runtime: runtime, state: state,
                                       registry: ProviderRegistry(providers: [MockProvider(rootDirectory: harness.directory + "/b-mock")],
                                                                  defaultName: "mock"),
                                       capacity: options.capacity, leaseSkewMs: 1000, log: .disabled)
        let server = try WorkerServer(address: "127.0.0.1:0", runtime: runtime,
                                      endpoint: RPCEndpoint(runtime: runtime, dispatcher: dispatcher, log: .disabled), log: .disabled)
        try server.start()
        defer { server.stop(timeoutSeconds: 1) }
        try heartbeat("worker-b", "http://127.0.0.1:\(server.port)")

        let placed = try rawRequest(port: harness.port, method: "POST", path: "/api/v1/sandboxes",
                                    headers: [("X-API-Key", Self.adminKey)], json: #"{"provider":"mock"}"#)
        XCTAssertEqual(placed.status, 201, placed.text)
        let sandbox = try JanssonDecoder().decode(Sandbox.self, from: placed.body)
        XCTAssertEqual(sandbox.workerID, "worker-b")
        let lease = try XCTUnwrap(harness.store.getLease(resourceID: sandbox.id))
        XCTAssertEqual(lease.holderID, "worker-b")
        XCTAssertEqual(lease.generation, 2, "worker-a's ambiguous attempt is fenced by a generation bump")
        XCTAssertEqual(state.sandbox(sandbox.id)?.generation, 2)
        XCTAssertGreaterThanOrEqual(dying.accepted, 2, "worker-a was tried (and asked to take its half-made runtime down)")
    }
}

/// Accepts connections, reads what arrives, then closes without answering.
final class DroppingListener: @unchecked Sendable {
    let port: UInt16
    private let fd: Int32
    private let lock = NSLock()
    private var count = 0
    var accepted: Int { lock.lock(); defer { lock.unlock() }; return count }

    init() throws {
        let sock = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(sock, $0, length) } }
        listen(sock, 16)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(sock, $0, &length) } }
        fd = sock
        port = UInt16(bigEndian: address.sin_port)
        let fd = self.fd
        Thread.detachNewThread { [self] in
            while true {
                let client = accept(fd, nil, nil)
                guard client >= 0 else { return }
                lock.lock(); count += 1; lock.unlock()
                var buffer = [UInt8](repeating: 0, count: 65536)
                _ = read(client, &buffer, buffer.count)
                close(client)
            }
        }
    }

    func stop() { shutdown(fd, Int32(SHUT_RDWR)); close(fd) }
}
