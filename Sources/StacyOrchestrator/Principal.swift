import StacyHTTP

/// The authenticated caller (api.md §3): role → scopes, tenant and owner.
public struct Principal: Sendable, Equatable {
    public enum Role: String, Sendable {
        case viewer, api, `operator`, tenantAdmin = "tenant_admin", admin
    }

    public let role: Role
    /// "" is the default tenant.
    public let tenantID: String
    /// "" means no owner: such a principal sees only sandboxes without an owner unless its role
    /// lets it see the whole tenant.
    public let ownerID: String
    /// Who acts, for logs and audit: a key ID, a config key name, or `anonymous`.
    public let actor: String
    /// Whether tenant and owner come from the credential itself (then headers cannot change them).
    public let boundTenant: Bool
    public let boundOwner: Bool

    public init(role: Role, tenantID: String = "", ownerID: String = "", actor: String = "anonymous",
                boundTenant: Bool = false, boundOwner: Bool = false) {
        self.role = role
        self.tenantID = tenantID
        self.ownerID = ownerID
        self.actor = actor
        self.boundTenant = boundTenant
        self.boundOwner = boundOwner
    }

    public var scopes: Set<String> {
        switch role {
        case .viewer: return ["read:*"]
        case .api: return ["read:*", "api:*"]
        case .operator: return ["read:*", "api:*", "operator:*"]
        case .tenantAdmin: return ["read:*", "api:*", "operator:*", "tenant:admin"]
        case .admin: return ["read:*", "api:*", "operator:*", "tenant:admin", "admin:*"]
        }
    }

    public var isGlobalAdmin: Bool { role == .admin }

    public func has(_ scope: String) -> Bool { scope == "public" || scopes.contains(scope) }

    public func require(_ scope: String) throws(APIError) {
        guard has(scope) else { throw APIError(status: 403, code: "FORBIDDEN", message: "missing scope \(scope)") }
    }

    /// api.md §3.4: global admins see everything; inside the tenant, operators see every
    /// sandbox and everyone else only their own (an empty owner matches only empty owners).
    public func canSee(ownerID: String?, tenantID: String?) -> Bool {
        if isGlobalAdmin { return true }
        guard (tenantID ?? "") == self.tenantID else { return false }
        if has("operator:*") { return true }
        return (ownerID ?? "") == self.ownerID
    }

    /// Anonymous loopback mode (api.md §3.1): with `X-User-ID` the caller is that owner with role
    /// `api`; without it, the local operator of the default tenant.
    public static func anonymous(userID: String?) -> Principal {
        if let userID, !userID.isEmpty { return Principal(role: .api, ownerID: userID) }
        return Principal(role: .operator)
    }
}
