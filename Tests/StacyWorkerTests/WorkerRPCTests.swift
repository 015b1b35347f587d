import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import XCTest
import StacyAPI
import StacyHTTP
@testable import StacyOrchestrator
import StacyProviders
import StacyWorker
import StacyWorkerProto

/// The worker's RPC listener (workers.md §3.2, §6.3, §7) driven by the control plane's real RPC
/// client over HTTP: signed tokens, the lease guard, idempotent spawn, destroy and tombstones.
final class WorkerRPCTests: XCTestCase {
    private var directory = ""
    private var server: WorkerServer?
    private var runtime: WorkerRuntime?
    private var state: WorkerState?
    private var key = ControlPlaneSigningKey(privateKey: .init())
    private var client: WorkerRPCClient!
    private var address: WorkerAddress!

    override func setUpWithError() throws {
        var template = Array("/tmp/stacyvm-worker-rpc-XXXXXX".utf8CString)
        directory = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
        try startWorker()
    }

    override func tearDown() {
        server?.stop(timeoutSeconds: 1)
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A worker whose pinned key is `key`, on a kernel-chosen port (restartable on the same state).
    private func startWorker(maxSandboxes: Int = 0) throws {
        server?.stop(timeoutSeconds: 1)
        let options = WorkerOptions(
            id: "worker-a", controlPlaneURL: "http://127.0.0.1:9", token: "unused", heartbeatIntervalSeconds: 10,
            advertiseURL: nil, previewDomain: nil, stateDirectory: directory + "/state",
            capacity: WorkerCapacity(maxSandboxes: maxSandboxes), labels: [:],
            controlPlanePublicKeys: [key.publicKeyText], version: "test")
        let runtime = try WorkerRuntime(options: options, providers: ["mock"], log: .disabled)
        let state = try WorkerState(directory: options.stateDirectory)
        let registry = ProviderRegistry(providers: [MockProvider(rootDirectory: directory + "/mock")], defaultName: "mock")
        let dispatcher = RPCDispatcher(runtime: runtime, state: state, registry: registry, capacity: options.capacity,
                                       leaseSkewMs: 1000, log: .disabled)
        let server = try WorkerServer(address: "127.0.0.1:0", runtime: runtime,
                                      endpoint: RPCEndpoint(runtime: runtime, dispatcher: dispatcher, log: .disabled), log: .disabled)
        try server.start()
        (self.server, self.runtime, self.state) = (server, runtime, state)
        client = WorkerRPCClient(instanceID: "cp-test", key: key)
        address = WorkerAddress(id: "worker-a", rpcURL: "http://127.0.0.1:\(server.port)")
    }

    private func lease(_ sandbox: String, generation: Int64 = 1, holder: String = "worker-a",
                       expiresIn seconds: Double = 300) -> LeaseToken {
        LeaseToken(resourceID: sandbox, holderID: holder, generation: generation,
                   expiresAt: Log.timestamp(unixMillis: Int64((Date().timeIntervalSince1970 + seconds) * 1000)))
    }

    private func spawnParams(_ sandbox: String) -> SpawnParams {
        SpawnParams(sandboxID: sandbox, provider: "mock", image: "alpine:latest", memoryMB: 128, vcpus: 1,
                    expiresAt: Log.timestamp(unixMillis: Int64((Date().timeIntervalSince1970 + 300) * 1000)))
    }

    private func spawn(_ sandbox: String, lease: LeaseToken? = nil) async throws(RPCError) -> SpawnResult {
        try await client.call(.spawn, on: address, sandboxID: sandbox, lease: lease ?? self.lease(sandbox),
                              params: spawnParams(sandbox), timeoutSeconds: 10)
    }

    private func destroy(_ sandbox: String, lease: LeaseToken, reap: Bool? = nil) async throws(RPCError) -> DestroyResult {
        try await client.call(.destroy, on: address, sandboxID: sandbox, lease: lease,
                              params: DestroyParams(sandboxID: sandbox, provider: "mock", runtimeID: nil, reap: reap),
                              timeoutSeconds: 10)
    }

    private func failure(_ body: () async throws -> Void) async -> RPCError? {
        do { try await body() } catch { return error as? RPCError ?? RPCError(code: "NOT_AN_RPC_ERROR", message: "\(error)") }
        return nil
    }

    func testSpawnIsIdempotentAndPersistedBeforeTheAnswer() async throws {
        let first = try await spawn("sb-one")
        XCTAssertTrue(first.created)
        XCTAssertEqual(first.workerID, "worker-a")
        XCTAssertEqual(state?.sandbox("sb-one")?.runtimeID, first.runtimeID)
        let again = try await spawn("sb-one")
        XCTAssertFalse(again.created)
        XCTAssertEqual(again.runtimeID, first.runtimeID)
        // A higher generation adopts the runtime and raises the high-water mark.
        let adopted = try await spawn("sb-one", lease: lease("sb-one", generation: 3))
        XCTAssertFalse(adopted.created)
        XCTAssertEqual(state?.highWaterMark("sb-one"), 3)

        let status: SandboxStatusResult = try await client.call(
            .status, on: address, sandboxID: "sb-one", params: RPCTarget(sandboxID: "sb-one", provider: "mock"), timeoutSeconds: 5)
        XCTAssertEqual(status.state, "running")
        XCTAssertEqual(status.generation, 3)

        // The records survive a restart of the worker process.
        try startWorker()
        XCTAssertEqual(state?.sandbox("sb-one")?.generation, 3)
    }

    /// workers.md §6.3, each refusal with its code and without side effects.
    func testTheLeaseGuardRefusesWhatTheControlPlaneDidNotAuthorise() async throws {
        _ = try await spawn("sb-one", lease: lease("sb-one", generation: 2))
        let noLease = await failure { _ = try await self.client.call(.spawn, on: self.address, sandboxID: "sb-x", lease: nil,
                                                                     params: self.spawnParams("sb-x"), timeoutSeconds: 5) as SpawnResult }
        XCTAssertEqual(noLease?.code, "BAD_REQUEST")
        let otherSandbox = await failure { _ = try await self.spawn("sb-two", lease: self.lease("sb-one", generation: 2)) }
        XCTAssertEqual(otherSandbox?.code, "LEASE_MISMATCH")
        let otherHolder = await failure { _ = try await self.destroy("sb-one", lease: self.lease("sb-one", generation: 2, holder: "worker-b")) }
        XCTAssertEqual(otherHolder?.code, "LEASE_MISMATCH")
        let stale = await failure { _ = try await self.destroy("sb-one", lease: self.lease("sb-one", generation: 1)) }
        XCTAssertEqual(stale?.code, "LEASE_STALE")
        let expired = await failure { _ = try await self.destroy("sb-one", lease: self.lease("sb-one", generation: 2, expiresIn: -10)) }
        XCTAssertEqual(expired?.code, "LEASE_EXPIRED")
        let never = await failure { _ = try await self.destroy("sb-never", lease: self.lease("sb-never")) }
        XCTAssertEqual(never?.code, "NOT_FOUND")
        let unknownStatus = await failure {
            _ = try await self.client.call(.status, on: self.address, sandboxID: "sb-never",
                                           params: RPCTarget(sandboxID: "sb-never", provider: "mock"), timeoutSeconds: 5) as SandboxStatusResult
        }
        XCTAssertEqual(unknownStatus?.code, "NOT_FOUND")
        XCTAssertNotNil(state?.sandbox("sb-one"), "refusals changed the records")

        // A reap from another holder at a generation ≥ ours is accepted; then the tombstone keeps
        // the high-water mark, so the old generation cannot spawn the ID again.
        let reaped = try await destroy("sb-one", lease: lease("sb-one", generation: 5, holder: "reaper"), reap: true)
        XCTAssertTrue(reaped.destroyed)
        XCTAssertNil(state?.sandbox("sb-one"))
        XCTAssertEqual(state?.tombstone("sb-one")?.generation, 5)
        let again = try await destroy("sb-one", lease: lease("sb-one", generation: 5))
        XCTAssertFalse(again.destroyed, "destroying a tombstoned sandbox is success with destroyed:false")
        let respawn = await failure { _ = try await self.spawn("sb-one", lease: self.lease("sb-one", generation: 4)) }
        XCTAssertEqual(respawn?.code, "LEASE_STALE")
    }

    func testDrainingRefusesSpawnsAndCapacityIsEnforced() async throws {
        try startWorker(maxSandboxes: 1)
        _ = try await spawn("sb-one")
        let full = await failure { _ = try await self.spawn("sb-two") }
        XCTAssertEqual(full?.code, "RESOURCE_LIMIT")
        let drained: DrainResult = try await client.call(.shutdown, on: address, params: [String: String](), timeoutSeconds: 5)
        XCTAssertTrue(drained.draining)
        XCTAssertTrue(runtime?.draining == true)
        let refused = await failure { _ = try await self.spawn("sb-three") }
        XCTAssertEqual(refused?.code, "DRAINING")
        // The flag is durable.
        try startWorker(maxSandboxes: 1)
        XCTAssertTrue(state?.draining == true)
        let inventory: InventoryResult = try await client.call(.inventory, on: address, params: InventoryParams(), timeoutSeconds: 5)
        XCTAssertEqual(inventory.sandboxes.map(\.sandboxID), ["sb-one"])
    }

    /// Heartbeat `revoked`: destroyed here unless a newer generation owns the sandbox.
    func testRevocationsDestroyOnlyWhatTheirGenerationCovers() async throws {
        _ = try await spawn("sb-old", lease: lease("sb-old", generation: 1))
        _ = try await spawn("sb-new", lease: lease("sb-new", generation: 4))
        let dispatcher = RPCDispatcher(runtime: runtime!, state: state!,
                                       registry: ProviderRegistry(providers: [MockProvider(rootDirectory: directory + "/mock")],
                                                                  defaultName: "mock"),
                                       capacity: WorkerCapacity(), leaseSkewMs: 1000, log: .disabled)
        await dispatcher.revoke([Worker.Revocation(sandboxID: "sb-old", generation: 1),
                                 Worker.Revocation(sandboxID: "sb-new", generation: 3),
                                 Worker.Revocation(sandboxID: "sb-unknown", generation: 9)])
        XCTAssertNil(state?.sandbox("sb-old"))
        XCTAssertEqual(state?.tombstone("sb-old")?.reason, "revoked")
        XCTAssertNotNil(state?.sandbox("sb-new"), "a revocation older than the sandbox's generation was obeyed")
        XCTAssertNil(state?.tombstone("sb-unknown"))
    }

    /// workers.md §6.3: a sandbox whose lease ran out is destroyed by the worker itself.
    func testExpiredLeasesAreEnforcedOnTheWorker() async throws {
        _ = try await spawn("sb-short", lease: lease("sb-short", expiresIn: 1.5))
        _ = try await spawn("sb-long")
        let dispatcher = RPCDispatcher(runtime: runtime!, state: state!,
                                       registry: ProviderRegistry(providers: [MockProvider(rootDirectory: directory + "/mock")],
                                                                  defaultName: "mock"),
                                       capacity: WorkerCapacity(), leaseSkewMs: 0, log: .disabled)
        await dispatcher.enforceLeases()
        XCTAssertNotNil(state?.sandbox("sb-short"), "destroyed before its lease ran out")
        try await Task.sleep(nanoseconds: 1_700_000_000)
        await dispatcher.enforceLeases()
        XCTAssertEqual(state?.tombstone("sb-short")?.reason, "lease_expired")
        XCTAssertNotNil(state?.sandbox("sb-long"))
    }

    /// workers.md §3.2: tokens from another key, replays, wrong scopes and other versions.
    func testOnlyTheControlPlaneWithItsKeyMayCall() async throws {
        let impostor = WorkerRPCClient(instanceID: "cp-evil", key: ControlPlaneSigningKey(privateKey: .init()))
        let forged = await failure {
            _ = try await impostor.call(.status, on: self.address, params: [String: String](), timeoutSeconds: 5) as WorkerStatusResult
        }
        XCTAssertEqual(forged?.code, "UNAUTHORIZED")

        // A captured request replayed byte for byte is refused the second time.
        let now = Int64(Date().timeIntervalSince1970)
        let claims = ControlPlaneClaims(iss: "cp-test", workerID: "worker-a", scopes: ["worker:status"], iat: now, exp: now + 30,
                                        jti: "replay-me", req: "status-1")
        let token = try ControlPlaneToken.mint(claims, sign: key.sign)
        let body = #"{"id":"status-1","method":"worker.status","worker_id":"worker-a","protocol_version":2,"params":{}}"#
        XCTAssertEqual(try post(body, token: token).status, 200)
        let replay = try post(body, token: token)
        XCTAssertEqual(replay.status, 401)
        XCTAssertTrue(replay.text.contains("already used"), replay.text)
        // Bound to its request id, its worker and its scope.
        let other = try ControlPlaneToken.mint(ControlPlaneClaims(iss: "cp-test", workerID: "worker-a", scopes: ["worker:status"],
                                                                  iat: now, exp: now + 30, jti: "j2", req: "status-1"), sign: key.sign)
        XCTAssertEqual(try post(body.replacingOccurrences(of: "status-1", with: "status-2"), token: other).status, 401)
        let wrongScope = try ControlPlaneToken.mint(ControlPlaneClaims(iss: "cp-test", workerID: "worker-a", scopes: ["worker:spawn"],
                                                                       iat: now, exp: now + 30, jti: "j3", req: "status-1"), sign: key.sign)
        XCTAssertEqual(try post(body, token: wrongScope).status, 403)
        let tooLong = try ControlPlaneToken.mint(ControlPlaneClaims(iss: "cp-test", workerID: "worker-a", scopes: ["worker:status"],
                                                                    iat: now, exp: now + 3600, jti: "j4", req: "status-1"), sign: key.sign)
        XCTAssertEqual(try post(body, token: tooLong).status, 401)
        // Protocol version 1 (the original's) and unknown methods.
        let v1 = try post(body.replacingOccurrences(of: #""protocol_version":2"#, with: #""protocol_version":1"#), token: token)
        XCTAssertEqual(v1.status, 400)
        XCTAssertTrue(v1.text.contains("UNSUPPORTED_VERSION"), v1.text)
        let unknown = try post(body.replacingOccurrences(of: "worker.status", with: "worker.heartbeat"), token: token)
        XCTAssertEqual(unknown.status, 501)
        XCTAssertTrue(unknown.text.contains("UNKNOWN_METHOD"), unknown.text)
    }

    private func post(_ body: String, token: String) throws -> (status: Int, text: String) {
        var request = URLRequest(url: URL(string: address.rpcURL + "/rpc")!)
        request.httpMethod = "POST"
        request.httpBody = Data(body.utf8)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("worker-a", forHTTPHeaderField: "X-Worker-ID")
        request.setValue(token, forHTTPHeaderField: "X-Worker-Token")
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: (Int, String) = (0, "")
        URLSession.shared.dataTask(with: request) { data, response, _ in
            result = ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data ?? Data(), as: UTF8.self))
            done.signal()
        }.resume()
        done.wait()
        return result
    }
}

/// workers.md §9: the ranking rules and the spec's example.
final class SchedulerTests: XCTestCase {
    private func worker(_ id: String, sandboxes: Int = 0, max: Int = 0, status: String = "online", admin: String = "active",
                        lastHeartbeat: Int64 = 1_000_000, providers: Set<String> = ["mock"]) -> WorkerSnapshot {
        WorkerSnapshot(id: id, status: status, adminState: admin, epoch: "e", providers: providers, capabilities: ["spawn"],
                       capacity: WorkerCapacity(maxSandboxes: max, vcpus: 16, memoryMB: 4096, rpcURL: "http://10.0.0.1:7430"),
                       lastHeartbeat: lastHeartbeat, heartbeatIntervalMs: 1000, embedded: false,
                       usage: WorkerUsageInfo(sandboxes: sandboxes, vcpus: sandboxes, memoryMB: sandboxes * 512))
    }

    private func first(_ workers: [WorkerSnapshot], _ request: PlacementRequest = PlacementRequest(provider: "mock", memoryMB: 512, vcpus: 1)) -> String? {
        let ranked = Scheduler.rank(workers, request, nowMillis: 1_000_500, settings: WorkerSettings(), preferLocal: false)
        return ranked.first(where: \.eligible)?.workerID
    }

    /// The registry's plain-value table (what placement scans) chooses what the ranking chooses.
    func testSnapshotTableAgreesWithTheRanking() {
        var generator = SystemRandomNumberGenerator()
        for round in 0..<200 {
            var table = SnapshotTable()
            var fleet: [WorkerSnapshot] = []
            for index in 0..<Int.random(in: 1...40, using: &generator) {
                let snapshot = worker(String(format: "w-%03d", index), sandboxes: Int.random(in: 0...6, using: &generator),
                                      max: [0, 3, 6].randomElement(using: &generator)!,
                                      status: Int.random(in: 0..<12, using: &generator) == 0 ? "offline" : "online",
                                      admin: Int.random(in: 0..<10, using: &generator) == 0 ? "draining" : "active",
                                      lastHeartbeat: Int.random(in: 0..<10, using: &generator) == 0 ? 990_000 : 1_000_000,
                                      providers: Int.random(in: 0..<8, using: &generator) == 0 ? ["namespace"] : ["mock"])
                fleet.append(snapshot)
                table.upsert(snapshot)
            }
            if round % 3 == 0, let gone = fleet.randomElement(using: &generator) {
                fleet.removeAll { $0.id == gone.id }
                table.remove(gone.id)
            }
            var request = PlacementRequest(provider: "mock", memoryMB: [256, 512, 8192].randomElement(using: &generator)!, vcpus: 1)
            if round % 4 == 0, let tried = fleet.randomElement(using: &generator) { request.excluded = [tried.id] }
            let ranked = Scheduler.rank(fleet, request, nowMillis: 1_000_500, settings: WorkerSettings(), preferLocal: false)
            let best = table.best(request, nowMillis: 1_000_500, staleAfterIntervals: WorkerSettings().staleAfterIntervals)
            XCTAssertEqual(best?.id, ranked.first(where: \.eligible)?.workerID, "round \(round)")
        }
    }

    func testIdleWorkersTieOnIDThenSpreadByScore() {
        XCTAssertEqual(first([worker("worker-b"), worker("worker-a")]), "worker-a")
        XCTAssertEqual(first([worker("worker-b"), worker("worker-a", sandboxes: 1)]), "worker-b")
    }

    func testIneligibleWorkersAreSkippedWithTheirReason() {
        let request = PlacementRequest(provider: "mock", memoryMB: 512, vcpus: 1)
        let ranked = Scheduler.rank([
            worker("a-draining", admin: "draining"), worker("b-stale", lastHeartbeat: 990_000), worker("c-full", sandboxes: 2, max: 2),
            worker("d-noprovider", providers: ["namespace"]), worker("e-offline", status: "offline"), worker("f-ok"),
        ], request, nowMillis: 1_000_500, settings: WorkerSettings(), preferLocal: false)
        XCTAssertEqual(ranked.first?.workerID, "f-ok")
        let reasons = Dictionary(uniqueKeysWithValues: ranked.map { ($0.workerID, $0.reason ?? "") })
        XCTAssertEqual(reasons["a-draining"], "worker_draining")
        XCTAssertEqual(reasons["b-stale"], "worker_stale")
        XCTAssertEqual(reasons["c-full"], "max_sandboxes")
        XCTAssertEqual(reasons["d-noprovider"], "provider_unavailable")
        XCTAssertEqual(reasons["e-offline"], "worker_offline")
        XCTAssertNil(first([worker("a")], PlacementRequest(provider: "mock", memoryMB: 8192, vcpus: 1)), "memory is a hard limit")
        XCTAssertNil(first([worker("a")], PlacementRequest(provider: "mock", memoryMB: 1, vcpus: 1, excluded: ["a"])))
        XCTAssertEqual(first([worker("a"), worker("b")], PlacementRequest(provider: "mock", memoryMB: 1, vcpus: 1, pinnedWorker: "b")), "b")
    }
}
