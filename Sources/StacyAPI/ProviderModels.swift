/// api.md §8.3: `GET /providers` items.
public struct ProviderInfo: Codable, Sendable, Equatable {
    public var name: String
    public var healthy: Bool
    public var isDefault: Bool
    public var latencyMs: Int64?
    public var lastChecked: String
    public var error: String?
    public var capabilities: [String]
    /// `local` until workers advertise providers (`remote`, `both`).
    public var location: String

    enum CodingKeys: String, CodingKey {
        case name, healthy
        case isDefault = "default"
        case latencyMs = "latency_ms"
        case lastChecked = "last_checked"
        case error, capabilities, location
    }

    public init(name: String, healthy: Bool, isDefault: Bool, latencyMs: Int64?, lastChecked: String, error: String?,
                capabilities: [String], location: String = "local") {
        self.name = name
        self.healthy = healthy
        self.isDefault = isDefault
        self.latencyMs = latencyMs
        self.lastChecked = lastChecked
        self.error = error
        self.capabilities = capabilities
        self.location = location
    }
}

/// api.md §8.3: `GET /providers/{name}`.
public struct ProviderDetail: Codable, Sendable, Equatable {
    public struct Health: Codable, Sendable, Equatable {
        public var healthy: Bool
        public var latencyMs: Int64?
        public var lastChecked: String
        public var error: String?

        enum CodingKeys: String, CodingKey {
            case healthy
            case latencyMs = "latency_ms"
            case lastChecked = "last_checked"
            case error
        }

        public init(healthy: Bool, latencyMs: Int64?, lastChecked: String, error: String?) {
            self.healthy = healthy
            self.latencyMs = latencyMs
            self.lastChecked = lastChecked
            self.error = error
        }
    }

    public var name: String
    public var healthy: Bool
    public var isDefault: Bool
    public var sandboxCount: Int
    public var health: Health
    /// The provider's effective settings; never secrets.
    public var config: [String: String]

    enum CodingKeys: String, CodingKey {
        case name, healthy
        case isDefault = "default"
        case sandboxCount = "sandbox_count"
        case health, config
    }

    public init(name: String, healthy: Bool, isDefault: Bool, sandboxCount: Int, health: Health, config: [String: String]) {
        self.name = name
        self.healthy = healthy
        self.isDefault = isDefault
        self.sandboxCount = sandboxCount
        self.health = health
        self.config = config
    }
}
