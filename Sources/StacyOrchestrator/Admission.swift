import StacyAPI
import StacyConfig
import StacyHTTP
import StacyStore

/// runtime.md §10 admission: one evaluation for spawn and for the dry run, so they never
/// disagree. Validation failures throw (400); every other outcome is a decision.
public struct AdmissionDecision: Sendable, Equatable {
    public var allowed: Bool
    public var queueable: Bool
    public var reason: String
    public var activeSandboxes: Int
    public var maxSandboxes: Int
    public var activeOwnerSandboxes: Int
    public var maxOwnerSandboxes: Int
    /// 0 = unlimited.
    public var maxTTL: GoDuration

    /// Exactly the eight keys, in order, that the original Python SDK reads strictly (api.md §5.3).
    public var wire: AdmissionResponse {
        AdmissionResponse(allowed: allowed, queueable: queueable, reason: reason, activeSandboxes: activeSandboxes,
                          maxSandboxes: maxSandboxes, activeOwnerSandboxes: activeOwnerSandboxes,
                          maxOwnerSandboxes: maxOwnerSandboxes, maxTTL: maxTTL.nanoseconds == 0 ? "" : maxTTL.description)
    }
}

extension SandboxManager {
    /// The owner's effective limits: their quota where set, else the global defaults.
    struct EffectiveLimits {
        var maxTTL: GoDuration
        var maxOwnerSandboxes: Int
        var maxExecTimeout: GoDuration
        var quotaConfigured: Bool
    }

    func effectiveLimits(owner: String) throws(APIError) -> EffectiveLimits {
        let quota = owner.isEmpty ? nil : try storeCall { try store.getOwnerQuota(owner) }
        func seconds(_ value: Int64?) -> GoDuration? {
            guard let value, value > 0 else { return nil }
            return GoDuration(nanoseconds: value * GoDuration.second)
        }
        return EffectiveLimits(
            maxTTL: seconds(quota?.maxTTLSeconds) ?? settings.maxTTL,
            maxOwnerSandboxes: (quota?.maxSandboxes ?? 0) > 0 ? quota!.maxSandboxes : settings.maxSandboxesPerOwner,
            maxExecTimeout: seconds(quota?.maxExecTimeoutSeconds) ?? settings.maxExecTimeout,
            quotaConfigured: quota != nil)
    }

    /// Steps 3–6 of runtime.md §10 for a validated request (no policies exist yet).
    func admit(owner: String, tenant: String, ttl: GoDuration, providerKnown: Bool) throws(APIError) -> AdmissionDecision {
        let limits = try effectiveLimits(owner: owner)
        let active = try storeCall { try store.countActiveSandboxes(tenantID: nil, ownerID: nil) }
        let ownerActive = try storeCall { try store.countActiveSandboxes(tenantID: tenant, ownerID: owner) }
        var decision = AdmissionDecision(allowed: true, queueable: false, reason: "", activeSandboxes: active,
                                         maxSandboxes: settings.maxSandboxes, activeOwnerSandboxes: ownerActive,
                                         maxOwnerSandboxes: limits.maxOwnerSandboxes, maxTTL: limits.maxTTL)
        func deny(_ reason: String, queueable: Bool = false) -> AdmissionDecision {
            decision.allowed = false
            decision.reason = reason
            decision.queueable = queueable && settings.spawnOverflow == "queue"
            return decision
        }
        if limits.maxTTL.nanoseconds > 0 && ttl > limits.maxTTL { return deny("max_ttl") }
        if !providerKnown { return deny("worker_unavailable") }
        if settings.maxSandboxes > 0 && active >= settings.maxSandboxes { return deny("max_sandboxes", queueable: true) }
        if limits.maxOwnerSandboxes > 0 && ownerActive >= limits.maxOwnerSandboxes {
            return deny("max_sandboxes_per_owner", queueable: true)
        }
        return decision
    }

    /// `POST /sandboxes/admission`: validation errors are 400; everything else is 200 with the decision.
    public func admission(_ request: SpawnRequest, principal: Principal) throws(APIError) -> AdmissionDecision {
        let validated = try validateSpawn(request, principal: principal)
        return try admit(owner: validated.owner, tenant: validated.tenant, ttl: validated.ttl,
                         providerKnown: placement.place(validated.placementRequest) != nil)
    }
}
