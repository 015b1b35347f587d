/// Wire types of templates (api.md §8.1), in the original SDK's shape.

public struct Template: Codable, Sendable, Equatable {
    public var name: String
    public var image: String
    public var memoryMB: Int
    public var vcpus: Int
    /// Exactly as submitted (`"1h"` reads back as `"1h"`).
    public var ttl: String
    public var provider: String
    public var metadata: [String: String]
    public var version: Int
    public var description: String
    public var env: [String: String]
    public var setup: [String]
    public var onDrain: String
    public var tenantID: String?
    public var createdAt: String
    public var updatedAt: String

    enum CodingKeys: String, CodingKey {
        case name, image
        case memoryMB = "memory_mb"
        case vcpus, ttl, provider, metadata, version, description, env, setup
        case onDrain = "on_drain"
        case tenantID = "tenant_id"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    public init(name: String, image: String, memoryMB: Int, vcpus: Int, ttl: String, provider: String,
                metadata: [String: String], version: Int, description: String, env: [String: String], setup: [String],
                onDrain: String, tenantID: String?, createdAt: String, updatedAt: String) {
        self.name = name
        self.image = image
        self.memoryMB = memoryMB
        self.vcpus = vcpus
        self.ttl = ttl
        self.provider = provider
        self.metadata = metadata
        self.version = version
        self.description = description
        self.env = env
        self.setup = setup
        self.onDrain = onDrain
        self.tenantID = tenantID
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// Create/replace body. `cpu_cores` and `ttl_seconds` are the original SDK's aliases.
public struct TemplateRequest: Codable, Sendable, Equatable {
    public var name: String?
    public var image: String?
    public var memoryMB: Int?
    public var vcpus: Int?
    public var cpuCores: Int?
    public var ttl: String?
    public var ttlSeconds: Int?
    public var provider: String?
    public var metadata: [String: String]?
    public var description: String?
    public var env: [String: String]?
    public var setup: [String]?
    public var onDrain: String?
    public var tenantID: String?

    enum CodingKeys: String, CodingKey {
        case name, image
        case memoryMB = "memory_mb"
        case vcpus
        case cpuCores = "cpu_cores"
        case ttl
        case ttlSeconds = "ttl_seconds"
        case provider, metadata, description, env, setup
        case onDrain = "on_drain"
        case tenantID = "tenant_id"
    }

    public init(name: String? = nil, image: String? = nil) {
        self.name = name
        self.image = image
    }
}

public struct TemplateSpawnRequest: Codable, Sendable, Equatable {
    public var provider: String?
    public var ttl: String?
    public var metadata: [String: String]?
    public var ownerID: String?

    enum CodingKeys: String, CodingKey {
        case provider, ttl, metadata
        case ownerID = "owner_id"
    }
}
