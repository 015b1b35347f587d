// Wire types of the worker runtime (workers.md §4–5, api.md §8.4 and §8.8), shared by the control
// plane, `stacyvm worker` and the Swift SDK.

/// Advertised capacity (workers.md §4, §9). Absent counts and 0 mean unlimited / unknown.
public struct WorkerCapacity: Codable, Sendable, Equatable {
    public var maxSandboxes: Int?
    public var maxSandboxesPerOwner: Int?
    public var vcpus: Int?
    public var memoryMB: Int?
    public var previewDomain: String?
    public var rpcURL: String?

    enum CodingKeys: String, CodingKey {
        case maxSandboxes = "max_sandboxes"
        case maxSandboxesPerOwner = "max_sandboxes_per_owner"
        case vcpus
        case memoryMB = "memory_mb"
        case previewDomain = "preview_domain"
        case rpcURL = "rpc_url"
    }

    public init(maxSandboxes: Int? = nil, maxSandboxesPerOwner: Int? = nil, vcpus: Int? = nil, memoryMB: Int? = nil,
                previewDomain: String? = nil, rpcURL: String? = nil) {
        self.maxSandboxes = maxSandboxes
        self.maxSandboxesPerOwner = maxSandboxesPerOwner
        self.vcpus = vcpus
        self.memoryMB = memoryMB
        self.previewDomain = previewDomain
        self.rpcURL = rpcURL
    }
}

/// What a worker is using (`usage` of heartbeats and of the Worker object).
public struct WorkerUsageInfo: Codable, Sendable, Equatable {
    public var sandboxes: Int
    public var vcpus: Int
    public var memoryMB: Int

    enum CodingKeys: String, CodingKey {
        case sandboxes, vcpus
        case memoryMB = "memory_mb"
    }

    public init(sandboxes: Int = 0, vcpus: Int = 0, memoryMB: Int = 0) {
        self.sandboxes = sandboxes
        self.vcpus = vcpus
        self.memoryMB = memoryMB
    }
}

/// `POST /api/v1/worker/{workerID}/heartbeat` (workers.md §4). Every field is optional on the wire
/// so a plain REST heartbeat in the original's format decodes; the control plane validates.
public struct HeartbeatRequest: Codable, Sendable, Equatable {
    public var hostname: String?
    public var status: String?
    public var epoch: String?
    public var startedAt: String?
    public var protocolVersion: Int?
    public var version: String?
    public var heartbeatInterval: String?
    public var providers: [String]?
    public var capabilities: [String]?
    public var capacity: WorkerCapacity?
    public var usage: WorkerUsageInfo?
    public var labels: [String: String]?
    public var outstandingWork: Int?

    enum CodingKeys: String, CodingKey {
        case hostname, status, epoch
        case startedAt = "started_at"
        case protocolVersion = "protocol_version"
        case version
        case heartbeatInterval = "heartbeat_interval"
        case providers, capabilities, capacity, usage, labels
        case outstandingWork = "outstanding_work"
    }

    public init(hostname: String? = nil, status: String? = nil, epoch: String? = nil, startedAt: String? = nil,
                protocolVersion: Int? = nil, version: String? = nil, heartbeatInterval: String? = nil,
                providers: [String]? = nil, capabilities: [String]? = nil, capacity: WorkerCapacity? = nil,
                usage: WorkerUsageInfo? = nil, labels: [String: String]? = nil, outstandingWork: Int? = nil) {
        self.hostname = hostname
        self.status = status
        self.epoch = epoch
        self.startedAt = startedAt
        self.protocolVersion = protocolVersion
        self.version = version
        self.heartbeatInterval = heartbeatInterval
        self.providers = providers
        self.capabilities = capabilities
        self.capacity = capacity
        self.usage = usage
        self.labels = labels
        self.outstandingWork = outstandingWork
    }
}

/// A lease token on the wire (workers.md §6.1).
public struct LeaseToken: Codable, Sendable, Equatable {
    public var resourceID: String
    public var holderID: String?
    public var generation: Int64
    public var expiresAt: String

    enum CodingKeys: String, CodingKey {
        case resourceID = "resource_id"
        case holderID = "holder_id"
        case generation
        case expiresAt = "expires_at"
    }

    public init(resourceID: String, holderID: String? = nil, generation: Int64, expiresAt: String) {
        self.resourceID = resourceID
        self.holderID = holderID
        self.generation = generation
        self.expiresAt = expiresAt
    }
}

/// The Worker object of api.md §8.4; a heartbeat response adds `directives`, `leases`, `revoked`
/// and `control_plane` (workers.md §4), which are absent elsewhere.
public struct Worker: Codable, Sendable, Equatable {
    public struct Drain: Codable, Sendable, Equatable {
        public var startedAt: String?
        public var deadline: String?
        public var reason: String?
        enum CodingKeys: String, CodingKey {
            case startedAt = "started_at"
            case deadline, reason
        }
        public init(startedAt: String?, deadline: String?, reason: String?) {
            self.startedAt = startedAt
            self.deadline = deadline
            self.reason = reason
        }
    }

    public struct Directives: Codable, Sendable, Equatable {
        public var draining: Bool
        public var drainDeadline: String?
        public var drained: Bool
        enum CodingKeys: String, CodingKey {
            case draining
            case drainDeadline = "drain_deadline"
            case drained
        }
        public init(draining: Bool, drainDeadline: String?, drained: Bool) {
            self.draining = draining
            self.drainDeadline = drainDeadline
            self.drained = drained
        }

        // `drain_deadline` is always present (null when not draining), as in workers.md §4.
        public func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(draining, forKey: .draining)
            try container.encode(drainDeadline, forKey: .drainDeadline)
            try container.encode(drained, forKey: .drained)
        }
    }

    public struct Revocation: Codable, Sendable, Equatable {
        public var sandboxID: String
        public var generation: Int64
        enum CodingKeys: String, CodingKey {
            case sandboxID = "sandbox_id"
            case generation
        }
        public init(sandboxID: String, generation: Int64) {
            self.sandboxID = sandboxID
            self.generation = generation
        }
    }

    public struct ControlPlaneInfo: Codable, Sendable, Equatable {
        public var instanceID: String
        public var protocolVersion: Int
        public var time: String
        public var publicKeys: [String]
        enum CodingKeys: String, CodingKey {
            case instanceID = "instance_id"
            case protocolVersion = "protocol_version"
            case time
            case publicKeys = "public_keys"
        }
        public init(instanceID: String, protocolVersion: Int, time: String, publicKeys: [String]) {
            self.instanceID = instanceID
            self.protocolVersion = protocolVersion
            self.time = time
            self.publicKeys = publicKeys
        }
    }

    public var id: String
    public var hostname: String
    public var status: String
    public var stale: Bool
    public var liveness: String
    public var adminState: String
    public var epoch: String
    public var version: String
    public var protocolVersion: Int
    public var providers: [String]
    public var capabilities: [String]
    public var labels: [String: String]
    public var capacity: WorkerCapacity
    public var usage: WorkerUsageInfo
    public var drain: Drain?
    public var lastHeartbeat: String?
    public var createdAt: String
    public var updatedAt: String
    // Heartbeat response only.
    public var directives: Directives?
    public var leases: [LeaseToken]?
    public var revoked: [Revocation]?
    public var controlPlane: ControlPlaneInfo?

    enum CodingKeys: String, CodingKey {
        case id, hostname, status, stale, liveness
        case adminState = "admin_state"
        case epoch, version
        case protocolVersion = "protocol_version"
        case providers, capabilities, labels, capacity, usage, drain
        case lastHeartbeat = "last_heartbeat"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case directives, leases, revoked
        case controlPlane = "control_plane"
    }

    public init(id: String, hostname: String, status: String, stale: Bool, liveness: String, adminState: String,
                epoch: String, version: String, protocolVersion: Int, providers: [String], capabilities: [String],
                labels: [String: String], capacity: WorkerCapacity, usage: WorkerUsageInfo, drain: Drain?,
                lastHeartbeat: String?, createdAt: String, updatedAt: String) {
        self.id = id
        self.hostname = hostname
        self.status = status
        self.stale = stale
        self.liveness = liveness
        self.adminState = adminState
        self.epoch = epoch
        self.version = version
        self.protocolVersion = protocolVersion
        self.providers = providers
        self.capabilities = capabilities
        self.labels = labels
        self.capacity = capacity
        self.usage = usage
        self.drain = drain
        self.lastHeartbeat = lastHeartbeat
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// `POST /api/v1/worker/{workerID}/leases/{resourceID}/renew` body (workers.md §5); also the admin
/// repair route's body (`ttl` only).
public struct LeaseRenewRequest: Codable, Sendable, Equatable {
    public var ttl: String?
    public var generation: Int64?
    public init(ttl: String? = nil, generation: Int64? = nil) {
        self.ttl = ttl
        self.generation = generation
    }
}

public struct LeaseRenewResponse: Codable, Sendable, Equatable {
    public var lease: LeaseToken
    public init(lease: LeaseToken) { self.lease = lease }
}

/// A row of `GET /admin/leases` (api.md §8.4).
public struct LeaseInfo: Codable, Sendable, Equatable {
    public var resourceID: String
    public var resourceType: String
    public var holderID: String
    public var holderEpoch: String
    public var generation: Int64
    public var expiresAt: String
    public var createdAt: String
    public var updatedAt: String

    enum CodingKeys: String, CodingKey {
        case resourceID = "resource_id"
        case resourceType = "resource_type"
        case holderID = "holder_id"
        case holderEpoch = "holder_epoch"
        case generation
        case expiresAt = "expires_at"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    public init(resourceID: String, resourceType: String, holderID: String, holderEpoch: String, generation: Int64,
                expiresAt: String, createdAt: String, updatedAt: String) {
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

/// `POST /admin/workers/{id}/credentials` body (api.md §8.8).
public struct WorkerCredentialRequest: Codable, Sendable, Equatable {
    public var kind: String?
    public var scopes: [String]?
    public var ttl: String?
    public var description: String?
    public init(kind: String? = nil, scopes: [String]? = nil, ttl: String? = nil, description: String? = nil) {
        self.kind = kind
        self.scopes = scopes
        self.ttl = ttl
        self.description = description
    }
}

/// `PATCH /admin/workers/{id}/credentials/{credentialID}` body: a new expiry (`"0s"` clears it).
public struct WorkerCredentialUpdate: Codable, Sendable, Equatable {
    public var ttl: String?
    public var description: String?
    public init(ttl: String? = nil, description: String? = nil) {
        self.ttl = ttl
        self.description = description
    }
}

/// A worker credential as listed (never the secret); `token`, `control_plane_public_key` and
/// `control_plane_key_id` only in the response that issues it.
public struct WorkerCredential: Codable, Sendable, Equatable {
    public var id: String
    public var workerID: String
    public var kind: String
    public var scopes: [String]
    public var description: String
    public var createdAt: String
    public var expiresAt: String?
    public var revokedAt: String?
    public var lastUsedAt: String?
    public var token: String?
    public var controlPlanePublicKey: String?
    public var controlPlaneKeyID: String?

    enum CodingKeys: String, CodingKey {
        case id
        case workerID = "worker_id"
        case kind, scopes, description
        case createdAt = "created_at"
        case expiresAt = "expires_at"
        case revokedAt = "revoked_at"
        case lastUsedAt = "last_used_at"
        case token
        case controlPlanePublicKey = "control_plane_public_key"
        case controlPlaneKeyID = "control_plane_key_id"
    }

    public init(id: String, workerID: String, kind: String, scopes: [String], description: String, createdAt: String,
                expiresAt: String? = nil, revokedAt: String? = nil, lastUsedAt: String? = nil, token: String? = nil,
                controlPlanePublicKey: String? = nil, controlPlaneKeyID: String? = nil) {
        self.id = id
        self.workerID = workerID
        self.kind = kind
        self.scopes = scopes
        self.description = description
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
        self.lastUsedAt = lastUsedAt
        self.token = token
        self.controlPlanePublicKey = controlPlanePublicKey
        self.controlPlaneKeyID = controlPlaneKeyID
    }
}

/// `POST /admin/worker-tokens` (compatibility, api.md §8.8).
public struct WorkerTokenRequest: Codable, Sendable, Equatable {
    public var workerID: String?
    public var ttl: String?
    public var scopes: [String]?
    public var audience: String?
    enum CodingKeys: String, CodingKey {
        case workerID = "worker_id"
        case ttl, scopes, audience
    }
    public init(workerID: String? = nil, ttl: String? = nil, scopes: [String]? = nil, audience: String? = nil) {
        self.workerID = workerID
        self.ttl = ttl
        self.scopes = scopes
        self.audience = audience
    }
}

public struct WorkerTokenResponse: Codable, Sendable, Equatable {
    public var token: String
    public var workerID: String
    public var expiresAt: String
    enum CodingKeys: String, CodingKey {
        case token
        case workerID = "worker_id"
        case expiresAt = "expires_at"
    }
    public init(token: String, workerID: String, expiresAt: String) {
        self.token = token
        self.workerID = workerID
        self.expiresAt = expiresAt
    }
}

/// `GET /admin/control-plane` (api.md §8.4).
public struct ControlPlaneView: Codable, Sendable, Equatable {
    public struct Instance: Codable, Sendable, Equatable {
        public var instanceID: String
        public var hostname: String
        public var version: String
        public var startedAt: String
        public var lastSeen: String
        enum CodingKeys: String, CodingKey {
            case instanceID = "instance_id"
            case hostname, version
            case startedAt = "started_at"
            case lastSeen = "last_seen"
        }
        public init(instanceID: String, hostname: String, version: String, startedAt: String, lastSeen: String) {
            self.instanceID = instanceID
            self.hostname = hostname
            self.version = version
            self.startedAt = startedAt
            self.lastSeen = lastSeen
        }
    }

    public var instanceID: String
    public var isLeader: Bool
    public var leaderInstanceID: String
    public var version: String
    public var publicKey: String
    public var keyID: String
    public var instances: [Instance]

    enum CodingKeys: String, CodingKey {
        case instanceID = "instance_id"
        case isLeader = "is_leader"
        case leaderInstanceID = "leader_instance_id"
        case version
        case publicKey = "public_key"
        case keyID = "key_id"
        case instances
    }

    public init(instanceID: String, isLeader: Bool, leaderInstanceID: String, version: String, publicKey: String,
                keyID: String, instances: [Instance]) {
        self.instanceID = instanceID
        self.isLeader = isLeader
        self.leaderInstanceID = leaderInstanceID
        self.version = version
        self.publicKey = publicKey
        self.keyID = keyID
        self.instances = instances
    }
}

/// Worker capabilities (workers.md §4), never mixed with provider capabilities.
public enum WorkerCapabilities {
    public static let all = ["spawn", "exec", "exec_stream", "files", "logs", "preview", "inventory", "drain", "stats"]
}

/// Scopes a worker credential may carry (workers.md §3.1).
public enum WorkerScopes {
    public static let heartbeat = "worker:heartbeat"
    public static let lease = "worker:lease"
    public static let inventory = "worker:inventory"
    public static let all = [heartbeat, lease, inventory]
}

/// The one worker RPC protocol version this product speaks (workers.md §7.2).
public let workerProtocolVersion = 2

/// `POST /admin/workers/{id}/drain` body (api.md §8.5).
public struct DrainRequest: Codable, Sendable, Equatable {
    public var deadline: String?
    public var reason: String?
    public var force: Bool?
    public init(deadline: String? = nil, reason: String? = nil, force: Bool? = nil) {
        self.deadline = deadline
        self.reason = reason
        self.force = force
    }
}

/// `POST /admin/placement/explain` (api.md §8.4).
public struct PlacementExplanation: Codable, Sendable, Equatable {
    public struct Candidate: Codable, Sendable, Equatable {
        public var workerID: String
        public var eligible: Bool
        public var reason: String?
        public var score: Double
        enum CodingKeys: String, CodingKey {
            case workerID = "worker_id"
            case eligible, reason, score
        }
        public init(workerID: String, eligible: Bool, reason: String?, score: Double) {
            self.workerID = workerID
            self.eligible = eligible
            self.reason = reason
            self.score = score
        }
    }
    public var selectedWorkerID: String?
    public var candidates: [Candidate]
    enum CodingKeys: String, CodingKey {
        case selectedWorkerID = "selected_worker_id"
        case candidates
    }
    public init(selectedWorkerID: String?, candidates: [Candidate]) {
        self.selectedWorkerID = selectedWorkerID
        self.candidates = candidates
    }

    // `selected_worker_id` is always present (null when nothing fits).
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(selectedWorkerID, forKey: .selectedWorkerID)
        try container.encode(candidates, forKey: .candidates)
    }
}
