import StacyAPI
import StacyConfig
import StacyHTTP
import StacyJSON
import StacyStore
import Synchronization

/// Control-plane settings for workers (workers.md §2) that the registry needs.
public struct WorkerSettings: Sendable {
    public var staleAfterIntervals = 3
    public var lostAfterIntervals = 5
    public var startupGraceMs: Int64 = 30_000
    public var leaseGraceMs: Int64 = 300_000
    public var defaultDrainDeadlineMs: Int64 = 3_600_000
    /// Heartbeat interval assumed for a worker that never said (workers.md §4: absent = 30 s).
    public static let defaultIntervalMs: Int64 = 30_000

    public init() {}

    public init(config: Config) {
        func millis(_ key: String, _ fallback: Int64) -> Int64 {
            config.value(key)?.durationValue.map { $0.nanoseconds / 1_000_000 } ?? fallback
        }
        staleAfterIntervals = config.value("workers.stale_after_intervals")?.intValue ?? 3
        lostAfterIntervals = config.value("workers.lost_after_intervals")?.intValue ?? 5
        startupGraceMs = millis("workers.startup_grace", 30_000)
        leaseGraceMs = millis("leases.grace", 300_000)
        defaultDrainDeadlineMs = millis("workers.default_drain_deadline", 3_600_000)
    }
}

/// workers.md §4.1: how many heartbeats a worker has missed, counted from its last heartbeat, or
/// from when this control plane started leading plus the startup grace, whichever is later, so
/// a restart never declares anyone lost before a full window has passed.
public enum Liveness {
    public static func of(lastHeartbeat: Int64?, intervalMs: Int64, now: Int64, leaderSince: Int64,
                          settings: WorkerSettings) -> String {
        let since = max(lastHeartbeat ?? 0, leaderSince + settings.startupGraceMs)
        let missed = now <= since ? 0 : (now - since) / max(1, intervalMs)
        if missed >= Int64(settings.lostAfterIntervals) { return "lost" }
        if missed >= Int64(settings.staleAfterIntervals) { return "stale" }
        return "alive"
    }
}

/// The worker registry of the control plane: heartbeats in, Worker objects out (api.md §8.4).
public final class WorkerRegistry: Sendable {
    private let store: any Store
    private let writer: BatchedWriter
    private let settings: WorkerSettings
    private let instanceID: String
    private let publicKeys: [String]
    /// Database time when this control plane started leading (on SQLite: when it started).
    let leaderSince: Int64
    /// Asked for an inventory of a worker whose epoch changed (workers.md §11).
    private let inventoryDue = Mutex<(@Sendable (String) -> Void)?>(nil)
    /// The scheduler's view of remote workers (workers.md §9), refreshed by heartbeats and by
    /// this control plane's own reservations and destroys.
    private let snapshots = Mutex(SnapshotTable())

    public init(store: any Store, writer: BatchedWriter, settings: WorkerSettings, instanceID: String,
                publicKeys: [String]) throws(StoreError) {
        self.store = store
        self.writer = writer
        self.settings = settings
        self.instanceID = instanceID
        self.publicKeys = publicKeys
        leaderSince = try store.now()
        // An unmigrated store (the control plane then answers not-ready) starts with no workers.
        let usage = Dictionary(((try? store.workerUsage()) ?? []).map { ($0.workerID, $0) }, uniquingKeysWith: { a, _ in a })
        var seeded = SnapshotTable()
        for record in (try? store.listWorkers(limit: 1_000_000, afterID: nil)) ?? [] {
            seeded.upsert(Self.snapshot(record, usage: usage[record.id].map {
                WorkerUsageInfo(sandboxes: $0.sandboxes, vcpus: $0.vcpus, memoryMB: $0.memoryMB)
            } ?? WorkerUsageInfo()))
        }
        snapshots.withLock { $0 = seeded }
    }

    // MARK: scheduler snapshot

    static func snapshot(_ record: WorkerRecord, usage: WorkerUsageInfo) -> WorkerSnapshot {
        return WorkerSnapshot(
            id: record.id, status: record.status, adminState: record.adminState, epoch: record.epoch,
            providers: Set(decode([String].self, record.providersJSON) ?? []),
            capabilities: Set(decode([String].self, record.capabilitiesJSON) ?? []),
            capacity: decode(WorkerCapacity.self, record.capacityJSON) ?? WorkerCapacity(),
            lastHeartbeat: record.lastHeartbeat, heartbeatIntervalMs: record.heartbeatIntervalMs ?? WorkerSettings.defaultIntervalMs,
            embedded: false, usage: usage)
    }

    /// The best remote worker for `request` (workers.md §9), chosen in place under the lock: no
    /// copy of the table per spawn.
    public func bestRemote(_ request: PlacementRequest, nowMillis: Int64, preferLocal: Bool) -> WorkerSnapshot? {
        snapshots.withLock { $0.best(request, nowMillis: nowMillis, staleAfterIntervals: settings.staleAfterIntervals) }
    }

    static func snapshot(_ record: WorkerRecord, parsed: ValidatedHeartbeat, usage: WorkerUsageInfo) -> WorkerSnapshot {
        WorkerSnapshot(
            id: record.id, status: record.status, adminState: record.adminState, epoch: record.epoch,
            providers: Set(parsed.providers), capabilities: Set(parsed.capabilities), capacity: parsed.capacity,
            lastHeartbeat: record.lastHeartbeat, heartbeatIntervalMs: parsed.record.heartbeatIntervalMs,
            embedded: false, usage: usage)
    }

    /// Whether an alive worker (one not yet `lost`) advertises `provider`.
    public func anyAliveAdvertises(_ provider: String, nowMillis: Int64) -> Bool {
        snapshots.withLock { $0.anyAdvertises(provider, nowMillis: nowMillis, withinIntervals: settings.lostAfterIntervals) }
    }

    /// Every remote worker as last seen.
    public func remoteSnapshots() -> [WorkerSnapshot] { snapshots.withLock { $0.workers } }

    public func snapshot(_ id: String) -> WorkerSnapshot? { snapshots.withLock { $0[id] } }

    /// A sandbox now counts against (delta 1) or no longer counts against (delta -1) a worker.
    public func account(workerID: String, memoryMB: Int, vcpus: Int, delta: Int) {
        snapshots.withLock { table in
            table.update(workerID) { snapshot in
                snapshot.usage.sandboxes = max(0, snapshot.usage.sandboxes + delta)
                snapshot.usage.memoryMB = max(0, snapshot.usage.memoryMB + delta * memoryMB)
                snapshot.usage.vcpus = max(0, snapshot.usage.vcpus + delta * vcpus)
            }
        }
    }

    /// Who runs inventories (the supervisor, once it starts).
    public func onInventoryDue(_ handler: @escaping @Sendable (String) -> Void) { inventoryDue.withLock { $0 = handler } }

    /// A deleted worker leaves the scheduler's view.
    public func forget(_ workerID: String) { snapshots.withLock { $0.remove(workerID) } }

    /// Drain and undrain change placement at once, before the next heartbeat.
    public func adminStateChanged(_ workerID: String, _ adminState: String) {
        snapshots.withLock { table in table.update(workerID) { $0.adminState = adminState } }
    }

    /// Settings the scheduler ranks with.
    public var workerSettings: WorkerSettings { settings }

    // MARK: heartbeat (workers.md §4)

    public func heartbeat(workerID: String, _ request: HeartbeatRequest) throws(APIError) -> Worker {
        let parsed = try HeartbeatValidation.validate(workerID: workerID, request)
        let staleAfterMs = Int64(settings.staleAfterIntervals) * parsed.record.heartbeatIntervalMs
        let outcome = try storeCall { try store.recordHeartbeat(parsed.record, staleAfterMs: staleAfterMs) }
        guard case .accepted(let worker, let previous) = outcome else {
            throw APIError(status: 409, code: "CONFLICT",
                           message: "epoch superseded: another process with worker ID \(workerID) is newer; this one must exit")
        }
        publishTransitions(worker: worker, previous: previous)
        // The snapshot and the answer are built from the request just validated, not by decoding
        // the JSON columns just written (heartbeats are the hottest write path; docs/benchmarks/workers.md).
        let usage = snapshots.withLock { table -> WorkerUsageInfo in
            let usage = table[workerID]?.usage ?? WorkerUsageInfo()
            table.upsert(Self.snapshot(worker, parsed: parsed, usage: usage))
            return usage
        }
        // last_heartbeat was stamped with database time in the same transaction.
        let now: Int64
        if let stamped = worker.lastHeartbeat { now = stamped } else { now = try storeCall { try store.now() } }
        var view = self.view(worker, now: now, parsed: parsed)
        view.directives = Worker.Directives(draining: worker.adminState != "active",
                                            drainDeadline: worker.drainDeadline.map { Log.timestamp(unixMillis: $0) },
                                            drained: worker.adminState == "drained")
        // Leases and revocations exist only for sandboxes counted against this worker.
        if usage.sandboxes > 0 {
            view.leases = try storeCall { try store.activeLeases(holderID: workerID) }.map {
                LeaseToken(resourceID: $0.resourceID, holderID: $0.holderID, generation: $0.generation,
                           expiresAt: Log.timestamp(unixMillis: $0.expiresAt))
            }
            view.revoked = try storeCall { try store.revocations(workerID: workerID) }
                .map { Worker.Revocation(sandboxID: $0.sandboxID, generation: $0.generation) }
        } else {
            view.leases = []
            view.revoked = []
        }
        view.controlPlane = Worker.ControlPlaneInfo(instanceID: instanceID, protocolVersion: workerProtocolVersion,
                                                    time: Log.timestamp(unixMillis: now), publicKeys: publicKeys)
        return view
    }

    private func publishTransitions(worker: WorkerRecord, previous: WorkerRecord?) {
        guard let previous else {
            publish("worker.online", worker.id, ["epoch": worker.epoch])
            return
        }
        if previous.epoch != worker.epoch {
            publish("worker.epoch_changed", worker.id, ["from": previous.epoch, "to": worker.epoch])
            // A new process: its runtimes may be gone (mock) or re-attached (namespace).
            if let handler = inventoryDue.withLock({ $0 }) { handler(worker.id) }
        }
        if previous.liveness != "alive" || previous.status == "offline", worker.status != "offline" {
            publish("worker.recovered", worker.id, ["from": previous.liveness == "alive" ? previous.status : previous.liveness])
            if previous.epoch == worker.epoch, let handler = inventoryDue.withLock({ $0 }) { handler(worker.id) }
        }
    }

    private func publish(_ type: String, _ workerID: String, _ data: [String: String]) {
        writer.submit(.event(EventRecord(type: type, workerID: workerID, tenantID: "", ownerID: "",
                                         dataJSON: SandboxManager.json(data))))
    }

    // MARK: read side (api.md §8.4)

    public func list(limit: Int, after: String?) throws(APIError) -> [Worker] {
        let records = try storeCall { try store.listWorkers(limit: limit, afterID: after) }
        let usage = try usageByWorker()
        let now = try storeCall { try store.now() }
        return records.map { view($0, now: now, usage: usage[$0.id]) }
    }

    public func get(_ id: String) throws(APIError) -> Worker {
        guard let record = try storeCall({ try store.getWorker(id) }) else {
            throw APIError.notFound("worker \(id) not found")
        }
        let usage = try usageByWorker()[id]
        return view(record, now: try storeCall { try store.now() }, usage: usage)
    }

    private func usageByWorker() throws(APIError) -> [String: WorkerUsage] {
        let rows = try storeCall { try store.workerUsage() }
        return Dictionary(rows.map { ($0.workerID, $0) }, uniquingKeysWith: { a, _ in a })
    }

    /// The Worker object. Usage is what the control plane counts when known (its own records are
    /// authoritative for placement), else what the worker reported.
    func view(_ record: WorkerRecord, now: Int64, usage: WorkerUsage? = nil, parsed: ValidatedHeartbeat? = nil) -> Worker {
        let interval = record.heartbeatIntervalMs ?? WorkerSettings.defaultIntervalMs
        let liveness = Liveness.of(lastHeartbeat: record.lastHeartbeat, intervalMs: interval, now: now,
                                   leaderSince: leaderSince, settings: settings)
        let status: String
        if liveness == "lost" { status = "lost" }
        else if record.status == "offline" { status = "offline" }
        else if record.adminState == "draining" || record.adminState == "drained" { status = record.adminState }
        else { status = record.status }
        let reported = parsed?.usage ?? Self.decode(WorkerUsageInfo.self, record.usageJSON) ?? WorkerUsageInfo()
        let counted = usage.map { WorkerUsageInfo(sandboxes: $0.sandboxes, vcpus: $0.vcpus, memoryMB: $0.memoryMB) }
        let drain = record.adminState == "active" ? nil : Worker.Drain(
            startedAt: record.drainStartedAt.map { Log.timestamp(unixMillis: $0) },
            deadline: record.drainDeadline.map { Log.timestamp(unixMillis: $0) }, reason: record.drainReason)
        return Worker(
            id: record.id, hostname: record.hostname, status: status, stale: liveness != "alive", liveness: liveness,
            adminState: record.adminState, epoch: record.epoch, version: record.version,
            protocolVersion: record.protocolVersion, providers: parsed?.providers ?? Self.decode([String].self, record.providersJSON) ?? [],
            capabilities: parsed?.capabilities ?? Self.decode([String].self, record.capabilitiesJSON) ?? [],
            labels: parsed?.labels ?? Self.decode([String: String].self, record.labelsJSON) ?? [:],
            capacity: parsed?.capacity ?? Self.decode(WorkerCapacity.self, record.capacityJSON) ?? WorkerCapacity(),
            usage: counted ?? reported, drain: drain,
            lastHeartbeat: record.lastHeartbeat.map { Log.timestamp(unixMillis: $0) },
            createdAt: Log.timestamp(unixMillis: record.createdAt), updatedAt: Log.timestamp(unixMillis: record.updatedAt))
    }

    private static func decode<T: Decodable>(_ type: T.Type, _ text: String) -> T? {
        try? JanssonDecoder().decode(type, from: Array(text.utf8))
    }
}

/// A heartbeat after validation: the row to record, and the typed values it was made from.
struct ValidatedHeartbeat: Sendable {
    let record: WorkerHeartbeat
    let providers: [String]
    let capabilities: [String]
    let capacity: WorkerCapacity
    let usage: WorkerUsageInfo
    let labels: [String: String]
}

/// Checks of workers.md §4, turning a wire heartbeat into what the store records.
enum HeartbeatValidation {
    static let statuses = ["online", "draining", "offline"]

    static func validate(workerID: String, _ request: HeartbeatRequest) throws(APIError) -> ValidatedHeartbeat {
        guard isWorkerID(workerID) else { throw APIError.badRequest("invalid worker ID \"\(workerID)\"") }
        let versioned: Bool
        switch request.protocolVersion {
        case nil: versioned = false
        case workerProtocolVersion?: versioned = true
        case let other?:
            throw APIError(status: 400, code: "UNSUPPORTED_VERSION",
                           message: "protocol_version \(other) is not supported; this control plane speaks \(workerProtocolVersion)")
        }
        let status = request.status ?? "online"
        guard statuses.contains(status) else {
            throw APIError.badRequest("status must be one of \(statuses.joined(separator: ", ")), got \"\(status)\"")
        }
        let hostname = request.hostname ?? ""
        guard hostname.utf8.count <= 253, !hostname.contains(where: { $0.isNewline }) else {
            throw APIError.badRequest("hostname must be at most 253 bytes on one line")
        }
        var epoch: String?
        var startedAt: Int64?
        if versioned {
            guard let given = request.epoch, (1...64).contains(given.utf8.count),
                  given.utf8.allSatisfy({ isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }) else {
                throw APIError.badRequest("epoch is required with protocol_version 2 (1-64 letters, digits, '-' or '_')")
            }
            guard let text = request.startedAt, let millis = Log.unixMillis(fromTimestamp: text) else {
                throw APIError.badRequest("started_at is required with protocol_version 2 (RFC 3339)")
            }
            guard request.capabilities != nil else {
                throw APIError.badRequest("capabilities is required with protocol_version 2")
            }
            epoch = given
            startedAt = millis
        }
        let providers = request.providers ?? []
        guard providers.count <= 64 else { throw APIError.badRequest("at most 64 providers") }
        for name in providers where !isProviderName(name) {
            throw APIError.badRequest("invalid provider name \"\(name)\" (expected [a-z][a-z0-9_-]*)")
        }
        var capabilities = request.capabilities ?? ["spawn"]
        if versioned {
            for capability in capabilities where !WorkerCapabilities.all.contains(capability) {
                throw APIError.badRequest("unknown worker capability \"\(capability)\" (expected some of \(WorkerCapabilities.all.joined(separator: ", ")))")
            }
        } else {
            // The original's workers may send provider capability words here; keep the ones we know.
            capabilities = capabilities.filter(WorkerCapabilities.all.contains)
        }
        var intervalMs: Int64 = WorkerSettings.defaultIntervalMs
        if let text = request.heartbeatInterval {
            guard let interval = try? GoDuration.parse(text), interval.nanoseconds >= 1_000_000_000,
                  interval.nanoseconds <= 300_000_000_000 else {
                throw APIError.badRequest("heartbeat_interval must be a duration between 1s and 5m, got \"\(text)\"")
            }
            intervalMs = interval.nanoseconds / 1_000_000
        }
        let capacity = request.capacity ?? WorkerCapacity()
        for (name, value) in [("max_sandboxes", capacity.maxSandboxes), ("max_sandboxes_per_owner", capacity.maxSandboxesPerOwner),
                              ("vcpus", capacity.vcpus), ("memory_mb", capacity.memoryMB)] {
            if let value, value < 0 { throw APIError.badRequest("capacity.\(name) must not be negative") }
        }
        if let url = capacity.rpcURL {
            guard ConfigCheck.advertisableURL.apply(.string(url)) == nil, url.utf8.count <= 2048 else {
                throw APIError.badRequest("capacity.rpc_url must be an http(s) URL with a host others can reach, got \"\(url)\"")
            }
        }
        if let domain = capacity.previewDomain, !domain.isEmpty, ConfigCheck.previewDomain.apply(.string(domain)) != nil {
            throw APIError.badRequest("capacity.preview_domain must be a DNS name, optionally with :port")
        }
        let usage = request.usage ?? WorkerUsageInfo()
        guard usage.sandboxes >= 0, usage.vcpus >= 0, usage.memoryMB >= 0 else {
            throw APIError.badRequest("usage values must not be negative")
        }
        let labels = request.labels ?? [:]
        guard labels.count <= 64, labels.allSatisfy({ !$0.key.isEmpty && $0.key.utf8.count <= 128 && $0.value.utf8.count <= 256 }) else {
            throw APIError.badRequest("labels: at most 64, keys 1-128 bytes, values at most 256 bytes")
        }
        let version = request.version ?? ""
        guard version.utf8.count <= 64 else { throw APIError.badRequest("version must be at most 64 bytes") }
        let record = WorkerHeartbeat(
            workerID: workerID, hostname: hostname, status: status, epoch: epoch, startedAt: startedAt,
            protocolVersion: versioned ? workerProtocolVersion : 1, version: version, heartbeatIntervalMs: intervalMs,
            providersJSON: json(providers), capabilitiesJSON: json(capabilities), capacityJSON: json(capacity),
            usageJSON: json(usage), labelsJSON: json(labels))
        return ValidatedHeartbeat(record: record, providers: providers, capabilities: capabilities, capacity: capacity,
                                  usage: usage, labels: labels)
    }

    private static func json<T: Encodable>(_ value: T) -> String {
        (try? JanssonEncoder().encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "null"
    }

    private static func isAlphanumeric(_ b: UInt8) -> Bool { (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) }

    static func isProviderName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard (1...64).contains(bytes.count), (97...122).contains(bytes[0]) else { return false }
        return bytes.allSatisfy { (97...122).contains($0) || (48...57).contains($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    /// README §4 worker IDs: 1-63 of letters, digits, '.', '_', '-', starting alphanumeric.
    static func isWorkerID(_ id: String) -> Bool {
        let bytes = Array(id.utf8)
        guard (1...63).contains(bytes.count), isAlphanumeric(bytes[0]) else { return false }
        return bytes.allSatisfy { isAlphanumeric($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }
}
