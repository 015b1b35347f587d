import StacyAPI
import StacyConfig
import StacyHTTP
import StacyStore

/// Per-owner quotas (api.md §8.2): reads follow the owner rule, writes are admin-only.
extension SandboxManager {
    public func quota(_ owner: String) throws(APIError) -> OwnerQuota {
        let owner = try Validate.ownerID(owner)
        guard let record = try storeCall({ try store.getOwnerQuota(owner) }) else { throw .notFound("quota not found") }
        return Self.wire(record)
    }

    public func listQuotas(limit: Int, after: String?) throws(APIError) -> [OwnerQuota] {
        try storeCall { try store.listOwnerQuotas(limit: limit, afterOwnerID: after) }.map(Self.wire)
    }

    public func quotaSummary() throws(APIError) -> QuotaSummary {
        let summary = try storeCall { try store.ownerQuotaSummary() }
        return QuotaSummary(total: summary.total, withMaxSandboxes: summary.withMaxSandboxes,
                            withMaxTTL: summary.withMaxTTL, withMaxExecTimeout: summary.withMaxExecTimeout)
    }

    public func putQuota(_ owner: String, _ request: PutQuotaRequest, principal: Principal) throws(APIError) -> OwnerQuota {
        let owner = try Validate.ownerID(owner)
        let maxSandboxes = request.maxSandboxes ?? 0
        guard maxSandboxes >= 0 else { throw .badRequest("max_sandboxes must not be negative") }
        let maxTTL = try Self.wholeSeconds(request.maxTTL, field: "max_ttl")
        let maxExec = try Self.wholeSeconds(request.maxExecTimeout, field: "max_exec_timeout")
        let stored = try storeCall {
            try store.putOwnerQuota(OwnerQuotaRecord(ownerID: owner, maxSandboxes: maxSandboxes, maxTTLSeconds: maxTTL,
                                                     maxExecTimeoutSeconds: maxExec))
        }
        spawnQueue.wakeAll()
        writer.submit(.event(EventRecord(type: "quota.saved", tenantID: principal.tenantID, ownerID: owner,
                                         dataJSON: Self.json(["owner_id": owner]))))
        return Self.wire(stored)
    }

    public func deleteQuota(_ owner: String, principal: Principal) throws(APIError) {
        let owner = try Validate.ownerID(owner)
        guard try storeCall({ try store.deleteOwnerQuota(owner) }) else { throw .notFound("quota not found") }
        spawnQueue.wakeAll()
        writer.submit(.event(EventRecord(type: "quota.deleted", tenantID: principal.tenantID, ownerID: owner,
                                         dataJSON: Self.json(["owner_id": owner]))))
    }

    /// Effective limits and current use (api.md §8.2 `usage`).
    public func quotaUsage(_ owner: String, principal: Principal) throws(APIError) -> QuotaUsage {
        let owner = try Validate.ownerID(owner)
        let limits = try effectiveLimits(owner: owner)
        let active = try storeCall { try store.countActiveSandboxes(tenantID: principal.tenantID, ownerID: owner) }
        return QuotaUsage(ownerID: owner, activeSandboxes: active, maxSandboxes: limits.maxOwnerSandboxes,
                          maxTTL: Self.durationText(limits.maxTTL), maxExecTimeout: Self.durationText(limits.maxExecTimeout),
                          quotaConfigured: limits.quotaConfigured)
    }

    /// `""`/`"0s"` = inherit (0); otherwise at least one second, in whole seconds.
    static func wholeSeconds(_ raw: String?, field: String) throws(APIError) -> Int64 {
        guard let raw, !raw.isEmpty else { return 0 }
        let parsed: GoDuration
        do { parsed = try GoDuration.parse(raw) } catch { throw .badRequest("\(field): \(error.message)") }
        if parsed.nanoseconds == 0 { return 0 }
        guard parsed.nanoseconds >= GoDuration.second else { throw .badRequest("\(field) must be at least 1s") }
        guard parsed.nanoseconds % GoDuration.second == 0 else { throw .badRequest("\(field) must be whole seconds") }
        return parsed.nanoseconds / GoDuration.second
    }

    static func durationText(_ duration: GoDuration) -> String { duration.nanoseconds == 0 ? "" : duration.description }

    static func wire(_ record: OwnerQuotaRecord) -> OwnerQuota {
        func text(_ seconds: Int64) -> String { seconds == 0 ? "" : GoDuration(nanoseconds: seconds * GoDuration.second).description }
        return OwnerQuota(ownerID: record.ownerID, maxSandboxes: record.maxSandboxes, maxTTL: text(record.maxTTLSeconds),
                          maxExecTimeout: text(record.maxExecTimeoutSeconds), createdAt: Log.timestamp(unixMillis: record.createdAt),
                          updatedAt: Log.timestamp(unixMillis: record.updatedAt))
    }
}
