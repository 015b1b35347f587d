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

    func testNoWorkerAtAllIsRefusedAndAProviderNobodyRunsIs400() throws {
        let none = try spawn()
        XCTAssertEqual(none.status, 400, "mock is run by nobody here: unknown provider")
        XCTAssertTrue(none.text.contains("unknown provider"), none.text)
    }
}
