import StacyAPI
import StacyConfig
import StacyHTTP
import StacyJSON
import StacyProviders
import StacyStore
import Synchronization

/// Sandbox lifecycle (runtime.md §3): spawn, read, list, destroy, prune, extend. Exec and files
/// live in extensions. Handlers call this; it validates, decides access, and reaches the runtime
/// only through `placement`.
public final class SandboxManager: Sendable {
    let store: any Store
    let placement: any Placement
    public let registry: ProviderRegistry
    public let settings: ManagerSettings
    let log: Log
    /// Events, exec logs and audit rows leave through this writer, off the request path.
    public let writer: BatchedWriter
    public let operations = OperationMetrics()
    public let spawnQueue: SpawnQueue
    /// Running execs per sandbox, for `limits.max_execs_per_sandbox`. Per-sandbox counts, so no
    /// lock is held across any call.
    let execCounts = Mutex<[String: Int]>([:])

    public init(store: any Store, placement: any Placement, registry: ProviderRegistry, settings: ManagerSettings,
                writer: BatchedWriter, log: Log) {
        self.store = store
        self.writer = writer
        self.spawnQueue = SpawnQueue(capacity: settings.maxSpawnQueue)
        self.placement = placement
        self.registry = registry
        self.settings = settings
        self.log = log
    }

    // MARK: spawn

    /// A spawn body after validation, owner/tenant resolution and defaults (runtime.md §10 step 1).
    struct ValidatedSpawn {
        var owner: String
        var tenant: String
        var image: String
        var providerName: String
        var memory: Int
        var vcpus: Int
        var ttl: GoDuration
        var metadata: [String: String]
        var network: String
        var template: TemplateRecord?

        /// What the scheduler is asked for this spawn (workers.md §9).
        var placementRequest: PlacementRequest { PlacementRequest(provider: providerName, memoryMB: memory, vcpus: vcpus) }
    }

    func validateSpawn(_ request: SpawnRequest, principal: Principal) throws(APIError) -> ValidatedSpawn {
        let owner = try resolveOwner(request.ownerID, principal: principal)
        if let tenant = request.tenantID, !tenant.isEmpty, tenant != principal.tenantID, !principal.isGlobalAdmin {
            throw APIError(status: 403, code: "FORBIDDEN", message: "tenant_id differs from the caller's tenant")
        }
        let tenant = principal.isGlobalAdmin ? (request.tenantID ?? principal.tenantID) : principal.tenantID
        // runtime.md §9: each field comes from the request, else the template, else defaults.
        var template: TemplateRecord?
        if let name = request.template, !name.isEmpty {
            do { template = try visibleTemplate(name, principal: principal) } catch {
                throw .badRequest("unknown template '\(name)'")
            }
        }
        let image = request.image ?? template?.image ?? settings.defaultImage
        try Validate.image(image)
        let providerName = request.provider ?? template.flatMap { $0.provider.isEmpty ? nil : $0.provider } ?? registry.defaultName
        guard placement.knowsProvider(providerName) else {
            throw .badRequest("unknown provider '\(providerName)'")
        }
        let memory = request.memoryMB ?? template?.memoryMB ?? settings.defaultMemoryMB
        guard (16...settings.maxMemoryMB).contains(memory) else {
            throw .badRequest("memory_mb must be between 16 and \(settings.maxMemoryMB)")
        }
        let vcpus = request.vcpus ?? template?.vcpus ?? settings.defaultVCPUs
        guard (1...settings.maxVCPUs).contains(vcpus) else {
            throw .badRequest("vcpus must be between 1 and \(settings.maxVCPUs)")
        }
        let ttl = try positiveDuration(request.ttl ?? template?.ttl, field: "ttl") ?? settings.defaultTTL
        var metadata = template.map { (try? JanssonDecoder().decode([String: String].self, from: Array($0.metadataJSON.utf8))) ?? [:] } ?? [:]
        metadata.merge(request.metadata ?? [:]) { $1 }
        if let template { metadata["template"] = template.name }
        try Validate.metadata(metadata)
        let network = request.network ?? "none"
        guard network == "none" || network == "host" else { throw .badRequest("network must be none or host") }
        return ValidatedSpawn(owner: owner, tenant: tenant, image: image, providerName: providerName, memory: memory,
                              vcpus: vcpus, ttl: ttl, metadata: metadata, network: network, template: template)
    }

    /// What the scheduler would be asked for this spawn body (`POST /admin/placement/explain`).
    public func placementRequest(_ request: SpawnRequest, principal: Principal) throws(APIError) -> PlacementRequest {
        try validateSpawn(request, principal: principal).placementRequest
    }

    public func spawn(_ request: SpawnRequest, principal: Principal) async throws(APIError) -> Sandbox {
        let validated = try validateSpawn(request, principal: principal)
        let (owner, tenant, image, memory, vcpus, ttl, metadata, network) = (
            validated.owner, validated.tenant, validated.image, validated.memory, validated.vcpus, validated.ttl,
            validated.metadata, validated.network)
        let placed = placement.place(validated.placementRequest)
        let deadline = monotonicNanos() + settings.spawnDeadlineNanos
        var decision = try admit(owner: owner, tenant: tenant, ttl: ttl, providerKnown: placed != nil)
        var queuedSince: UInt64?
        // runtime.md §10: capacity refusals wait in the queue (queue mode) until room frees, the
        // queue timeout or the spawn deadline; everything else is refused at once.
        while !decision.allowed && decision.queueable {
            let now = monotonicNanos()
            if queuedSince == nil {
                queuedSince = now
                writer.submit(.event(EventRecord(type: "spawn.queued", tenantID: tenant, ownerID: owner,
                                                 dataJSON: Self.json(["reason": decision.reason]))))
            }
            let until = min(queuedSince! + UInt64(max(0, settings.spawnQueueTimeout.nanoseconds)), deadline)
            guard until > now else { break }
            let outcome = await spawnQueue.wait(timeoutNanos: until - now)
            if case .woken = outcome {
                decision = try admit(owner: owner, tenant: tenant, ttl: ttl, providerKnown: placed != nil)
                continue
            }
            writer.submit(.event(EventRecord(type: "spawn.queue_timeout", tenantID: tenant, ownerID: owner,
                                             dataJSON: Self.json(["reason": decision.reason]))))
            if case .full = outcome { throw .resourceLimit("spawn queue is full") }
            break
        }
        if queuedSince != nil && decision.allowed {
            writer.submit(.event(EventRecord(type: "spawn.dequeued", tenantID: tenant, ownerID: owner)))
        }
        guard decision.allowed, placed != nil else {
            throw SandboxManager.refusal(decision)
        }

        let id = SandboxManager.newSandboxID()
        let now = try storeCall { try store.now() }
        let expiresAt = now + ttl.nanoseconds / 1_000_000
        let metadataJSON = String(decoding: (try? JanssonEncoder().encode(metadata)) ?? Array("{}".utf8), as: UTF8.self)
        let limits = try effectiveLimits(owner: owner)
        let spec = SpawnSpec(sandboxID: id, image: image, memoryMB: memory, vcpus: vcpus, network: network,
                             env: [:], metadata: metadata, expiresAtMillis: expiresAt)
        // workers.md §8: up to scheduler.max_attempts workers; a worker that refuses (draining, full,
        // provider down, unreachable before the request went out) is skipped for the next best.
        var request = validated.placementRequest
        var refusals: [ProviderError] = []
        for _ in 0..<settings.maxPlacementAttempts {
            guard let (workerID, provider) = placement.place(request) else { break }
            let reserved = try storeCall {
                try store.reserveSandbox(SandboxRecord(
                    id: id, state: "creating", provider: provider.name, image: image, memoryMB: memory, vcpus: vcpus,
                    network: network, metadataJSON: metadataJSON, envJSON: validated.template?.envJSON ?? "{}",
                    template: validated.template?.name, ownerID: owner, tenantID: tenant, workerID: workerID,
                    expiresAt: expiresAt, originalExpiresAt: expiresAt),
                    maxActive: settings.maxSandboxes, maxActiveForOwner: limits.maxOwnerSandboxes)
            }
            // Admission passed, but a concurrent spawn took the last slot first (runtime.md §10:
            // caps are re-checked inside the reservation transaction).
            guard reserved != nil else { throw .resourceLimit("sandbox limit reached") }
            let runtimeID: String
            let started = monotonicNanos()
            do {
                runtimeID = try await provider.spawn(spec)
            } catch {
                // A failed spawn leaves nothing behind: the reservation row goes (runtime.md §3).
                _ = try? store.deleteSandbox(id)
                log.warn("spawn failed", [("sandbox_id", .string(id)), ("worker_id", .string(workerID)),
                                          ("error", .string(String(describing: error)))])
                operations.record("spawn", provider: provider.name, startedNanos: started, error: error.code)
                writer.submit(.event(EventRecord(type: "operation.failed", sandboxID: id, workerID: workerID, tenantID: tenant,
                                                 ownerID: owner, dataJSON: Self.json(["operation": "spawn", "provider": provider.name,
                                                                                      "error": error.code]))))
                if Self.refusesPlacement(error) {
                    refusals.append(error)
                    request.excluded.insert(workerID)
                    continue
                }
                throw error.apiError
            }
            return try await finishSpawn(id: id, runtimeID: runtimeID, workerID: workerID, provider: provider,
                                         validated: validated, started: started)
        }
        throw Self.placementFailure(refusals, decision: decision)
    }

    /// Setup commands, then `creating` → `running`; a failure here takes the runtime down again.
    private func finishSpawn(id: String, runtimeID: String, workerID: String, provider: any Provider,
                             validated: ValidatedSpawn, started: UInt64) async throws(APIError) -> Sandbox {
        if let template = validated.template {
            // The sandbox is `running` only after its setup commands succeeded (runtime.md §9).
            if let failure = await runSetup(template, runtimeID: runtimeID, provider: provider, deadline: started + settings.spawnDeadlineNanos) {
                await compensate(id: id, runtimeID: runtimeID, workerID: workerID, provider: provider, validated: validated)
                operations.record("spawn", provider: provider.name, startedNanos: started, error: "SETUP_FAILED")
                throw APIError(status: 422, code: "SETUP_FAILED", message: failure)
            }
        }
        do {
            let running = try store.markSandboxRunning(id: id, vmID: runtimeID == id ? nil : runtimeID,
                                                       workerID: workerID, previewDomain: settings.previewDomain)
            placement.account(workerID: workerID, memoryMB: validated.memory, vcpus: validated.vcpus, delta: 1)
            operations.record("spawn", provider: provider.name, startedNanos: started)
            publish("sandbox.created", running, data: ["provider": provider.name, "image": validated.image])
            publish("sandbox.running", running)
            log.info("sandbox running", [("sandbox_id", .string(id)), ("provider", .string(provider.name)),
                                         ("worker_id", .string(workerID))])
            return wire(running)
        } catch {
            // Destroyed while starting (the destroy won), or the row could not be written: the
            // compensating destroy takes the runtime down so nothing runs without a record.
            await compensate(id: id, runtimeID: runtimeID, workerID: workerID, provider: provider, validated: validated)
            throw .notFound("sandbox was destroyed while it was starting")
        }
    }

    /// workers.md §8 step 4: takes down a runtime whose spawn cannot finish, through the provider
    /// that owns it (a remote one destroys under the sandbox's lease and releases it), and deletes
    /// the reservation if it is still one (a row a concurrent destroy already marked stays).
    private func compensate(id: String, runtimeID: String, workerID: String, provider: any Provider,
                            validated: ValidatedSpawn) async {
        let record = SandboxRecord(id: id, state: "creating", provider: provider.name, image: validated.image,
                                   memoryMB: validated.memory, vcpus: validated.vcpus, workerID: workerID,
                                   vmID: runtimeID == id ? nil : runtimeID)
        _ = try? await (placement.provider(for: record) ?? provider).destroy(runtimeID)
        if (try? store.getSandbox(id))?.state == "creating" { _ = try? store.deleteSandbox(id) }
    }

    /// A spawn error that sends the spawn to the next worker (workers.md §8, step 5).
    static func refusesPlacement(_ error: ProviderError) -> Bool {
        switch error {
        case .providerUnavailable, .resourceLimit, .workerUnavailable: return true
        default: return false
        }
    }

    /// Every attempt refused (workers.md §8, step 3): one refusal answers as itself; several are
    /// 429 when all said RESOURCE_LIMIT, else 503 WORKER_UNAVAILABLE. None at all: no worker fit.
    static func placementFailure(_ refusals: [ProviderError], decision: AdmissionDecision) -> APIError {
        if refusals.count == 1 { return refusals[0].apiError }
        if refusals.isEmpty {
            var none = decision
            none.reason = "worker_unavailable"
            return refusal(none)
        }
        if refusals.allSatisfy({ if case .resourceLimit = $0 { return true } else { return false } }) {
            return .resourceLimit("every worker refused: resource limits reached")
        }
        return APIError(status: 503, code: "WORKER_UNAVAILABLE", message: "every placement attempt was refused")
    }

    /// Runs a template's setup commands in order; the first failure, as a message, or nil.
    private func runSetup(_ template: TemplateRecord, runtimeID: String, provider: any Provider, deadline: UInt64) async -> String? {
        let commands = (try? JanssonDecoder().decode([String].self, from: Array(template.setupJSON.utf8))) ?? []
        let env = (try? JanssonDecoder().decode([String: String].self, from: Array(template.envJSON.utf8))) ?? [:]
        let perCommand = settings.defaultExecTimeout.nanoseconds > 0 ? settings.defaultExecTimeout : settings.maxExecTimeout
        for (index, command) in commands.enumerated() {
            let now = monotonicNanos()
            guard now < deadline else { return "setup command \(index) did not start before the spawn deadline" }
            let timeout = min(perCommand.nanoseconds, Int64(deadline - now))
            let spec = ExecSpec(argv: ExecCommand.shell(command, []), env: env, workdir: "/workspace", stdin: [],
                                timeoutNanos: timeout, maxOutputBytes: 64 << 10)
            do {
                let result = try await provider.exec(runtimeID, spec)
                if result.exitCode != 0 { return "setup command \(index) exited with \(result.exitCode)" }
            } catch .execTimeout {
                return "setup command \(index) timed out"
            } catch {
                return "setup command \(index) failed: \(error.message)"
            }
        }
        return nil
    }

    /// A denied admission as the spawn answers it (runtime.md §10: 429, or 503 without a worker).
    static func refusal(_ decision: AdmissionDecision) -> APIError {
        switch decision.reason {
        case "max_ttl": return .resourceLimit("ttl exceeds the maximum \(decision.maxTTL)")
        case "max_sandboxes": return .resourceLimit("sandbox limit reached (\(decision.maxSandboxes))")
        case "max_sandboxes_per_owner": return .resourceLimit("sandbox limit for this owner reached (\(decision.maxOwnerSandboxes))")
        default: return APIError(status: 503, code: "WORKER_UNAVAILABLE", message: "no worker can place this sandbox")
        }
    }

    private func resolveOwner(_ requested: String?, principal: Principal) throws(APIError) -> String {
        guard let requested, !requested.isEmpty else { return principal.ownerID }
        let owner = try Validate.ownerID(requested)
        if !principal.ownerID.isEmpty && owner != principal.ownerID && !principal.has("operator:*") {
            throw APIError(status: 403, code: "FORBIDDEN", message: "owner_id differs from the caller's owner")
        }
        return owner
    }

    // MARK: read

    /// The stored record. A remote sandbox whose refresh is due is refreshed through its worker in
    /// the background (api.md §5), so a read never waits on a worker; the next read sees the result.
    public func get(_ id: String, principal: Principal) throws(APIError) -> Sandbox {
        let record = try liveRecord(id, principal: principal)
        if record.workerID != settings.workerID { Task { await refresh(record) } }
        return wire(record)
    }

    /// Applies what the owning worker says about a runtime: gone → `destroyed` (`runtime_missing`),
    /// stopped → `unhealthy`, running again → `running`.
    func refresh(_ record: SandboxRecord) async {
        guard let status = await placement.refreshStatus(record) else { return }
        switch status {
        case .missing where record.state != "destroyed":
            _ = try? store.updateSandboxState(id: record.id, state: "destroyed", reason: "runtime_missing")
            _ = try? store.deleteLease(resourceID: record.id)
            if let workerID = record.workerID {
                placement.account(workerID: workerID, memoryMB: record.memoryMB, vcpus: record.vcpus, delta: -1)
            }
            publish("sandbox.destroyed", record, data: ["reason": "runtime_missing"])
        case .stopped where record.state == "running":
            _ = try? store.updateSandboxState(id: record.id, state: "unhealthy", reason: "runtime_stopped")
            publish("sandbox.unhealthy", record, data: ["reason": "runtime_stopped"])
        case .running where record.state == "unhealthy":
            _ = try? store.updateSandboxState(id: record.id, state: "running", reason: nil)
            publish("sandbox.running", record)
        default:
            break
        }
    }

    public struct ListFilter: Sendable {
        public var state: String?
        public var provider: String?
        public var workerID: String?
        public var template: String?
        public var ownerID: String?
        public var includeDestroyed = false
        public init() {}
    }

    /// At most this many rows without paging (api.md §1); the caller flags truncation.
    public static let listCap = 10_000

    /// Visible sandboxes in (created_at, id) order, after `afterID`, at most `limit`; the second
    /// value is true when more exist. Store pages are read until enough pass the filters.
    public func list(_ filter: ListFilter, principal: Principal, limit: Int = SandboxManager.listCap,
                     afterID: String? = nil) throws(APIError) -> (sandboxes: [Sandbox], more: Bool) {
        if filter.ownerID != nil || filter.includeDestroyed { try principal.require("operator:*") }
        var storeFilter = SandboxFilter(limit: min(limit + 1, 1000))
        if !principal.isGlobalAdmin { storeFilter.tenantID = principal.tenantID }
        if !principal.has("operator:*") { storeFilter.ownerID = principal.ownerID }
        if let owner = filter.ownerID { storeFilter.ownerID = owner }
        if let state = filter.state { storeFilter.states = [state] }
        storeFilter.afterID = afterID
        var visible: [SandboxRecord] = []
        while visible.count <= limit {
            let rows: [SandboxRecord]
            do { rows = try store.listSandboxes(filter: storeFilter) } catch .notFound {
                throw .badRequest("invalid cursor")
            } catch {
                throw error.apiError
            }
            visible += rows.filter { row in
                (filter.includeDestroyed || row.state != "destroyed")
                    && filter.provider.map { $0 == row.provider } ?? true
                    && filter.workerID.map { $0 == row.workerID } ?? true
                    && filter.template.map { $0 == row.template } ?? true
                    && principal.canSee(ownerID: row.ownerID, tenantID: row.tenantID)
            }
            guard rows.count == storeFilter.limit, let last = rows.last else { break }
            storeFilter.afterID = last.id
        }
        return (visible.prefix(limit).map(wire), visible.count > limit)
    }

    // MARK: destroy, prune, extend

    /// Idempotent: an already destroyed sandbox the caller may see is success too.
    public func destroy(_ id: String, principal: Principal) async throws(APIError) {
        let record = try visibleRecord(id, principal: principal)
        guard record.state != "destroyed" else { return }
        try await destroyRuntime(record, reason: "destroyed")
    }

    func destroyRuntime(_ record: SandboxRecord, reason: String) async throws(APIError) {
        var finalReason = reason
        if let provider = placement.provider(for: record) {
            let started = monotonicNanos()
            do {
                _ = try await provider.destroy(record.vmID ?? record.id)
                operations.record("destroy", provider: provider.name, startedNanos: started)
            } catch {
                operations.record("destroy", provider: provider.name, startedNanos: started, error: error.code)
                // The row still says destroyed so nobody uses it; the runtime is reaped later.
                log.error("destroy failed", [("sandbox_id", .string(record.id)), ("error", .string(String(describing: error)))])
                finalReason = "destroy_pending"
            }
        } else {
            finalReason = "destroy_pending"
        }
        if finalReason == "destroy_pending" {
            // The runtime may still run: the worker is told through its heartbeat `revoked`, and the
            // row keeps counting against it until an inventory shows the runtime gone (workers.md §8).
            _ = try? storeCall { try store.markSandboxDestroyPending(id: record.id) }
        } else {
            _ = try? storeCall { try store.updateSandboxState(id: record.id, state: "destroyed", reason: finalReason) }
        }
        if finalReason != "destroy_pending", let workerID = record.workerID {
            placement.account(workerID: workerID, memoryMB: record.memoryMB, vcpus: record.vcpus, delta: -1)
        }
        publish("sandbox.destroyed", record, data: ["reason": finalReason])
        spawnQueue.wakeAll()
        log.info("sandbox destroyed", [("sandbox_id", .string(record.id)), ("reason", .string(finalReason))])
    }

    /// Destroys every expired sandbox the caller may see.
    public func prune(principal: Principal) async throws(APIError) -> Int {
        let now = try storeCall { try store.now() }
        var filter = SandboxFilter(limit: SandboxManager.listCap)
        if !principal.isGlobalAdmin { filter.tenantID = principal.tenantID }
        if !principal.has("operator:*") { filter.ownerID = principal.ownerID }
        let rows = try storeCall { try store.listSandboxes(filter: filter) }
        var pruned = 0
        for row in rows where row.state != "destroyed" && (row.state == "expired" || (row.expiresAt ?? .max) < now)
            && principal.canSee(ownerID: row.ownerID, tenantID: row.tenantID) {
            try await destroyRuntime(row, reason: "expired")
            pruned += 1
        }
        return pruned
    }

    /// api.md §5.4: `set` (default) = now + ttl; `add` = max(now, expiry) + ttl.
    public func extend(_ id: String, _ request: ExtendRequest, principal: Principal) throws(APIError) -> Sandbox {
        guard let ttl = try positiveDuration(request.ttl, field: "ttl") else { throw .badRequest("ttl is required") }
        let mode = request.mode ?? "set"
        guard mode == "set" || mode == "add" || mode == "" else { throw .badRequest("mode must be set or add") }
        let record = try liveRecord(id, principal: principal)
        let now = try storeCall { try store.now() }
        let base = mode == "add" ? max(now, record.expiresAt ?? now) : now
        let (expiresAt, past) = base.addingReportingOverflow(ttl.nanoseconds / 1_000_000)
        guard !past else { throw .badRequest("ttl takes the expiry beyond representable time") }
        if settings.maxTTL.nanoseconds > 0 && expiresAt - now > settings.maxTTL.nanoseconds / 1_000_000 {
            throw .resourceLimit("new expiry is more than \(settings.maxTTL) away")
        }
        let extended = try storeCall { try store.setSandboxExpiry(id: id, expiresAt: expiresAt) }
        // The lease follows (workers.md §6.2): expiry + leases.grace; the owning worker is told now,
        // and by its next heartbeat's `leases` if that push fails.
        if let lease = try? store.getLease(resourceID: id),
           let moved = try? store.setLeaseExpiry(resourceID: id, generation: lease.generation,
                                                 expiry: .at(expiresAt + settings.leaseGraceMs)) {
            Task { [placement] in await placement.pushLease(moved, for: extended) }
        }
        publish("sandbox.extended", extended, data: ["expires_at": Log.timestamp(unixMillis: expiresAt)])
        return wire(extended)
    }

    public func stats(_ id: String, principal: Principal) async throws(APIError) -> SandboxStatsResponse {
        let (record, provider) = try await runtime(id, principal: principal)
        guard let stats = await provider.stats(record.vmID ?? record.id) else { return SandboxStatsResponse(supported: false) }
        return SandboxStatsResponse(supported: true, cpuPct: stats.cpuPct, memBytes: stats.memBytes, memLimitBytes: stats.memLimitBytes)
    }

    public func logs(_ id: String, lines: Int, principal: Principal) async throws(APIError) -> [String] {
        guard (1...10_000).contains(lines) else { throw .badRequest("lines must be between 1 and 10000") }
        let (record, provider) = try await runtime(id, principal: principal)
        do { return try await provider.console(record.vmID ?? record.id, lines: lines) } catch { throw error.apiError }
    }

    /// Console lines, then new ones until the sandbox is destroyed (api.md §10 `follow`).
    public func followLogs(_ id: String, lines: Int, principal: Principal) async throws(APIError) -> AsyncStream<ConsoleEvent> {
        guard (1...10_000).contains(lines) else { throw .badRequest("lines must be between 1 and 10000") }
        let (record, provider) = try await runtime(id, principal: principal)
        return provider.followConsole(record.vmID ?? record.id, lines: lines)
    }

    /// The reaper's destroy of an expired sandbox; false when the runtime could not be
    /// destroyed now (the row stays `expired` and is retried with backoff).
    func destroyExpired(_ record: SandboxRecord) async -> Bool {
        if let provider = placement.provider(for: record) {
            let started = monotonicNanos()
            do {
                _ = try await provider.destroy(record.vmID ?? record.id)
                operations.record("destroy", provider: provider.name, startedNanos: started)
            } catch {
                operations.record("destroy", provider: provider.name, startedNanos: started, error: error.code)
                log.warn("reaper destroy failed", [("sandbox_id", .string(record.id)), ("error", .string(error.message))])
                return false
            }
        }
        _ = try? store.updateSandboxState(id: record.id, state: "destroyed", reason: "expired")
        publish("sandbox.destroyed", record, data: ["reason": "expired"])
        spawnQueue.wakeAll()
        return true
    }

    // MARK: events

    /// Hands an event about `record` to the batched writer (runtime.md §11).
    func publish(_ type: String, _ record: SandboxRecord, data: [String: String] = [:]) {
        writer.submit(.event(EventRecord(type: type, sandboxID: record.id, workerID: record.workerID,
                                         tenantID: record.tenantID ?? "", ownerID: record.ownerID ?? "",
                                         dataJSON: Self.json(data))))
    }

    static func json(_ data: [String: String]) -> String {
        guard !data.isEmpty, let bytes = try? JanssonEncoder().encode(data) else { return "{}" }
        return String(decoding: bytes, as: UTF8.self)
    }

    // MARK: lookup helpers

    /// 404 unless `id` names a live sandbox the caller may see.
    public func requireLive(_ id: String, principal: Principal) throws(APIError) {
        _ = try liveRecord(id, principal: principal)
    }

    /// The record if the caller may see it, destroyed ones included (for idempotent destroy).
    func visibleRecord(_ id: String, principal: Principal) throws(APIError) -> SandboxRecord {
        guard Validate.isSandboxID(id), let record = try storeCall({ try store.getSandbox(id) }),
              principal.canSee(ownerID: record.ownerID, tenantID: record.tenantID) else {
            throw .sandboxNotFound
        }
        return record
    }

    /// A sandbox that is not destroyed; everything else is 404, exactly like an unknown ID.
    func liveRecord(_ id: String, principal: Principal) throws(APIError) -> SandboxRecord {
        let record = try visibleRecord(id, principal: principal)
        guard record.state != "destroyed" && record.state != "creating" else { throw .sandboxNotFound }
        return record
    }

    /// A live sandbox and the provider that runs it.
    func runtime(_ id: String, principal: Principal) async throws(APIError) -> (SandboxRecord, any Provider) {
        let record = try liveRecord(id, principal: principal)
        guard record.state != "expired" else { throw .sandboxNotFound }
        guard let provider = placement.provider(for: record) else {
            throw APIError(status: 503, code: "WORKER_UNAVAILABLE", message: "the sandbox's worker is not reachable")
        }
        return (record, provider)
    }

    func storeCall<T>(_ body: () throws -> T) throws(APIError) -> T {
        do { return try body() } catch let error as StoreError {
            if case .notFound = error { throw .sandboxNotFound }
            log.error("store failure", [("error", .string(error.detail))])
            throw error.apiError
        } catch {
            throw .internalError
        }
    }

    func positiveDuration(_ raw: String?, field: String) throws(APIError) -> GoDuration? {
        guard let raw else { return nil }
        let parsed: GoDuration
        do { parsed = try GoDuration.parse(raw) } catch { throw .badRequest("\(field): \(error.message)") }
        guard parsed.nanoseconds > 0 else { throw .badRequest("\(field) must be positive") }
        return parsed
    }

    // MARK: wire form

    func wire(_ record: SandboxRecord) -> Sandbox {
        // Most sandboxes have no metadata: skip the parse for the empty object.
        let metadata = record.metadataJSON == "{}" ? [:]
            : (try? JanssonDecoder().decode([String: String].self, from: Array(record.metadataJSON.utf8))) ?? [:]
        return Sandbox(
            id: record.id, state: record.state, stateReason: record.stateReason, provider: record.provider,
            image: record.image, memoryMB: record.memoryMB, vcpus: record.vcpus, ownerID: nonEmpty(record.ownerID),
            tenantID: nonEmpty(record.tenantID), template: nonEmpty(record.template), vmID: record.vmID,
            workerID: record.workerID ?? settings.workerID, createdAt: Log.timestamp(unixMillis: record.createdAt),
            updatedAt: Log.timestamp(unixMillis: record.updatedAt),
            expiresAt: Log.timestamp(unixMillis: record.expiresAt ?? record.createdAt),
            metadata: metadata.isEmpty ? nil : metadata, previewDomain: record.previewDomain ?? settings.previewDomain)
    }

    private func nonEmpty(_ value: String?) -> String? {
        guard let value, !value.isEmpty else { return nil }
        return value
    }

    /// `sb-` + 24 lowercase hex of 96 random bits.
    static func newSandboxID() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64
        let low = generator.next() as UInt32
        func hex(_ value: UInt64, digits: Int) -> String {
            let text = String(value, radix: 16)
            return String(repeating: "0", count: digits - text.count) + text
        }
        return "sb-" + hex(high, digits: 16) + hex(UInt64(low), digits: 8)
    }
}
