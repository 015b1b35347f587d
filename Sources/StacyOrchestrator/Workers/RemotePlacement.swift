import Foundation
import StacyAPI
import StacyHTTP
import StacyProviders
import StacyStore
import StacyWorkerProto
import Synchronization

/// The embedded worker plus every remote worker of the registry (workers.md §8–9). Local sandboxes
/// go to the control plane's own providers; remote ones through a `RemoteWorkerProvider` bound to
/// the sandbox's record.
public final class WorkerPlacement: Placement {
    private let local: LocalPlacement?
    private let localCapacity: WorkerCapacity
    private let registry: WorkerRegistry
    private let rpc: WorkerRPCClient
    private let store: any Store
    private let preferLocal: Bool
    private let timeouts: RemoteWorkerProvider.Timeouts
    private let localUsage: LocalUsage
    private let localProviders: Set<String>
    /// When each remote sandbox was last refreshed (monotonic ns), so reads cost at most one
    /// `worker.status` per sandbox every 5 s.
    private let lastRefresh = Mutex<[String: UInt64]>([:])

    public init(local: LocalPlacement?, localCapacity: WorkerCapacity, registry: WorkerRegistry, rpc: WorkerRPCClient,
                store: any Store, preferLocal: Bool, timeouts: RemoteWorkerProvider.Timeouts) {
        self.local = local
        self.localCapacity = localCapacity
        self.registry = registry
        self.rpc = rpc
        self.store = store
        self.preferLocal = preferLocal
        self.timeouts = timeouts
        // The embedded worker's sandboxes of earlier runs still count.
        let counted = local.flatMap { local in (try? store.workerUsage())?.first { $0.workerID == local.workerID } }
        localProviders = Set(local?.registry.all.map(\.name) ?? [])
        localUsage = LocalUsage(WorkerUsageInfo(sandboxes: counted?.sandboxes ?? 0, vcpus: counted?.vcpus ?? 0,
                                                memoryMB: counted?.memoryMB ?? 0))
    }

    public func provider(for sandbox: SandboxRecord) -> (any Provider)? {
        if let local, (sandbox.workerID ?? local.workerID) == local.workerID { return local.provider(for: sandbox) }
        guard let workerID = sandbox.workerID, let worker = registry.snapshot(workerID),
              let rpcURL = worker.capacity.rpcURL else { return nil }
        // workers.md §4.1: a lost worker's sandboxes answer 503 at once; a stale one gets 2 s.
        let settings = registry.workerSettings
        let missed = worker.missedHeartbeats(at: Int64(Date().timeIntervalSince1970 * 1000))
        var timeouts = self.timeouts
        if missed >= Int64(settings.staleAfterIntervals) { timeouts.rpcSeconds = min(2, timeouts.rpcSeconds) }
        return RemoteWorkerProvider(
            name: sandbox.provider, worker: WorkerAddress(id: workerID, rpcURL: rpcURL), epoch: worker.epoch,
            target: RPCTarget(sandboxID: sandbox.id, provider: sandbox.provider, runtimeID: sandbox.vmID ?? sandbox.id),
            rpc: rpc, store: store, leaseGraceMs: settings.leaseGraceMs, timeouts: timeouts,
            lost: missed >= Int64(settings.lostAfterIntervals))
    }

    /// Every worker with its eligibility and score, best first (`POST /admin/placement/explain`).
    public func explain(_ request: PlacementRequest) -> [PlacementCandidate] {
        Scheduler.rank(candidates(), request, nowMillis: Int64(Date().timeIntervalSince1970 * 1000),
                       settings: registry.workerSettings, preferLocal: preferLocal)
    }

    private func candidates() -> [WorkerSnapshot] {
        registry.remoteSnapshots() + (embeddedSnapshot().map { [$0] } ?? [])
    }

    public func place(_ request: PlacementRequest) -> (workerID: String, provider: any Provider)? {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let settings = registry.workerSettings
        var best = registry.bestRemote(request, nowMillis: now, preferLocal: preferLocal)
        if let embedded = embeddedSnapshot(),
           Scheduler.ineligibility(embedded, request, nowMillis: now, settings: settings) == nil {
            if let remote = best {
                let (localScore, remoteScore) = (Scheduler.score(embedded, request), Scheduler.score(remote, request))
                if Scheduler.ranksBefore(embedded, localScore, remote, remoteScore, preferLocal: preferLocal) { best = embedded }
            } else {
                best = embedded
            }
        }
        guard let worker = best else { return nil }
        if let local, worker.embedded { return local.place(request) }
        guard let rpcURL = worker.capacity.rpcURL else { return nil }
        return (worker.id, RemoteWorkerProvider(
            name: request.provider, worker: WorkerAddress(id: worker.id, rpcURL: rpcURL), epoch: worker.epoch, target: nil,
            rpc: rpc, store: store, leaseGraceMs: settings.leaseGraceMs, timeouts: timeouts, lost: false))
    }

    private func embeddedSnapshot() -> WorkerSnapshot? {
        guard let local else { return nil }
        return WorkerSnapshot(id: local.workerID, epoch: "embedded", providers: localProviders, capabilities: ["spawn"],
                              capacity: localCapacity, lastHeartbeat: nil, heartbeatIntervalMs: 1, embedded: true,
                              usage: localUsage.current)
    }

    public func knowsProvider(_ name: String) -> Bool {
        if local?.knowsProvider(name) == true { return true }
        return registry.anyAliveAdvertises(name, nowMillis: Int64(Date().timeIntervalSince1970 * 1000))
    }

    public func refreshStatus(_ sandbox: SandboxRecord) async -> RuntimeStatus? {
        if let local, (sandbox.workerID ?? local.workerID) == local.workerID { return nil }
        let now = monotonicNanos()
        let due = lastRefresh.withLock { table -> Bool in
            if let last = table[sandbox.id], now - last < 5_000_000_000 { return false }
            if table.count > 100_000 { table = table.filter { now - $0.value < 5_000_000_000 } }
            table[sandbox.id] = now
            return true
        }
        guard due, let provider = provider(for: sandbox) else { return nil }
        return await provider.status(sandbox.vmID ?? sandbox.id)
    }

    public func pushLease(_ lease: LeaseRecord, for sandbox: SandboxRecord) async {
        guard let provider = provider(for: sandbox) as? RemoteWorkerProvider else { return }
        await provider.pushLease(lease)
    }

    public func account(workerID: String, memoryMB: Int, vcpus: Int, delta: Int) {
        if let local, workerID == local.workerID {
            localUsage.add(memoryMB: memoryMB, vcpus: vcpus, delta: delta)
        } else {
            registry.account(workerID: workerID, memoryMB: memoryMB, vcpus: vcpus, delta: delta)
        }
    }
}

/// The embedded worker's usage as the scheduler counts it.
final class LocalUsage: Sendable {
    private let usage: Mutex<WorkerUsageInfo>
    init(_ initial: WorkerUsageInfo) { usage = Mutex(initial) }
    var current: WorkerUsageInfo { usage.withLock { $0 } }
    func add(memoryMB: Int, vcpus: Int, delta: Int) {
        usage.withLock {
            $0.sandboxes = max(0, $0.sandboxes + delta)
            $0.memoryMB = max(0, $0.memoryMB + delta * memoryMB)
            $0.vcpus = max(0, $0.vcpus + delta * vcpus)
        }
    }
}

/// A provider on a remote worker, spoken to through worker RPC with fencing leases (workers.md §6,
/// §8). Bound either to a worker (to spawn there) or to one sandbox's record (everything else).
public struct RemoteWorkerProvider: Provider {
    public struct Timeouts: Sendable {
        public var rpcSeconds: Double = 10
        public var spawnSeconds: Double = 60
        public init(rpcSeconds: Double = 10, spawnSeconds: Double = 60) {
            self.rpcSeconds = rpcSeconds
            self.spawnSeconds = spawnSeconds
        }
    }

    public let name: String
    let worker: WorkerAddress
    let epoch: String
    let target: RPCTarget?
    let rpc: WorkerRPCClient
    let store: any Store
    let leaseGraceMs: Int64
    let timeouts: Timeouts
    /// The worker missed `workers.lost_after_intervals` heartbeats: nothing is sent to it.
    let lost: Bool

    private var unavailable: ProviderError { .workerUnavailable("worker \(worker.id) is lost") }

    public var capabilities: [String] { ["spawn"] }
    public var configSummary: [String: String] { ["worker_id": worker.id, "rpc_url": worker.rpcURL] }

    public func health() async -> HealthReport { HealthReport(healthy: true, latencyMillis: 0) }

    /// workers.md §8 steps 2.2–2.6: the lease is taken for this worker before `worker.spawn` (or
    /// transferred, fencing an earlier ambiguous attempt), released again on a clear refusal.
    public func spawn(_ spec: SpawnSpec) async throws(ProviderError) -> String {
        let expiry = LeaseExpiry.at(spec.expiresAtMillis + leaseGraceMs)
        let lease: LeaseRecord
        do {
            if let existing = try store.getLease(resourceID: spec.sandboxID) {
                lease = try store.transferLease(resourceID: spec.sandboxID, fromGeneration: existing.generation,
                                                newHolderID: worker.id, newHolderEpoch: epoch, expiry: expiry)
            } else {
                lease = try store.acquireLease(resourceID: spec.sandboxID, resourceType: "sandbox", holderID: worker.id,
                                               holderEpoch: epoch, expiry: expiry)
            }
        } catch {
            throw .conflict("cannot take the sandbox lease: \(error.message)")
        }
        let params = SpawnParams(sandboxID: spec.sandboxID, provider: name, image: spec.image, memoryMB: spec.memoryMB,
                                 vcpus: spec.vcpus, expiresAt: Log.timestamp(unixMillis: spec.expiresAtMillis),
                                 metadata: spec.metadata, network: spec.network, env: spec.env.isEmpty ? nil : spec.env)
        do {
            let result: SpawnResult = try await rpc.call(.spawn, on: worker, sandboxID: spec.sandboxID, lease: Self.token(lease),
                                                         params: params, timeoutSeconds: timeouts.spawnSeconds)
            return result.runtimeID
        } catch {
            if error.ambiguous {
                // The worker may have created it: ask it to take it down, and keep the lease so the
                // next attempt transfers it (a generation bump fences this worker out).
                let destroy = DestroyParams(sandboxID: spec.sandboxID, provider: name, runtimeID: nil, reap: true, reason: "spawn_ambiguous")
                let _: DestroyResult? = try? await rpc.call(.destroy, on: worker, sandboxID: spec.sandboxID, lease: Self.token(lease),
                                                            params: destroy, timeoutSeconds: timeouts.rpcSeconds)
            } else {
                try? store.releaseLease(resourceID: spec.sandboxID, holderID: worker.id, generation: lease.generation)
            }
            throw Self.providerError(error, worker: worker.id)
        }
    }

    /// `worker.renew_lease` with the lease as the control plane now has it; the worker confirms it
    /// at the renew endpoint. Best-effort: the next heartbeat's `leases` carry it too.
    func pushLease(_ lease: LeaseRecord) async {
        guard let target, !lost else { return }
        let _: LeaseRenewResponse? = try? await rpc.call(.renewLease, on: worker, sandboxID: target.sandboxID,
                                                         lease: Self.token(lease), params: RenewLeaseParams(resourceID: target.sandboxID),
                                                         timeoutSeconds: timeouts.rpcSeconds)
    }

    public func status(_ runtimeID: String) async -> RuntimeStatus {
        guard let target else { return .missing }
        if lost { return .running }  // unknown: only the worker's own word makes a runtime missing
        do {
            let result: SandboxStatusResult = try await rpc.call(.status, on: worker, sandboxID: target.sandboxID, params: target,
                                                                 timeoutSeconds: min(2, timeouts.rpcSeconds))
            return RuntimeStatus(rawValue: result.state) ?? .running
        } catch {
            // Unreachable is not "gone": only the worker's own word makes a runtime missing.
            return error.typed == .notFound ? .missing : .running
        }
    }

    /// `worker.destroy` with the current lease; on success the lease is released (generation-
    /// checked). A sandbox without a lease any more was already destroyed.
    public func destroy(_ runtimeID: String) async throws(ProviderError) -> Bool {
        guard let target else { return false }
        if lost { throw unavailable }
        let lease: LeaseRecord?
        do { lease = try store.getLease(resourceID: target.sandboxID) } catch { throw .internal("lease lookup: \(error)") }
        guard let lease else { return false }
        let params = DestroyParams(sandboxID: target.sandboxID, provider: target.provider, runtimeID: target.runtimeID,
                                   reap: lease.holderID != worker.id ? true : nil)
        let result: DestroyResult
        do {
            result = try await rpc.call(.destroy, on: worker, sandboxID: target.sandboxID, lease: Self.token(lease),
                                        params: params, timeoutSeconds: timeouts.rpcSeconds)
        } catch {
            if error.typed == .notFound {
                // Never reached this worker (or long gone): nothing to take down.
                try? store.releaseLease(resourceID: target.sandboxID, holderID: lease.holderID, generation: lease.generation)
                return false
            }
            throw Self.providerError(error, worker: worker.id)
        }
        try? store.releaseLease(resourceID: target.sandboxID, holderID: lease.holderID, generation: lease.generation)
        return result.destroyed
    }

    // Exec, files, logs and previews through the owning worker arrive with remote I/O routing.
    private static let notYet = ProviderError.providerUnavailable("this operation is not yet routed to remote workers")

    public func exec(_ runtimeID: String, _ spec: ExecSpec) async throws(ProviderError) -> ExecResult { throw lost ? unavailable : Self.notYet }
    /// Never reached: `checkExec` refuses first, so the stream is answered with a plain error.
    public func execStream(_ runtimeID: String, _ spec: ExecSpec) -> AsyncStream<ExecEvent> { AsyncStream { $0.finish() } }
    public func checkExec(_ runtimeID: String, _ spec: ExecSpec) async throws(ProviderError) { throw lost ? unavailable : Self.notYet }
    public func writeFile(_ runtimeID: String, path: String, bytes: [UInt8], mode: UInt32?) async throws(ProviderError) -> Int { throw lost ? unavailable : Self.notYet }
    public func readFile(_ runtimeID: String, path: String, maxBytes: Int?) async throws(ProviderError) -> [UInt8] { throw lost ? unavailable : Self.notYet }
    public func list(_ runtimeID: String, path: String) async throws(ProviderError) -> [FileInfo] { throw lost ? unavailable : Self.notYet }
    public func stat(_ runtimeID: String, path: String) async throws(ProviderError) -> FileInfo { throw lost ? unavailable : Self.notYet }
    public func glob(_ runtimeID: String, pattern: String) async throws(ProviderError) -> [String] { throw lost ? unavailable : Self.notYet }
    public func move(_ runtimeID: String, from: String, to: String) async throws(ProviderError) { throw lost ? unavailable : Self.notYet }
    public func chmod(_ runtimeID: String, path: String, mode: UInt32) async throws(ProviderError) { throw lost ? unavailable : Self.notYet }
    public func delete(_ runtimeID: String, path: String, recursive: Bool) async throws(ProviderError) { throw lost ? unavailable : Self.notYet }
    public func console(_ runtimeID: String, lines: Int) async throws(ProviderError) -> [String] { throw lost ? unavailable : Self.notYet }
    public func followConsole(_ runtimeID: String, lines: Int) -> AsyncStream<ConsoleEvent> {
        AsyncStream { $0.finish() }
    }
    public func stats(_ runtimeID: String) async -> SandboxStats? { nil }
    public func listRuntimes() async -> [RuntimeInfo] { [] }
    public func openPort(_ runtimeID: String, port: Int) async throws(ProviderError) -> Int32 { throw lost ? unavailable : Self.notYet }

    static func token(_ lease: LeaseRecord) -> LeaseToken {
        LeaseToken(resourceID: lease.resourceID, holderID: lease.holderID, generation: lease.generation,
                   expiresAt: Log.timestamp(unixMillis: lease.expiresAt))
    }

    /// workers.md §7.3: an RPC failure as the public API answers it.
    static func providerError(_ error: RPCError, worker: String) -> ProviderError {
        if error.transport { return .workerUnavailable("worker \(worker) is unreachable") }
        switch error.typed {
        case .badRequest: return .invalidInput(error.message)
        case .notFound: return .sandboxNotFound
        case .conflict, .leaseMismatch, .leaseStale, .leaseExpired: return .conflict(error.message)
        case .draining: return .workerUnavailable("worker \(worker) is draining")
        case .providerUnavailable: return .providerUnavailable(error.message)
        case .resourceLimit: return .resourceLimit(error.message)
        case .timeout: return .execTimeout
        case .payloadTooLarge: return .tooLarge(error.message)
        case .unauthorized, .forbidden, .unsupportedVersion:
            return .workerUnavailable("worker \(worker) refused the control plane (\(error.code)); check its keys and version")
        case .unknownMethod, .internal, nil: return .internal("worker \(worker): \(error)")
        }
    }
}
