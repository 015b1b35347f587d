/// The persistence boundary of StacyVM. Implementations: `SQLiteStore` (embedded default);
/// PostgreSQL later. Nothing here names a driver type, so both return the same records and
/// `StoreContractTests` runs unchanged against each.
///
/// Time: every stored time, and `now()`, is database time in Unix milliseconds, so ownership and
/// expiry decisions never depend on one process's clock.
public protocol Store: WorkerStore, Sendable {
    /// "sqlite" or "postgres"; reported by /ready and `db status`.
    var driver: String { get }

    /// Cheap round trip to the database (used by /ready).
    func ping() throws(StoreError)
    /// Releases every connection. Later calls fail with `.internal`.
    func close()
    /// Database time, Unix milliseconds.
    func now() throws(StoreError) -> Int64

    // MARK: Migrations

    /// Applies pending migrations up to `target` (nil = latest), each in its own transaction with
    /// its `schema_migrations` row, and returns what this call applied (empty when up to date).
    /// Safe to run from several processes at once: none is applied twice.
    func migrate(to target: Int?) throws(StoreError) -> [MigrationRecord]
    func migrationStatus() throws(StoreError) -> MigrationStatus

    // MARK: Control planes

    /// Upsert at process start: a re-registration with the same instance ID is a restart, so
    /// hostname, version, started_at and last_seen are all replaced (started_at = database now).
    @discardableResult
    func registerControlPlane(instanceID: String, hostname: String, version: String) throws(StoreError) -> ControlPlaneRecord
    /// Sets last_seen to database now. `.notFound` if the instance never registered.
    func touchControlPlane(instanceID: String) throws(StoreError)
    /// Ordered by instance ID.
    func listControlPlanes() throws(StoreError) -> [ControlPlaneRecord]

    // MARK: Settings

    func getSetting(_ key: String) throws(StoreError) -> SettingRecord?
    /// Insert or replace; updated_at = database now.
    @discardableResult
    func putSetting(key: String, valueJSON: String, updatedBy: String?) throws(StoreError) -> SettingRecord
    /// Ordered by key.
    func listSettings() throws(StoreError) -> [SettingRecord]

    // MARK: Sandboxes

    /// `.conflict` if the ID exists. createdAt/updatedAt of 0 become database now. Returns the stored row.
    @discardableResult
    func insertSandbox(_ sandbox: SandboxRecord) throws(StoreError) -> SandboxRecord
    func getSandbox(_ id: String) throws(StoreError) -> SandboxRecord?
    /// Ordered by (created_at, id); see `SandboxFilter` for paging.
    func listSandboxes(filter: SandboxFilter) throws(StoreError) -> [SandboxRecord]
    /// Sets state and state_reason; updated_at = database now. `.notFound` if the ID is unknown.
    func updateSandboxState(id: String, state: String, reason: String?) throws(StoreError)
    /// Finishes a spawn: `creating` → `running` with the runtime's facts. `.notFound` unless the
    /// row exists and is still `creating` (a concurrent destroy wins).
    func markSandboxRunning(id: String, vmID: String?, workerID: String, previewDomain: String?) throws(StoreError) -> SandboxRecord
    /// Sets `expires_at` of a live sandbox (not `destroyed` or `expired`); `.notFound` otherwise.
    func setSandboxExpiry(id: String, expiresAt: Int64) throws(StoreError) -> SandboxRecord
    /// True if a row was deleted.
    @discardableResult
    func deleteSandbox(_ id: String) throws(StoreError) -> Bool

    // MARK: Reaper and metrics (runtime.md §3)

    /// Sandboxes the TTL reaper should act on now: state neither `destroyed` nor `creating`,
    /// `expires_at` < database now, and `next_attempt_at` NULL or ≤ database now. Ordered by
    /// (expires_at, id), at most `limit` (≤ 0 gives []).
    func listExpiredSandboxes(limit: Int) throws(StoreError) -> [SandboxRecord]
    /// Reaper backoff: `next_attempt_at` = database now + `afterMs`. Leaves state and `updated_at`
    /// alone. `.notFound` if the ID is unknown.
    func scheduleSandboxRetry(id: String, afterMs: Int64) throws(StoreError)
    /// Hard-deletes `destroyed` rows whose `updated_at` is before database now − `olderThanMs`
    /// (`defaults.destroyed_retention`). `olderThanMs <= 0` deletes nothing. Returns the number deleted.
    @discardableResult
    func purgeDestroyedSandboxes(olderThanMs: Int64) throws(StoreError) -> Int
    /// Row counts of every (state, provider, worker_id) group, destroyed rows included, ordered by
    /// state, provider, then worker_id with nil first.
    func sandboxCounts() throws(StoreError) -> [SandboxCount]

    // MARK: Events

    /// Returns the assigned sequence number (strictly increasing, never reused).
    @discardableResult
    func appendEvent(_ event: EventRecord) throws(StoreError) -> Int64
    /// Events with seq > afterSeq, ascending, at most `limit`.
    func listEvents(afterSeq: Int64, limit: Int) throws(StoreError) -> [EventRecord]
    /// Retention: deletes events created more than `olderThanMs` milliseconds before database now,
    /// then trims to the newest `maxRows`. Returns the number deleted.
    @discardableResult
    func pruneEvents(olderThanMs: Int64, maxRows: Int) throws(StoreError) -> Int
    /// The batched writer's path (runtime.md §8): all events in ONE transaction, all or none.
    /// Returns the assigned sequence numbers in input order, strictly increasing. An empty batch
    /// returns [] without touching the database.
    @discardableResult
    func appendEvents(_ events: [EventRecord]) throws(StoreError) -> [Int64]
    /// Smallest stored seq; nil when the table is empty (SSE replay gap detection, api.md §12).
    func earliestEventSeq() throws(StoreError) -> Int64?
    /// Largest stored seq; nil when the table is empty.
    func latestEventSeq() throws(StoreError) -> Int64?

    // MARK: Exec logs (runtime.md §4)

    /// All rows in ONE transaction, all or none; createdAt 0 = database now. An empty batch does not
    /// touch the database.
    func appendExecLogs(_ logs: [ExecLogRecord]) throws(StoreError)
    /// Newest first: (created_at, id) descending, at most `limit` (≤ 0 gives []).
    func listExecLogs(sandboxID: String, limit: Int) throws(StoreError) -> [ExecLogRecord]
    /// Retention (`limits.exec_log_retention`): deletes rows created before database now −
    /// `olderThanMs`; `olderThanMs <= 0` deletes nothing. Returns the number deleted.
    @discardableResult
    func pruneExecLogs(olderThanMs: Int64) throws(StoreError) -> Int

    // MARK: Operation audit (runtime.md §8)

    /// All rows in ONE transaction, all or none; createdAt 0 = database now; `detail` is cut to
    /// `OperationAuditRecord.maxDetailLength` scalars. An empty batch does not touch the database.
    func appendOperationAudits(_ audits: [OperationAuditRecord]) throws(StoreError)
    /// Newest first: (created_at, id) descending, at most `limit` (≤ 0 gives []); nil `sandboxID`
    /// lists every sandbox's rows (and rows without one).
    func listOperationAudits(sandboxID: String?, limit: Int) throws(StoreError) -> [OperationAuditRecord]

    // MARK: API keys (runtime.md §12)

    // A key is *active* when `revoked_at` is NULL and `expires_at` is NULL or later than database now.

    /// createdAt 0 = database now. `.conflict` if the ID or the key hash is already stored (both are
    /// unique in the schema). Returns the stored row.
    @discardableResult
    func insertAPIKey(_ key: APIKeyRecord) throws(StoreError) -> APIKeyRecord
    /// The active key with this hash, or nil (unknown, revoked or expired).
    func findActiveAPIKey(sha256: String) throws(StoreError) -> APIKeyRecord?
    /// Every key, revoked and expired ones included; only `tenantID`'s when given. Ordered by
    /// (created_at, id).
    func listAPIKeys(tenantID: String?) throws(StoreError) -> [APIKeyRecord]
    /// Sets revoked_at = database now. False when the ID is unknown or the key is already revoked
    /// (the first revocation time is kept).
    @discardableResult
    func revokeAPIKey(id: String) throws(StoreError) -> Bool
    /// Sets last_used_at = database now (revoked or expired keys too). `.notFound` if the ID is unknown.
    func touchAPIKey(id: String) throws(StoreError)
    /// Number of active keys.
    func countActiveAPIKeys() throws(StoreError) -> Int

    // MARK: Owner quotas and admission

    func getOwnerQuota(_ ownerID: String) throws(StoreError) -> OwnerQuotaRecord?
    /// Insert or update the owner's caps. Both times come from the database: on insert created_at
    /// = updated_at = database now; on update created_at is kept and updated_at = database now (the
    /// record's own createdAt/updatedAt are ignored). Returns the stored row.
    @discardableResult
    func putOwnerQuota(_ quota: OwnerQuotaRecord) throws(StoreError) -> OwnerQuotaRecord
    /// True if a row was deleted.
    @discardableResult
    func deleteOwnerQuota(_ ownerID: String) throws(StoreError) -> Bool
    /// Ordered by owner_id in byte order (binary collation; PostgreSQL needs `COLLATE "C"`), at most
    /// `limit` (≤ 0 gives []). Keyset paging: only owners strictly after `afterOwnerID`, which need
    /// not exist any more.
    func listOwnerQuotas(limit: Int, afterOwnerID: String?) throws(StoreError) -> [OwnerQuotaRecord]
    /// Number of quota rows, and how many of them set each cap (a non-zero value).
    func ownerQuotaSummary() throws(StoreError) -> (total: Int, withMaxSandboxes: Int, withMaxTTL: Int, withMaxExecTimeout: Int)
    /// Sandboxes that count against caps: every state but `destroyed` (`creating` reservations and
    /// `expired` rows awaiting destroy included). nil tenant/owner = any; given ones must match.
    func countActiveSandboxes(tenantID: String?, ownerID: String?) throws(StoreError) -> Int
    /// The spawn reservation (runtime.md §10): inserts `sandbox` only if, inside the same write
    /// transaction, fewer than `maxActive` sandboxes (all tenants) and fewer than
    /// `maxActiveForOwner` of its tenant and owner are not destroyed (0 = no cap). nil when a cap is
    /// reached, so concurrent spawns can never overshoot it.
    func reserveSandbox(_ sandbox: SandboxRecord, maxActive: Int, maxActiveForOwner: Int) throws(StoreError) -> SandboxRecord?

    // MARK: Templates (api.md §8.1)

    /// Stores the template with the version as given; created_at = updated_at = database now (the
    /// record's own times are ignored). `.conflict` if the name exists (in any tenant). Returns the
    /// stored row.
    @discardableResult
    func insertTemplate(_ template: TemplateRecord) throws(StoreError) -> TemplateRecord
    /// The template with exactly this name, whatever its tenant; nil if none.
    func getTemplate(_ name: String) throws(StoreError) -> TemplateRecord?
    /// Replaces every field of the template named `template.name` (tenant included) in ONE
    /// statement: created_at is kept, version = stored version + 1 (the record's version is
    /// ignored), updated_at = database now. `.notFound` if no such template. Returns the stored row.
    @discardableResult
    func replaceTemplate(_ template: TemplateRecord) throws(StoreError) -> TemplateRecord
    /// True if a row was deleted.
    @discardableResult
    func deleteTemplate(_ name: String) throws(StoreError) -> Bool
    /// Templates whose tenant is one of `tenantIDs` ("" selects global ones, so a tenant's caller
    /// passes `[tenant, ""]`); an empty list matches nothing. Ordered by name in byte order (binary
    /// collation; PostgreSQL needs `COLLATE "C"`), at most `limit` (≤ 0 gives []). Keyset paging:
    /// only names strictly after `afterName`, which need not exist any more.
    func listTemplates(tenantIDs: [String], limit: Int, afterName: String?) throws(StoreError) -> [TemplateRecord]

    // MARK: Idempotency keys (api.md §1)

    /// In ONE write transaction, for the row of (principal, key): none, or one created more than
    /// `IdempotencyReservation.windowMs` before database now (which is replaced) → store it
    /// `in_progress` with `requestSHA256` and created_at = database now, and return `.reserved`;
    /// a row with another request hash → `.mismatch`; same hash still `in_progress` → `.inProgress`;
    /// same hash `done` → `.done` with the stored status and response. Of concurrent reservations of
    /// one key (from any number of store instances), exactly one gets `.reserved`.
    func reserveIdempotencyKey(principal: String, key: String, requestSHA256: String) throws(StoreError) -> IdempotencyReservation
    /// Stores the result: state `done` with `status` and `response` (created_at is kept, so the
    /// window still counts from the reservation). `.notFound` if the row does not exist.
    func completeIdempotencyKey(principal: String, key: String, status: Int, response: String) throws(StoreError)
    /// Deletes the row, whatever its state, so the key can be retried (a 5xx result is not stored).
    /// No row is not an error.
    func releaseIdempotencyKey(principal: String, key: String) throws(StoreError)
    /// Deletes rows, in either state, created before database now − `olderThanMs`; `olderThanMs <= 0`
    /// deletes nothing. Returns the number deleted.
    @discardableResult
    func pruneIdempotencyKeys(olderThanMs: Int64) throws(StoreError) -> Int
}
