// Plain values crossing the store boundary. No driver types, so a PostgreSQL store can return the
// same records. Times are Unix milliseconds (README §4); JSON columns are carried as JSON text and
// decoded by the layer that understands them.

/// A row of `sandboxes` (runtime.md §12).
public struct SandboxRecord: Sendable, Equatable {
    public var id: String
    public var state: String
    public var stateReason: String?
    public var provider: String
    public var image: String
    public var memoryMB: Int
    public var vcpus: Int
    public var network: String?
    /// JSON object text.
    public var metadataJSON: String
    /// JSON object text.
    public var envJSON: String
    public var template: String?
    public var ownerID: String?
    public var tenantID: String?
    public var workerID: String?
    public var vmID: String?
    public var previewDomain: String?
    public var previewTokenHash: String?
    /// 0 on insert means "database now".
    public var createdAt: Int64
    /// 0 on insert means "database now"; every update sets it from database time.
    public var updatedAt: Int64
    public var expiresAt: Int64?
    public var originalExpiresAt: Int64?
    public var reapPending: Bool
    public var nextAttemptAt: Int64?
    public var lastRefreshAt: Int64?

    public init(
        id: String, state: String, stateReason: String? = nil, provider: String, image: String,
        memoryMB: Int, vcpus: Int, network: String? = nil, metadataJSON: String = "{}",
        envJSON: String = "{}", template: String? = nil, ownerID: String? = nil,
        tenantID: String? = nil, workerID: String? = nil, vmID: String? = nil,
        previewDomain: String? = nil, previewTokenHash: String? = nil, createdAt: Int64 = 0,
        updatedAt: Int64 = 0, expiresAt: Int64? = nil, originalExpiresAt: Int64? = nil,
        reapPending: Bool = false, nextAttemptAt: Int64? = nil, lastRefreshAt: Int64? = nil
    ) {
        self.id = id
        self.state = state
        self.stateReason = stateReason
        self.provider = provider
        self.image = image
        self.memoryMB = memoryMB
        self.vcpus = vcpus
        self.network = network
        self.metadataJSON = metadataJSON
        self.envJSON = envJSON
        self.template = template
        self.ownerID = ownerID
        self.tenantID = tenantID
        self.workerID = workerID
        self.vmID = vmID
        self.previewDomain = previewDomain
        self.previewTokenHash = previewTokenHash
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.expiresAt = expiresAt
        self.originalExpiresAt = originalExpiresAt
        self.reapPending = reapPending
        self.nextAttemptAt = nextAttemptAt
        self.lastRefreshAt = lastRefreshAt
    }
}

/// Selection and keyset paging for `listSandboxes`. Results are ordered by (created_at, id).
public struct SandboxFilter: Sendable, Equatable {
    public var tenantID: String?
    public var ownerID: String?
    /// nil = any state; an empty array matches nothing.
    public var states: [String]?
    public var limit: Int
    /// Return rows strictly after this sandbox in (created_at, id) order. If that sandbox no longer
    /// exists the call throws `.notFound` rather than silently restarting or ending the listing.
    public var afterID: String?

    public init(
        tenantID: String? = nil, ownerID: String? = nil, states: [String]? = nil,
        limit: Int = 100, afterID: String? = nil
    ) {
        self.tenantID = tenantID
        self.ownerID = ownerID
        self.states = states
        self.limit = limit
        self.afterID = afterID
    }
}

/// A row of `events` (runtime.md §11). Wire ID is `evt-<seq>`.
public struct EventRecord: Sendable, Equatable {
    /// Assigned by the store; ignored on append.
    public var seq: Int64
    public var type: String
    public var sandboxID: String?
    public var workerID: String?
    public var tenantID: String?
    public var ownerID: String?
    /// JSON object text.
    public var dataJSON: String
    /// 0 on append means "database now".
    public var createdAt: Int64

    public init(
        seq: Int64 = 0, type: String, sandboxID: String? = nil, workerID: String? = nil,
        tenantID: String? = nil, ownerID: String? = nil, dataJSON: String = "{}", createdAt: Int64 = 0
    ) {
        self.seq = seq
        self.type = type
        self.sandboxID = sandboxID
        self.workerID = workerID
        self.tenantID = tenantID
        self.ownerID = ownerID
        self.dataJSON = dataJSON
        self.createdAt = createdAt
    }
}

/// A row of `settings`: runtime configuration overrides (api.md §8.10).
public struct SettingRecord: Sendable, Equatable {
    public var key: String
    /// JSON value text.
    public var valueJSON: String
    public var updatedBy: String?
    public var updatedAt: Int64

    public init(key: String, valueJSON: String, updatedBy: String?, updatedAt: Int64) {
        self.key = key
        self.valueJSON = valueJSON
        self.updatedBy = updatedBy
        self.updatedAt = updatedAt
    }
}

/// A row of `control_planes`.
public struct ControlPlaneRecord: Sendable, Equatable {
    public var instanceID: String
    public var hostname: String
    public var version: String
    /// Start of the instance's current process (reset by every `registerControlPlane`).
    public var startedAt: Int64
    public var lastSeen: Int64

    public init(instanceID: String, hostname: String, version: String, startedAt: Int64, lastSeen: Int64) {
        self.instanceID = instanceID
        self.hostname = hostname
        self.version = version
        self.startedAt = startedAt
        self.lastSeen = lastSeen
    }
}

/// A row of `exec_logs` (runtime.md §4 Bookkeeping). Output is stored as given: truncating it to
/// `limits.exec_log_max_bytes` is the caller's job.
public struct ExecLogRecord: Sendable, Equatable {
    /// Assigned by the store (autoincrement); ignored on append.
    public var id: Int64
    public var sandboxID: String
    public var command: String
    /// JSON array text.
    public var argvJSON: String
    /// nil when the command never produced one (e.g. it could not be started).
    public var exitCode: Int?
    public var stdout: String?
    public var stderr: String?
    public var durationMs: Int64?
    /// 0 on append means "database now".
    public var createdAt: Int64

    public init(
        id: Int64 = 0, sandboxID: String, command: String, argvJSON: String = "[]",
        exitCode: Int? = nil, stdout: String? = nil, stderr: String? = nil,
        durationMs: Int64? = nil, createdAt: Int64 = 0
    ) {
        self.id = id
        self.sandboxID = sandboxID
        self.command = command
        self.argvJSON = argvJSON
        self.exitCode = exitCode
        self.stdout = stdout
        self.stderr = stderr
        self.durationMs = durationMs
        self.createdAt = createdAt
    }
}

/// A row of `operation_audit_logs` (runtime.md §8).
public struct OperationAuditRecord: Sendable, Equatable {
    /// Longest stored `detail`, in Unicode scalars (what SQLite `length()` and PostgreSQL
    /// `char_length()` count). Longer details are truncated on append, never rejected, so one
    /// oversized row cannot fail a whole batch.
    public static let maxDetailLength = 2048

    /// Assigned by the store (autoincrement); ignored on append.
    public var id: Int64
    /// The authenticated identity.
    public var actor: String
    /// The owner the action was taken for.
    public var onBehalfOf: String?
    public var tenantID: String?
    /// e.g. `sandbox.spawn`, `exec`, `file.write`, `sandbox.destroy`.
    public var action: String
    public var sandboxID: String?
    /// Command or path.
    public var resource: String?
    public var provider: String?
    public var workerID: String?
    public var status: String
    public var detail: String?
    /// 0 on append means "database now".
    public var createdAt: Int64

    public init(
        id: Int64 = 0, actor: String, onBehalfOf: String? = nil, tenantID: String? = nil,
        action: String, sandboxID: String? = nil, resource: String? = nil, provider: String? = nil,
        workerID: String? = nil, status: String, detail: String? = nil, createdAt: Int64 = 0
    ) {
        self.id = id
        self.actor = actor
        self.onBehalfOf = onBehalfOf
        self.tenantID = tenantID
        self.action = action
        self.sandboxID = sandboxID
        self.resource = resource
        self.provider = provider
        self.workerID = workerID
        self.status = status
        self.detail = detail
        self.createdAt = createdAt
    }

    /// `detail` cut to `maxDetailLength` Unicode scalars; every driver stores this.
    public var storedDetail: String? {
        guard let detail, detail.unicodeScalars.count > Self.maxDetailLength else { return detail }
        var scalars = String.UnicodeScalarView()
        scalars.append(contentsOf: detail.unicodeScalars.prefix(Self.maxDetailLength))
        return String(scalars)
    }
}

/// One group of `sandboxCounts()`: how many sandboxes share (state, provider, worker_id).
public struct SandboxCount: Sendable, Equatable {
    public var state: String
    public var provider: String
    public var workerID: String?
    public var count: Int

    public init(state: String, provider: String, workerID: String?, count: Int) {
        self.state = state
        self.provider = provider
        self.workerID = workerID
        self.count = count
    }
}

/// A row of `api_keys` (runtime.md §12). Only the SHA-256 of a key is stored, never the key.
public struct APIKeyRecord: Sendable, Equatable {
    public var id: String
    /// Lowercase hex SHA-256 of the key; unique across all keys.
    public var keySHA256: String
    public var role: String
    public var tenantID: String?
    public var ownerID: String?
    public var description: String
    /// 0 on insert means "database now".
    public var createdAt: Int64
    /// nil = never expires.
    public var expiresAt: Int64?
    public var revokedAt: Int64?
    public var lastUsedAt: Int64?

    public init(
        id: String, keySHA256: String, role: String, tenantID: String? = nil, ownerID: String? = nil,
        description: String = "", createdAt: Int64 = 0, expiresAt: Int64? = nil, revokedAt: Int64? = nil,
        lastUsedAt: Int64? = nil
    ) {
        self.id = id
        self.keySHA256 = keySHA256
        self.role = role
        self.tenantID = tenantID
        self.ownerID = ownerID
        self.description = description
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
        self.lastUsedAt = lastUsedAt
    }
}

/// A row of `owner_quotas`: per-owner admission caps. For each cap, 0 means "inherit" (the tenant's
/// or global default applies); it is stored as NULL and read back as 0. The store does not validate
/// the values: rejecting negatives is the caller's job.
public struct OwnerQuotaRecord: Sendable, Equatable {
    public var ownerID: String
    /// Most sandboxes the owner may hold at once (see `Store.countActiveSandboxes`); 0 = inherit.
    public var maxSandboxes: Int
    /// Longest sandbox TTL, in seconds; 0 = inherit.
    public var maxTTLSeconds: Int64
    /// Longest exec timeout, in seconds; 0 = inherit.
    public var maxExecTimeoutSeconds: Int64
    /// Set by the store (database time); ignored by `putOwnerQuota`.
    public var createdAt: Int64
    /// Set by the store (database time); ignored by `putOwnerQuota`.
    public var updatedAt: Int64

    public init(
        ownerID: String, maxSandboxes: Int = 0, maxTTLSeconds: Int64 = 0, maxExecTimeoutSeconds: Int64 = 0,
        createdAt: Int64 = 0, updatedAt: Int64 = 0
    ) {
        self.ownerID = ownerID
        self.maxSandboxes = maxSandboxes
        self.maxTTLSeconds = maxTTLSeconds
        self.maxExecTimeoutSeconds = maxExecTimeoutSeconds
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A row of `templates` (api.md §8.1): named spawn defaults. Global templates have tenant "" (NULL
/// in the table). The nullable columns (tenant_id, image, memory_mb, vcpus, ttl, ttl_ms, provider,
/// on_drain) store "" / 0 as NULL ("unset") and read NULL back as "" / 0, like owner quota caps.
/// The store does not validate values; the API layer does.
public struct TemplateRecord: Sendable, Equatable {
    /// Primary key; unique across all tenants.
    public var name: String
    /// Owning tenant; "" = global (visible to every tenant).
    public var tenantID: String
    public var image: String
    /// TTL text exactly as submitted (e.g. "1h"); `ttlMs` is its parsed value.
    public var ttl: String
    public var provider: String
    /// Set by the caller on insert; `replaceTemplate` stores the old version + 1.
    public var version: Int
    public var memoryMB: Int
    public var vcpus: Int
    public var ttlMs: Int64
    /// JSON object text.
    public var metadataJSON: String
    /// JSON object text.
    public var envJSON: String
    /// JSON array text (setup commands).
    public var setupJSON: String
    public var onDrain: String
    public var description: String
    /// Set by the store (database time); ignored on insert and replace.
    public var createdAt: Int64
    /// Set by the store (database time); ignored on insert and replace.
    public var updatedAt: Int64

    public init(
        name: String, tenantID: String = "", image: String = "", ttl: String = "", provider: String = "",
        version: Int = 1, memoryMB: Int = 0, vcpus: Int = 0, ttlMs: Int64 = 0, metadataJSON: String = "{}",
        envJSON: String = "{}", setupJSON: String = "[]", onDrain: String = "expire", description: String = "",
        createdAt: Int64 = 0, updatedAt: Int64 = 0
    ) {
        self.name = name
        self.tenantID = tenantID
        self.image = image
        self.ttl = ttl
        self.provider = provider
        self.version = version
        self.memoryMB = memoryMB
        self.vcpus = vcpus
        self.ttlMs = ttlMs
        self.metadataJSON = metadataJSON
        self.envJSON = envJSON
        self.setupJSON = setupJSON
        self.onDrain = onDrain
        self.description = description
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// The outcome of `Store.reserveIdempotencyKey` (api.md §1 "Idempotency"), for one
/// (principal, key) pair.
public enum IdempotencyReservation: Sendable, Equatable {
    /// No live row existed: one is now stored `in_progress` for this request, and the caller runs it.
    case reserved
    /// The same request (same hash) is still running elsewhere; wait and ask again.
    case inProgress
    /// The same request finished: replay this status and body.
    case done(status: Int, response: String)
    /// The key was used with another request body (409 `CONFLICT`).
    case mismatch

    /// How long a key is remembered: a row older than this (by database time) no longer counts and
    /// is replaced by the next reservation. Also the natural `pruneIdempotencyKeys` argument.
    public static let windowMs: Int64 = 24 * 60 * 60 * 1000
}
