import StacyConfig
import StacyHTTP
import StacyStore
import Synchronization

/// api.md §3.1–3.3: who is calling. API keys are known only by their SHA-256 (config keys are
/// hashed at load; database keys are stored hashed); worker credentials are refused here.
public final class Authenticator: Sendable {
    /// A key from the config file or environment, reduced to its hash and bindings.
    public struct ConfiguredKey: Sendable {
        public let sha256: [UInt8]
        public let role: Principal.Role
        public let tenantID: String?
        public let ownerID: String?
        public let name: String
    }

    public struct Settings: Sendable {
        public var keys: [ConfiguredKey] = []
        /// `auth.enabled`: no anonymous mode even on loopback.
        public var authEnabled = false
        /// Anonymous mode exists only while the server listens on loopback alone.
        public var loopbackListener = true
        /// Failed authentications allowed per client IP and minute; 0 = off.
        public var failuresPerMinute = 30
        /// Loopback clients are exempt from the failure limit unless rate limiting is on.
        public var rateLimitEnabled = false
        public init() {}
    }

    private let settings: Settings
    private let store: any Store
    private let dbKeyCache = Mutex<(count: Int, checkedAt: UInt64)?>(nil)
    private let failures = Mutex<[String: (windowStart: UInt64, count: Int)]>([:])
    private let usage = UsageTouch()

    public init(settings: Settings, store: any Store) {
        self.settings = settings
        self.store = store
    }

    /// True when some API-side credential exists (config keys or database keys).
    public var credentialsConfigured: Bool { !settings.keys.isEmpty || databaseKeyCount() > 0 }

    public func authenticate(_ request: HTTPRequest) throws(APIError) -> Principal {
        if request.header("X-Worker-Token") != nil || request.header("Authorization").map(isStacyBearer) == true {
            throw APIError(status: 401, code: "UNAUTHORIZED", message: "worker credentials are not accepted on API routes")
        }
        let base: Principal
        if let presented = request.header("X-Admin-API-Key") ?? request.header("X-API-Key") {
            try checkFailureLimit(request.remoteAddress)
            guard let found = lookup(presented) else {
                recordFailure(request.remoteAddress)
                throw APIError.unauthorized
            }
            base = found
        } else if !settings.authEnabled && settings.loopbackListener && !credentialsConfigured {
            return Principal.anonymous(userID: try request.header("X-User-ID").map { (raw) throws(APIError) in try Validate.ownerID(raw) })
        } else {
            try checkFailureLimit(request.remoteAddress)
            recordFailure(request.remoteAddress)
            throw APIError.unauthorized
        }
        return try bind(base, request)
    }

    /// §3.3: a bound tenant or owner cannot be overridden by headers, except that operators may
    /// act for another owner.
    private func bind(_ key: Principal, _ request: HTTPRequest) throws(APIError) -> Principal {
        var tenant = key.tenantID
        if let header = request.header("X-Tenant-ID"), !header.isEmpty {
            if key.boundTenant && header != key.tenantID && !key.isGlobalAdmin {
                throw APIError(status: 403, code: "FORBIDDEN", message: "X-Tenant-ID conflicts with the key's tenant")
            }
            if !key.boundTenant || key.isGlobalAdmin { tenant = header }
        }
        var owner = key.ownerID
        if let raw = request.header("X-User-ID"), !raw.isEmpty {
            let header = try Validate.ownerID(raw)
            if key.boundOwner && header != key.ownerID && !key.has("operator:*") {
                throw APIError(status: 403, code: "FORBIDDEN", message: "X-User-ID conflicts with the key's owner")
            }
            owner = header
        }
        return Principal(role: key.role, tenantID: tenant, ownerID: owner, actor: key.actor,
                         boundTenant: key.boundTenant, boundOwner: key.boundOwner)
    }

    private func lookup(_ presented: String) -> Principal? {
        let digest = SHA256.digest(Array(presented.utf8))
        // Config keys: compare every one in constant time, so timing reveals nothing.
        var match: ConfiguredKey?
        for key in settings.keys where constantTimeEqual(key.sha256, digest) { match = key }
        if let match {
            return Principal(role: match.role, tenantID: match.tenantID ?? "", ownerID: match.ownerID ?? "",
                             actor: match.name, boundTenant: match.tenantID != nil, boundOwner: match.ownerID != nil)
        }
        guard let record = try? store.findActiveAPIKey(sha256: SHA256.hex(Array(presented.utf8))),
              let role = Principal.Role(rawValue: record.role) else { return nil }
        usage.touch(record.id) { try? store.touchAPIKey(id: record.id) }
        return Principal(role: role, tenantID: record.tenantID ?? "", ownerID: record.ownerID ?? "", actor: record.id,
                         boundTenant: record.tenantID != nil, boundOwner: record.ownerID != nil)
    }

    /// Whether database keys exist, re-read at most once a second.
    private func databaseKeyCount() -> Int {
        let now = monotonicNanos()
        if let cached = dbKeyCache.withLock({ $0 }), now - cached.checkedAt < 1_000_000_000 { return cached.count }
        let count = (try? store.countActiveAPIKeys()) ?? 0
        dbKeyCache.withLock { $0 = (count, now) }
        return count
    }

    /// Forget the cached count after a key was created or revoked here.
    public func keysChanged() { dbKeyCache.withLock { $0 = nil } }

    // MARK: failed-authentication limit (api.md §1, rate limiting)

    private func exempt(_ address: String) -> Bool {
        settings.failuresPerMinute == 0 || (!settings.rateLimitEnabled && (address.hasPrefix("127.") || address == "::1"))
    }

    private func checkFailureLimit(_ address: String) throws(APIError) {
        guard !exempt(address) else { return }
        let now = monotonicNanos()
        let blocked = failures.withLock { table -> Bool in
            guard let entry = table[address], now - entry.windowStart < 60_000_000_000 else { return false }
            return entry.count >= settings.failuresPerMinute
        }
        if blocked {
            throw APIError(status: 429, code: "RESOURCE_LIMIT", message: "too many failed authentications",
                           headers: [("Retry-After", "60")])
        }
    }

    private func recordFailure(_ address: String) {
        guard !exempt(address) else { return }
        let now = monotonicNanos()
        failures.withLock { table in
            if let entry = table[address], now - entry.windowStart < 60_000_000_000 {
                table[address] = (entry.windowStart, entry.count + 1)
            } else {
                table[address] = (now, 1)
            }
            // Bounded: forget stale windows once the table grows.
            if table.count > 10_000 { table = table.filter { now - $0.value.windowStart < 60_000_000_000 } }
        }
    }

    /// Control-plane RPC tokens (`stacyvm-cp-v1.…`) and per-worker secrets (`svmw_…`).
    private func isStacyBearer(_ header: String) -> Bool {
        let lowered = header.lowercased()
        return lowered.hasPrefix("bearer stacyvm-") || lowered.hasPrefix("bearer svmw_")
    }
}

extension APIError {
    public static let unauthorized = APIError(status: 401, code: "UNAUTHORIZED", message: "invalid or missing API key")
}

func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for index in a.indices { difference |= a[index] ^ b[index] }
    return difference == 0
}

extension Authenticator {
    /// Config keys of runtime.md §14: `auth.api_key` (role `auth.api_key_role`),
    /// `auth.admin_api_key` (admin), their `_sha256` forms, and `auth.api_keys` records.
    public static func settings(from config: Config, loopbackListener: Bool) -> Settings {
        var settings = Settings()
        func add(_ digest: [UInt8]?, _ role: Principal.Role, tenant: String? = nil, owner: String? = nil, name: String) {
            guard let digest else { return }
            settings.keys.append(ConfiguredKey(sha256: digest, role: role, tenantID: tenant, ownerID: owner, name: name))
        }
        let apiRole = Principal.Role(rawValue: config.value("auth.api_key_role")?.stringValue ?? "api") ?? .api
        add(config.value("auth.api_key")?.stringValue.map { SHA256.digest(Array($0.utf8)) }, apiRole, name: "config:api_key")
        add(config.value("auth.api_key_sha256")?.stringValue.flatMap(decodeHex), apiRole, name: "config:api_key")
        add(config.value("auth.admin_api_key")?.stringValue.map { SHA256.digest(Array($0.utf8)) }, .admin, name: "config:admin_api_key")
        add(config.value("auth.admin_api_key_sha256")?.stringValue.flatMap(decodeHex), .admin, name: "config:admin_api_key")
        for (index, record) in (config.value("auth.api_keys")?.recordsValue ?? []).enumerated() {
            guard let digest = record["sha256"].flatMap(decodeHex), let role = record["role"].flatMap(Principal.Role.init) else { continue }
            add(digest, role, tenant: record["tenant_id"], owner: record["owner_id"], name: "config:api_keys[\(index)]")
        }
        settings.authEnabled = config.value("auth.enabled")?.boolValue ?? false
        settings.loopbackListener = loopbackListener
        settings.failuresPerMinute = config.value("rate_limit.auth_failures_per_minute")?.intValue ?? 30
        settings.rateLimitEnabled = config.value("rate_limit.enabled")?.boolValue ?? false
        return settings
    }

    static func decodeHex(_ text: String) -> [UInt8]? {
        let bytes = Array(text.lowercased().utf8)
        guard bytes.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            guard let high = nibble(bytes[index]), let low = nibble(bytes[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case 48...57: return c - 48
        case 97...102: return c - 87
        default: return nil
        }
    }
}
