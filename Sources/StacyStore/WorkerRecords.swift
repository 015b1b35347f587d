// Records of the worker runtime (workers.md §4–6, runtime.md §12): the worker registry, worker
// credentials and fencing leases. Times are database-time Unix milliseconds, like every record.

/// A row of `workers`. JSON columns are carried as text and decoded by the orchestrator.
public struct WorkerRecord: Sendable, Equatable {
    public var id: String
    public var hostname: String
    /// What the worker last reported: `online`, `draining` or `offline`.
    public var status: String
    /// `alive`, `stale` or `lost` (workers.md §4.1), written by the liveness detector.
    public var liveness: String
    /// `active`, `draining` or `drained` (workers.md §10); the control plane's decision.
    public var adminState: String
    /// 128 random bits in hex from the worker process, or `legacy` for a version-less heartbeat.
    public var epoch: String
    public var startedAt: Int64?
    public var protocolVersion: Int
    public var version: String
    public var heartbeatIntervalMs: Int64?
    /// JSON array text of provider names.
    public var providersJSON: String
    /// JSON array text of worker capabilities.
    public var capabilitiesJSON: String
    /// JSON object text (`max_sandboxes`, `vcpus`, `memory_mb`, `rpc_url`, …).
    public var capacityJSON: String
    /// JSON object text (`sandboxes`, `vcpus`, `memory_mb`).
    public var usageJSON: String
    /// JSON object text, string → string.
    public var labelsJSON: String
    public var lastHeartbeat: Int64?
    public var drainStartedAt: Int64?
    public var drainDeadline: Int64?
    public var drainReason: String?
    public var createdAt: Int64
    public var updatedAt: Int64

    public init(
        id: String, hostname: String = "", status: String = "online", liveness: String = "alive",
        adminState: String = "active", epoch: String = "legacy", startedAt: Int64? = nil,
        protocolVersion: Int = 2, version: String = "", heartbeatIntervalMs: Int64? = nil,
        providersJSON: String = "[]", capabilitiesJSON: String = "[]", capacityJSON: String = "{}",
        usageJSON: String = "{}", labelsJSON: String = "{}", lastHeartbeat: Int64? = nil,
        drainStartedAt: Int64? = nil, drainDeadline: Int64? = nil, drainReason: String? = nil,
        createdAt: Int64 = 0, updatedAt: Int64 = 0
    ) {
        self.id = id
        self.hostname = hostname
        self.status = status
        self.liveness = liveness
        self.adminState = adminState
        self.epoch = epoch
        self.startedAt = startedAt
        self.protocolVersion = protocolVersion
        self.version = version
        self.heartbeatIntervalMs = heartbeatIntervalMs
        self.providersJSON = providersJSON
        self.capabilitiesJSON = capabilitiesJSON
        self.capacityJSON = capacityJSON
        self.usageJSON = usageJSON
        self.labelsJSON = labelsJSON
        self.lastHeartbeat = lastHeartbeat
        self.drainStartedAt = drainStartedAt
        self.drainDeadline = drainDeadline
        self.drainReason = drainReason
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// What one heartbeat reports (workers.md §4), already validated by the caller.
public struct WorkerHeartbeat: Sendable, Equatable {
    public var workerID: String
    public var hostname: String
    public var status: String
    /// nil for a plain REST heartbeat without `protocol_version`: the store then keeps the stored
    /// epoch if there is one, else uses `legacy`.
    public var epoch: String?
    /// nil for a plain REST heartbeat: the first time the worker was seen (database now) is kept.
    public var startedAt: Int64?
    public var protocolVersion: Int
    public var version: String
    public var heartbeatIntervalMs: Int64
    public var providersJSON: String
    public var capabilitiesJSON: String
    public var capacityJSON: String
    public var usageJSON: String
    public var labelsJSON: String

    public init(
        workerID: String, hostname: String, status: String, epoch: String?, startedAt: Int64?,
        protocolVersion: Int, version: String, heartbeatIntervalMs: Int64, providersJSON: String,
        capabilitiesJSON: String, capacityJSON: String, usageJSON: String, labelsJSON: String
    ) {
        self.workerID = workerID
        self.hostname = hostname
        self.status = status
        self.epoch = epoch
        self.startedAt = startedAt
        self.protocolVersion = protocolVersion
        self.version = version
        self.heartbeatIntervalMs = heartbeatIntervalMs
        self.providersJSON = providersJSON
        self.capabilitiesJSON = capabilitiesJSON
        self.capacityJSON = capacityJSON
        self.usageJSON = usageJSON
        self.labelsJSON = labelsJSON
    }
}

/// The result of `recordHeartbeat`.
public enum HeartbeatOutcome: Sendable, Equatable {
    /// The row as stored now. `previous` is the row before this heartbeat (nil for a new worker),
    /// so the caller can tell an epoch change (`previous.epoch != worker.epoch`) and a recovery
    /// (`previous.liveness != "alive"`) and publish the matching events.
    case accepted(worker: WorkerRecord, previous: WorkerRecord?)
    /// Another process with the same ID owns the row (workers.md §4): this heartbeat changed nothing.
    case superseded(currentEpoch: String)
}

/// A row of `worker_credentials` (api.md §8.8). Only the secret's SHA-256 (hex) is stored.
public struct WorkerCredentialRecord: Sendable, Equatable {
    public var id: String
    public var workerID: String
    /// `secret` (`ed25519` is later).
    public var kind: String
    public var secretSHA256: String?
    public var scopes: [String]
    public var description: String
    /// 0 on insert means "database now".
    public var createdAt: Int64
    public var expiresAt: Int64?
    public var revokedAt: Int64?
    public var lastUsedAt: Int64?

    public init(
        id: String, workerID: String, kind: String = "secret", secretSHA256: String?, scopes: [String],
        description: String = "", createdAt: Int64 = 0, expiresAt: Int64? = nil, revokedAt: Int64? = nil,
        lastUsedAt: Int64? = nil
    ) {
        self.id = id
        self.workerID = workerID
        self.kind = kind
        self.secretSHA256 = secretSHA256
        self.scopes = scopes
        self.description = description
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
        self.lastUsedAt = lastUsedAt
    }
}

/// A row of `leases` (workers.md §6.1). `generation` is the fencing token.
public struct LeaseRecord: Sendable, Equatable {
    public var resourceID: String
    /// `sandbox` or `leader`.
    public var resourceType: String
    public var holderID: String
    public var holderEpoch: String
    public var generation: Int64
    public var expiresAt: Int64
    public var createdAt: Int64
    public var updatedAt: Int64

    public init(
        resourceID: String, resourceType: String, holderID: String, holderEpoch: String, generation: Int64,
        expiresAt: Int64, createdAt: Int64 = 0, updatedAt: Int64 = 0
    ) {
        self.resourceID = resourceID
        self.resourceType = resourceType
        self.holderID = holderID
        self.holderEpoch = holderEpoch
        self.generation = generation
        self.expiresAt = expiresAt
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// When a lease should expire. Lease expiry is always computed by the database.
public enum LeaseExpiry: Sendable, Equatable {
    /// An absolute database-time instant (e.g. sandbox `expires_at` + `leases.grace`).
    case at(Int64)
    /// Database now + this many milliseconds (e.g. the leader lease's 15 s).
    case fromNow(Int64)
}

/// Usage the scheduler counts per worker: sandboxes not `destroyed`, plus `reap_pending` ones.
public struct WorkerUsage: Sendable, Equatable {
    public var workerID: String
    public var sandboxes: Int
    public var vcpus: Int
    public var memoryMB: Int

    public init(workerID: String, sandboxes: Int, vcpus: Int, memoryMB: Int) {
        self.workerID = workerID
        self.sandboxes = sandboxes
        self.vcpus = vcpus
        self.memoryMB = memoryMB
    }
}

/// The worker-runtime part of the `Store` contract. Every operation that decides ownership is one
/// statement (or one write transaction) with `RETURNING`, and every time comes from the database.
public protocol WorkerStore: Sendable {
    // MARK: Worker registry (workers.md §4)

    /// Upserts the worker's row from a heartbeat in ONE write transaction, stamping
    /// `last_heartbeat` (and `updated_at`) with database now and setting `liveness` to `alive`.
    /// Epoch rule (workers.md §4): a heartbeat whose epoch differs from the stored one replaces it
    /// when its `startedAt` is later than the stored `started_at`, or when the stored epoch has been
    /// silent (database now − `last_heartbeat`) for at least `staleAfterMs`; otherwise nothing
    /// changes and the result is `.superseded`. A plain REST heartbeat (`epoch` nil) never
    /// supersedes anything: it keeps the stored epoch and `started_at`, or on a new row uses
    /// `legacy` and database now. `admin_state`, drain fields and `created_at` are never touched.
    func recordHeartbeat(_ heartbeat: WorkerHeartbeat, staleAfterMs: Int64) throws(StoreError) -> HeartbeatOutcome
    func getWorker(_ id: String) throws(StoreError) -> WorkerRecord?
    /// Ordered by ID in byte order, at most `limit` (≤ 0 gives []); keyset paging after `afterID`.
    func listWorkers(limit: Int, afterID: String?) throws(StoreError) -> [WorkerRecord]
    /// Liveness detector writes (workers.md §4.1); `updated_at` = database now. `.notFound` if unknown.
    func setWorkerLiveness(id: String, liveness: String) throws(StoreError)
    /// Drain state (workers.md §10): sets admin_state and the three drain columns as given (nil
    /// clears them). Returns the stored row; `.notFound` if unknown.
    @discardableResult
    func setWorkerAdminState(
        id: String, adminState: String, drainStartedAt: Int64?, drainDeadline: Int64?, drainReason: String?
    ) throws(StoreError) -> WorkerRecord
    /// True if a row was deleted.
    @discardableResult
    func deleteWorker(_ id: String) throws(StoreError) -> Bool
    /// Per-worker usage counted from `sandboxes`: rows not `destroyed`, plus `destroyed` rows with
    /// `reap_pending`. Ordered by worker ID; rows without a worker are left out.
    func workerUsage() throws(StoreError) -> [WorkerUsage]

    /// Sandboxes placed on `workerID` whose state is one of `states` (nil = any but `destroyed`),
    /// ordered by ID.
    func sandboxesOnWorker(_ workerID: String, states: [String]?) throws(StoreError) -> [SandboxRecord]
    /// In ONE statement: every sandbox of `workerID` in one of `fromStates` gets `state`/`reason`;
    /// returns the rows as changed (liveness: a lost worker's sandboxes become `unhealthy`).
    func markWorkerSandboxes(_ workerID: String, fromStates: [String], state: String, reason: String?) throws(StoreError) -> [SandboxRecord]
    /// Drain (workers.md §10): for every live sandbox of the worker, `original_expires_at` =
    /// `expires_at`, then `expires_at` = min(`expires_at`, `deadline`). Returns the changed rows.
    func clampWorkerSandboxExpiry(_ workerID: String, deadline: Int64) throws(StoreError) -> [SandboxRecord]
    /// Undrain: `expires_at` = `original_expires_at` for the worker's live sandboxes whose original
    /// expiry is later than both their current one and database now. Returns the changed rows.
    func restoreWorkerSandboxExpiry(_ workerID: String) throws(StoreError) -> [SandboxRecord]

    /// workers.md §8: a destroy whose worker could not be reached. The row becomes `destroyed`
    /// (`destroy_pending`) with `reap_pending` set, so it still counts against the worker and shows
    /// up in its heartbeat `revoked` until an inventory confirms the runtime is gone.
    func markSandboxDestroyPending(id: String) throws(StoreError)
    /// Sandboxes of `workerID` that are `destroyed` with `reap_pending`, with their lease generation
    /// (the heartbeat's `revoked`), ordered by ID. Rows without a lease are left out.
    func revocations(workerID: String) throws(StoreError) -> [(sandboxID: String, generation: Int64)]
    /// Clears `reap_pending` once the runtime is known to be gone. `.notFound` if the ID is unknown.
    func clearReapPending(id: String) throws(StoreError)

    // MARK: Worker credentials (workers.md §3.1, api.md §8.8)

    /// createdAt 0 = database now. `.conflict` if the ID or the secret hash exists. Returns the stored row.
    @discardableResult
    func insertWorkerCredential(_ credential: WorkerCredentialRecord) throws(StoreError) -> WorkerCredentialRecord
    /// The credential with this ID, whatever its state (the caller checks worker, expiry, revocation
    /// and compares the hash in constant time).
    func getWorkerCredential(id: String) throws(StoreError) -> WorkerCredentialRecord?
    /// The worker's credentials, revoked and expired ones included, ordered by (created_at, id).
    func listWorkerCredentials(workerID: String) throws(StoreError) -> [WorkerCredentialRecord]
    /// True when any credential was ever issued for this worker (revoked ones count), which takes
    /// the worker out of the shared `auth.worker_token` flow for good.
    func workerHasCredentials(workerID: String) throws(StoreError) -> Bool
    /// Number of credentials that are neither revoked nor expired, over all workers (a worker route
    /// with no credential of any kind configured answers 503).
    func countWorkerCredentials() throws(StoreError) -> Int
    /// Sets revoked_at = database now on this worker's credential. False when no such credential
    /// of this worker exists or it is already revoked (the first revocation time is kept).
    @discardableResult
    func revokeWorkerCredential(id: String, workerID: String) throws(StoreError) -> Bool
    /// Revokes every unrevoked credential of the worker; returns how many.
    @discardableResult
    func revokeWorkerCredentials(workerID: String) throws(StoreError) -> Int
    /// Sets (or with nil clears) `expires_at` of this worker's credential; returns the stored row,
    /// `.notFound` if no such credential of this worker.
    @discardableResult
    func setWorkerCredentialExpiry(id: String, workerID: String, expiresAt: Int64?) throws(StoreError) -> WorkerCredentialRecord
    /// Sets last_used_at = database now. `.notFound` if the ID is unknown.
    func touchWorkerCredential(id: String) throws(StoreError)

    // MARK: Leases (workers.md §6.2). Each is ONE statement with RETURNING.
    // A refused operation throws `.conflict` with a caller-safe reason and changes nothing.

    /// Inserts at generation 1 when no row exists, takes over at generation + 1 when the row has
    /// expired (database now ≥ expires_at), and returns the row unchanged when `holderID` already
    /// holds it unexpired (idempotent: no bump, expiry untouched). `.conflict` otherwise.
    func acquireLease(
        resourceID: String, resourceType: String, holderID: String, holderEpoch: String, expiry: LeaseExpiry
    ) throws(StoreError) -> LeaseRecord
    /// CP-authoritative takeover (workers.md §8): when the stored generation equals `fromGeneration`
    /// (expired or not), sets the new holder, epoch and expiry at generation + 1. `.conflict` when
    /// the generation differs, `.notFound` when there is no row.
    func transferLease(
        resourceID: String, fromGeneration: Int64, newHolderID: String, newHolderEpoch: String, expiry: LeaseExpiry
    ) throws(StoreError) -> LeaseRecord
    /// Renews an unexpired lease: new expiry = min(database now + `ttlMs`, `capAt`), or `capAt`
    /// when `ttlMs` is nil, or database now + `ttlMs` when `capAt` is nil (both nil: the expiry is
    /// kept and the call only confirms the lease). Requires the holder to be `holderID` (nil = any
    /// holder: the admin repair route) and the generation to equal `generation` (when given). Never bumps the generation. `.notFound` when there is no row,
    /// `.conflict` otherwise (other holder, generation mismatch, expired).
    func renewLease(
        resourceID: String, holderID: String?, generation: Int64?, ttlMs: Int64?, capAt: Int64?
    ) throws(StoreError) -> LeaseRecord
    /// Sets the expiry of the lease at `generation` whatever the holder, expired or not (extend,
    /// drain and undrain move sandbox expiry and lease together). `.notFound`/`.conflict` as renew.
    func setLeaseExpiry(resourceID: String, generation: Int64, expiry: LeaseExpiry) throws(StoreError) -> LeaseRecord
    /// Deletes the lease when holder and generation match. `.notFound` when there is no row,
    /// `.conflict` when holder or generation differ.
    func releaseLease(resourceID: String, holderID: String, generation: Int64) throws(StoreError)
    /// Deletes the lease whatever its holder (forced worker deletion, lost-worker cleanup). True if deleted.
    @discardableResult
    func deleteLease(resourceID: String) throws(StoreError) -> Bool
    func getLease(resourceID: String) throws(StoreError) -> LeaseRecord?
    /// Filtered by holder and/or type when given; ordered by resource ID in byte order, at most
    /// `limit` (≤ 0 gives []), keyset paging after `afterResourceID`.
    func listLeases(holderID: String?, resourceType: String?, limit: Int, afterResourceID: String?) throws(StoreError) -> [LeaseRecord]
    /// Every unexpired lease the holder has (the heartbeat response's `leases`), ordered by resource ID.
    func activeLeases(holderID: String) throws(StoreError) -> [LeaseRecord]
}
