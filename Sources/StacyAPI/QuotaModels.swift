/// Wire types of admission and quotas (api.md §5.3, §8.2).

/// Exactly these eight keys in this order: the original Python SDK builds a strict dataclass.
public struct AdmissionResponse: Codable, Sendable, Equatable {
    public var allowed: Bool
    public var queueable: Bool
    public var reason: String
    public var activeSandboxes: Int
    public var maxSandboxes: Int
    public var activeOwnerSandboxes: Int
    public var maxOwnerSandboxes: Int
    public var maxTTL: String

    enum CodingKeys: String, CodingKey {
        case allowed, queueable, reason
        case activeSandboxes = "active_sandboxes"
        case maxSandboxes = "max_sandboxes"
        case activeOwnerSandboxes = "active_owner_sandboxes"
        case maxOwnerSandboxes = "max_owner_sandboxes"
        case maxTTL = "max_ttl"
    }

    public init(allowed: Bool, queueable: Bool, reason: String, activeSandboxes: Int, maxSandboxes: Int,
                activeOwnerSandboxes: Int, maxOwnerSandboxes: Int, maxTTL: String) {
        self.allowed = allowed
        self.queueable = queueable
        self.reason = reason
        self.activeSandboxes = activeSandboxes
        self.maxSandboxes = maxSandboxes
        self.activeOwnerSandboxes = activeOwnerSandboxes
        self.maxOwnerSandboxes = maxOwnerSandboxes
        self.maxTTL = maxTTL
    }
}

public struct OwnerQuota: Codable, Sendable, Equatable {
    public var ownerID: String
    public var maxSandboxes: Int
    /// Go duration of whole seconds; "" = inherit the global value.
    public var maxTTL: String
    public var maxExecTimeout: String
    public var createdAt: String
    public var updatedAt: String

    enum CodingKeys: String, CodingKey {
        case ownerID = "owner_id"
        case maxSandboxes = "max_sandboxes"
        case maxTTL = "max_ttl"
        case maxExecTimeout = "max_exec_timeout"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    public init(ownerID: String, maxSandboxes: Int, maxTTL: String, maxExecTimeout: String, createdAt: String, updatedAt: String) {
        self.ownerID = ownerID
        self.maxSandboxes = maxSandboxes
        self.maxTTL = maxTTL
        self.maxExecTimeout = maxExecTimeout
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

public struct PutQuotaRequest: Codable, Sendable, Equatable {
    public var maxSandboxes: Int?
    public var maxTTL: String?
    public var maxExecTimeout: String?

    enum CodingKeys: String, CodingKey {
        case maxSandboxes = "max_sandboxes"
        case maxTTL = "max_ttl"
        case maxExecTimeout = "max_exec_timeout"
    }

    public init(maxSandboxes: Int? = nil, maxTTL: String? = nil, maxExecTimeout: String? = nil) {
        self.maxSandboxes = maxSandboxes
        self.maxTTL = maxTTL
        self.maxExecTimeout = maxExecTimeout
    }
}

/// Exactly these four keys: the original Python SDK reads them strictly.
public struct QuotaSummary: Codable, Sendable, Equatable {
    public var total: Int
    public var withMaxSandboxes: Int
    public var withMaxTTL: Int
    public var withMaxExecTimeout: Int

    enum CodingKeys: String, CodingKey {
        case total
        case withMaxSandboxes = "with_max_sandboxes"
        case withMaxTTL = "with_max_ttl"
        case withMaxExecTimeout = "with_max_exec_timeout"
    }

    public init(total: Int, withMaxSandboxes: Int, withMaxTTL: Int, withMaxExecTimeout: Int) {
        self.total = total
        self.withMaxSandboxes = withMaxSandboxes
        self.withMaxTTL = withMaxTTL
        self.withMaxExecTimeout = withMaxExecTimeout
    }
}

public struct QuotaUsage: Codable, Sendable, Equatable {
    public var ownerID: String
    public var activeSandboxes: Int
    public var maxSandboxes: Int
    public var maxTTL: String
    public var maxExecTimeout: String
    public var quotaConfigured: Bool

    enum CodingKeys: String, CodingKey {
        case ownerID = "owner_id"
        case activeSandboxes = "active_sandboxes"
        case maxSandboxes = "max_sandboxes"
        case maxTTL = "max_ttl"
        case maxExecTimeout = "max_exec_timeout"
        case quotaConfigured = "quota_configured"
    }

    public init(ownerID: String, activeSandboxes: Int, maxSandboxes: Int, maxTTL: String, maxExecTimeout: String, quotaConfigured: Bool) {
        self.ownerID = ownerID
        self.activeSandboxes = activeSandboxes
        self.maxSandboxes = maxSandboxes
        self.maxTTL = maxTTL
        self.maxExecTimeout = maxExecTimeout
        self.quotaConfigured = quotaConfigured
    }
}
