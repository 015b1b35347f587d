import Foundation
import StacyAPI
import StacyConfig
import StacyHTTP
import StacyStore
import StacyWorkerProto
import Synchronization

/// The leader's worker duties (workers.md §4.1, §10, §11): the liveness detector, drained
/// detection, inventories after an epoch change or a recovery, and drain/undrain. On SQLite the one
/// control plane always leads.
public final class WorkerSupervisor: Sendable {
    private let store: any Store
    private let registry: WorkerRegistry
    private let placement: any Placement
    private let rpc: WorkerRPCClient
    private let writer: BatchedWriter
    private let log: Log
    private let settings: WorkerSettings
    private let orphanPolicy: String
    private let rpcTimeout: Double
    private let loop = Mutex<Task<Void, Never>?>(nil)
    /// Inventories in flight, so a burst of heartbeats asks once.
    private let inventoryRunning = Mutex<Set<String>>([])
    private let reconciledAt = Mutex<[String: Int64]>([:])
    private let reconcileIntervalMs: Int64

    private func lastReconcile(_ workerID: String) -> Int64 { reconciledAt.withLock { $0[workerID] ?? 0 } }
    private func markReconciled(_ workerID: String, at now: Int64) { reconciledAt.withLock { $0[workerID] = now } }

    public init(store: any Store, registry: WorkerRegistry, placement: any Placement, rpc: WorkerRPCClient, writer: BatchedWriter,
                log: Log, orphanPolicy: String, rpcTimeoutSeconds: Double, reconcileIntervalSeconds: Double = 30) {
        self.store = store
        self.registry = registry
        self.placement = placement
        self.rpc = rpc
        self.writer = writer
        self.log = log
        self.settings = registry.workerSettings
        self.orphanPolicy = orphanPolicy
        self.rpcTimeout = rpcTimeoutSeconds
        self.reconcileIntervalMs = Int64(reconcileIntervalSeconds * 1000)
    }

    public func start() {
        registry.onInventoryDue { [weak self] workerID in self?.scheduleInventory(workerID) }
        loop.withLock { task in
            guard task == nil else { return }
            task = Task.detached { [weak self] in
                while !Task.isCancelled {
                    await self?.detectOnce()
                    try? await Task.sleep(nanoseconds: 1_000_000_000)
                }
            }
        }
    }

    public func stop() { loop.withLock { $0?.cancel(); $0 = nil } }

    // MARK: liveness (workers.md §4.1)

    /// One pass of the detector: persists liveness changes and their consequences, and marks
    /// draining workers with nothing left `drained`.
    func detectOnce() async {
        guard let now = try? store.now(), let workers = try? store.listWorkers(limit: 1_000_000, afterID: nil) else { return }
        for worker in workers {
            let interval = worker.heartbeatIntervalMs ?? WorkerSettings.defaultIntervalMs
            var liveness = Liveness.of(lastHeartbeat: worker.lastHeartbeat, intervalMs: interval, now: now,
                                       leaderSince: registry.leaderSince, settings: settings)
            // A worker that said goodbye is not coming back by itself: it is offline, not lost.
            if worker.status == "offline", liveness == "lost" { liveness = "stale" }
            if liveness != worker.liveness {
                try? store.setWorkerLiveness(id: worker.id, liveness: liveness)
                transition(worker, from: worker.liveness, to: liveness)
            }
            // Revocations outstanding: look again every reconcile interval until the worker has acted.
            if liveness == "alive", now - lastReconcile(worker.id) >= reconcileIntervalMs,
               (try? store.revocations(workerID: worker.id))?.isEmpty == false {
                markReconciled(worker.id, at: now)
                scheduleInventory(worker.id)
            }
            if worker.adminState == "draining", (try? store.sandboxesOnWorker(worker.id, states: nil))?.isEmpty == true {
                if (try? store.setWorkerAdminState(id: worker.id, adminState: "drained", drainStartedAt: worker.drainStartedAt,
                                                    drainDeadline: worker.drainDeadline, drainReason: worker.drainReason)) != nil {
                    registry.adminStateChanged(worker.id, "drained")
                    publish("worker.drained", worker.id, [:])
                }
            }
        }
    }

    private func transition(_ worker: WorkerRecord, from old: String, to new: String) {
        switch new {
        case "stale":
            publish("worker.stale", worker.id, ["from": old])
        case "lost":
            publish("worker.lost", worker.id, ["from": old])
            // Its sandboxes cannot be reached: unhealthy now, destroyed when their leases run out.
            let marked = (try? store.markWorkerSandboxes(worker.id, fromStates: ["running"], state: "unhealthy",
                                                         reason: "worker_lost")) ?? []
            for sandbox in marked {
                publishSandbox("sandbox.unhealthy", sandbox, ["reason": "worker_lost"])
                reconcileEvent("marked_unhealthy", "worker_missing", worker.id, sandbox)
            }
        default:
            publish("worker.recovered", worker.id, ["from": old])
            scheduleInventory(worker.id)
        }
    }

    // MARK: inventory (workers.md §11)

    public func scheduleInventory(_ workerID: String) {
        let first = inventoryRunning.withLock { $0.insert(workerID).inserted }
        guard first else { return }
        Task.detached { [self] in
            defer { _ = inventoryRunning.withLock { $0.remove(workerID) } }
            await inventory(workerID)
        }
    }

    /// Compares the worker's inventory with the store and acts on each difference.
    func inventory(_ workerID: String) async {
        guard let worker = registry.snapshot(workerID), let rpcURL = worker.capacity.rpcURL else { return }
        let address = WorkerAddress(id: workerID, rpcURL: rpcURL)
        let report: InventoryResult
        do {
            report = try await rpc.call(.inventory, on: address, params: InventoryParams(includeTombstones: true),
                                        timeoutSeconds: rpcTimeout)
        } catch {
            log.warn("inventory failed", [("worker_id", .string(workerID)), ("error", .string(error.description))])
            return
        }
        let present = Dictionary(report.sandboxes.map { ($0.sandboxID, $0) }, uniquingKeysWith: { a, _ in a })
        let known = (try? store.sandboxesOnWorker(workerID, states: nil)) ?? []
        for sandbox in known where sandbox.state != "creating" {
            if present[sandbox.id] == nil {
                _ = try? store.updateSandboxState(id: sandbox.id, state: "destroyed", reason: "runtime_missing")
                _ = try? store.deleteLease(resourceID: sandbox.id)
                placement.account(workerID: workerID, memoryMB: sandbox.memoryMB, vcpus: sandbox.vcpus, delta: -1)
                publishSandbox("sandbox.destroyed", sandbox, ["reason": "runtime_missing"])
                reconcileEvent("marked_destroyed", "runtime_missing", workerID, sandbox)
            } else if sandbox.state == "unhealthy" {
                _ = try? store.updateSandboxState(id: sandbox.id, state: "running", reason: nil)
                publishSandbox("sandbox.running", sandbox, [:])
                reconcileEvent("marked_running", "worker_recovered", workerID, sandbox)
            }
        }
        // Destroyed while the worker was unreachable: done once its inventory no longer has them.
        let pending = ((try? store.sandboxesOnWorker(workerID, states: ["destroyed"])) ?? []).filter(\.reapPending)
        for sandbox in pending where present[sandbox.id] == nil {
            _ = try? store.clearReapPending(id: sandbox.id)
            _ = try? store.deleteLease(resourceID: sandbox.id)
            placement.account(workerID: workerID, memoryMB: sandbox.memoryMB, vcpus: sandbox.vcpus, delta: -1)
            reconcileEvent("reaped_orphan", "destroy_pending", workerID, sandbox)
        }
        let knownIDs = Set(known.map(\.id) + pending.map(\.id))
        for entry in report.sandboxes where !knownIDs.contains(entry.sandboxID) {
            await reapOrphan(entry, on: address)
        }
    }

    /// A runtime the store does not place on this worker: reaped under a tombstone lease one
    /// generation above the worker's, unless `workers.orphan_policy` is `ignore`.
    private func reapOrphan(_ entry: InventoryResult.Entry, on worker: WorkerAddress) async {
        guard orphanPolicy == "reap" else { return }
        let row = try? store.getSandbox(entry.sandboxID)
        if let row, row.state == "creating" { return }  // a spawn of this control plane in flight
        let lease: LeaseRecord
        do {
            if let existing = try store.getLease(resourceID: entry.sandboxID) {
                lease = existing.generation >= entry.generation ? existing
                    : try store.transferLease(resourceID: entry.sandboxID, fromGeneration: existing.generation, newHolderID: "reaper",
                                              newHolderEpoch: "reaper", expiry: .fromNow(60_000))
            } else {
                lease = try store.acquireLease(resourceID: entry.sandboxID, resourceType: "sandbox", holderID: "reaper",
                                               holderEpoch: "reaper", expiry: .fromNow(60_000))
            }
        } catch {
            return
        }
        var token = RemoteWorkerProvider.token(lease)
        token.generation = max(lease.generation, entry.generation)
        let params = DestroyParams(sandboxID: entry.sandboxID, provider: entry.provider, runtimeID: entry.runtimeID, reap: true,
                                   reason: row == nil ? "orphan" : "superseded")
        let result: DestroyResult? = try? await rpc.call(.destroy, on: worker, sandboxID: entry.sandboxID, lease: token,
                                                         params: params, timeoutSeconds: rpcTimeout)
        guard result != nil else { return }
        if lease.holderID == "reaper" { try? store.releaseLease(resourceID: entry.sandboxID, holderID: "reaper", generation: lease.generation) }
        publish("reconcile.action", worker.id, ["action": "reaped_orphan", "reason": row == nil ? "orphan" : "superseded",
                                                "worker": worker.id, "sandbox_id": entry.sandboxID])
    }

    // MARK: drain (workers.md §10)

    /// Durable drain: no new placement at once; the worker is told (best-effort; heartbeats repeat
    /// it); every live sandbox there expires at the deadline at the latest. 202 the first time.
    public func drain(workerID: String, deadline deadlineText: String?, reason: String?, force: Bool) async throws(APIError) -> (Worker, Bool) {
        guard let record = try storeCall({ try store.getWorker(workerID) }) else { throw APIError.notFound("worker \(workerID) not found") }
        let now = try storeCall { try store.now() }
        var deadlineMs: Int64 = settings.defaultDrainDeadlineMs
        if let deadlineText {
            guard let parsed = (try? GoDuration.parse(deadlineText)).map({ $0.nanoseconds / 1_000_000 }), parsed > 0 else {
                throw APIError.badRequest("deadline must be a positive duration, got \"\(deadlineText)\"")
            }
            deadlineMs = parsed
        }
        let deadline = force ? now : now + deadlineMs
        let first = record.adminState == "active"
        let stored = try storeCall {
            try store.setWorkerAdminState(id: workerID, adminState: "draining", drainStartedAt: first ? now : (record.drainStartedAt ?? now),
                                          drainDeadline: deadline, drainReason: reason ?? record.drainReason)
        }
        registry.adminStateChanged(workerID, "draining")
        let clamped = try storeCall { try store.clampWorkerSandboxExpiry(workerID, deadline: deadline) }
        for sandbox in clamped { try? syncLease(sandbox) }
        publish("worker.draining", workerID, ["deadline": Log.timestamp(unixMillis: deadline), "reason": reason ?? ""])
        await notify(workerID, DrainParams(draining: true, deadline: Log.timestamp(unixMillis: deadline), reason: reason))
        _ = stored
        return (try registry.get(workerID), first)
    }

    public func undrain(workerID: String) async throws(APIError) -> Worker {
        guard try storeCall({ try store.getWorker(workerID) }) != nil else { throw APIError.notFound("worker \(workerID) not found") }
        _ = try storeCall {
            try store.setWorkerAdminState(id: workerID, adminState: "active", drainStartedAt: nil, drainDeadline: nil, drainReason: nil)
        }
        registry.adminStateChanged(workerID, "active")
        let restored = try storeCall { try store.restoreWorkerSandboxExpiry(workerID) }
        for sandbox in restored { try? syncLease(sandbox) }
        publish("worker.undrained", workerID, [:])
        var worker = try registry.get(workerID)
        // The status it reported last still says draining; once it confirms the undrain, it is not.
        if await notify(workerID, DrainParams(draining: false)), worker.status == "draining" { worker.status = "online" }
        return worker
    }

    /// A sandbox's lease follows its expiry (+ `leases.grace`); the worker learns it from its next
    /// heartbeat's `leases`.
    private func syncLease(_ sandbox: SandboxRecord) throws {
        guard let expiresAt = sandbox.expiresAt, let lease = try store.getLease(resourceID: sandbox.id) else { return }
        _ = try store.setLeaseExpiry(resourceID: sandbox.id, generation: lease.generation, expiry: .at(expiresAt + settings.leaseGraceMs))
    }

    /// Best-effort `worker.drain`; true when the worker confirmed it.
    @discardableResult
    private func notify(_ workerID: String, _ params: DrainParams) async -> Bool {
        guard let worker = registry.snapshot(workerID), let rpcURL = worker.capacity.rpcURL else { return false }
        let result: DrainResult? = try? await rpc.call(.drain, on: WorkerAddress(id: workerID, rpcURL: rpcURL), params: params,
                                                       timeoutSeconds: min(2, rpcTimeout))
        return result?.draining == params.draining
    }

    // MARK: delete (api.md §8.4)

    /// 409 while the worker has sandboxes that are not destroyed, unless `force`: then they become
    /// `destroyed` (`worker_deleted`), their leases go and the worker's credentials are revoked.
    public func delete(workerID: String, force: Bool) throws(APIError) {
        guard try storeCall({ try store.getWorker(workerID) }) != nil else { throw APIError.notFound("worker \(workerID) not found") }
        let live = try storeCall { try store.sandboxesOnWorker(workerID, states: nil) }
        if !live.isEmpty && !force {
            throw APIError(status: 409, code: "CONFLICT",
                           message: "worker \(workerID) still has \(live.count) sandboxes; drain it first or pass force=true")
        }
        if force {
            let states = ["creating", "running", "unhealthy", "expired", "stopped"]
            let marked = try storeCall { try store.markWorkerSandboxes(workerID, fromStates: states, state: "destroyed", reason: "worker_deleted") }
            for sandbox in marked {
                _ = try? store.deleteLease(resourceID: sandbox.id)
                publishSandbox("sandbox.destroyed", sandbox, ["reason": "worker_deleted"])
            }
            _ = try storeCall { try store.revokeWorkerCredentials(workerID: workerID) }
        }
        _ = try storeCall { try store.deleteWorker(workerID) }
        registry.forget(workerID)
        publish("worker.deleted", workerID, ["force": force ? "true" : "false"])
    }

    // MARK: events

    private func publish(_ type: String, _ workerID: String, _ data: [String: String]) {
        writer.submit(.event(EventRecord(type: type, workerID: workerID, tenantID: "", ownerID: "", dataJSON: SandboxManager.json(data))))
    }

    private func publishSandbox(_ type: String, _ sandbox: SandboxRecord, _ data: [String: String]) {
        writer.submit(.event(EventRecord(type: type, sandboxID: sandbox.id, workerID: sandbox.workerID, tenantID: sandbox.tenantID ?? "",
                                         ownerID: sandbox.ownerID ?? "", dataJSON: SandboxManager.json(data))))
    }

    private func reconcileEvent(_ action: String, _ reason: String, _ workerID: String, _ sandbox: SandboxRecord) {
        writer.submit(.event(EventRecord(type: "reconcile.action", sandboxID: sandbox.id, workerID: workerID, tenantID: "", ownerID: "",
                                         dataJSON: SandboxManager.json(["action": action, "reason": reason, "worker": workerID]))))
    }
}
