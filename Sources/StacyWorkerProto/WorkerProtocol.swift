import StacyAPI
import StacyJSON

// Worker RPC, version 2 (workers.md §7): the envelope, the methods with their scopes, their
// params and results, and the typed error codes. Shared by the control plane's client and the
// worker's server.

/// `POST /rpc` request (workers.md §7.2).
public struct RPCRequest: Codable, Sendable, Equatable {
    public var id: String
    public var method: String
    public var workerID: String
    public var protocolVersion: Int?
    public var lease: LeaseToken?
    public var params: JSONValue?

    enum CodingKeys: String, CodingKey {
        case id, method
        case workerID = "worker_id"
        case protocolVersion = "protocol_version"
        case lease, params
    }

    public init(id: String, method: String, workerID: String, protocolVersion: Int? = workerProtocolVersion,
                lease: LeaseToken? = nil, params: JSONValue? = nil) {
        self.id = id
        self.method = method
        self.workerID = workerID
        self.protocolVersion = protocolVersion
        self.lease = lease
        self.params = params
    }
}

public struct RPCErrorBody: Codable, Sendable, Equatable {
    public var code: String
    public var message: String
    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }
}

/// `POST /rpc` response: `result` or `error`, never both.
public struct RPCResponse: Codable, Sendable, Equatable {
    public var id: String
    public var workerID: String
    public var protocolVersion: Int
    public var result: JSONValue?
    public var error: RPCErrorBody?

    enum CodingKeys: String, CodingKey {
        case id
        case workerID = "worker_id"
        case protocolVersion = "protocol_version"
        case result, error
    }

    public init(id: String, workerID: String, result: JSONValue? = nil, error: RPCErrorBody? = nil) {
        self.id = id
        self.workerID = workerID
        self.protocolVersion = workerProtocolVersion
        self.result = result
        self.error = error
    }
}

/// The typed RPC error codes and their HTTP statuses on `/rpc` (workers.md §7.3).
public enum RPCErrorCode: String, Sendable, CaseIterable {
    case badRequest = "BAD_REQUEST"
    case unauthorized = "UNAUTHORIZED"
    case forbidden = "FORBIDDEN"
    case notFound = "NOT_FOUND"
    case conflict = "CONFLICT"
    case leaseMismatch = "LEASE_MISMATCH"
    case leaseStale = "LEASE_STALE"
    case leaseExpired = "LEASE_EXPIRED"
    case draining = "DRAINING"
    case providerUnavailable = "PROVIDER_UNAVAILABLE"
    case resourceLimit = "RESOURCE_LIMIT"
    case timeout = "TIMEOUT"
    case payloadTooLarge = "PAYLOAD_TOO_LARGE"
    case unknownMethod = "UNKNOWN_METHOD"
    case unsupportedVersion = "UNSUPPORTED_VERSION"
    case `internal` = "INTERNAL"

    public var httpStatus: Int {
        switch self {
        case .badRequest, .unsupportedVersion: return 400
        case .unauthorized: return 401
        case .forbidden: return 403
        case .notFound: return 404
        case .conflict, .leaseMismatch, .leaseStale, .leaseExpired: return 409
        case .draining, .providerUnavailable: return 503
        case .resourceLimit: return 429
        case .timeout: return 408
        case .payloadTooLarge: return 413
        case .unknownMethod: return 501
        case .internal: return 500
        }
    }

    /// A spawn refused with this code goes to the next worker (workers.md §8, step 5).
    public var refusesPlacement: Bool {
        switch self {
        case .draining, .providerUnavailable, .resourceLimit, .unauthorized, .forbidden, .unsupportedVersion: return true
        default: return false
        }
    }
}

/// An RPC failure as the caller sees it: a typed code, or a transport failure.
public struct RPCError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: String
    public var message: String
    /// True when the request may have reached the worker (a timeout or a connection lost after
    /// sending): a spawn must then be treated as ambiguous (workers.md §8, step 6).
    public var ambiguous: Bool
    /// True for transport failures (no typed answer at all).
    public var transport: Bool

    public init(code: String, message: String, ambiguous: Bool = false, transport: Bool = false) {
        self.code = code
        self.message = message
        self.ambiguous = ambiguous
        self.transport = transport
    }

    public init(_ code: RPCErrorCode, _ message: String) { self.init(code: code.rawValue, message: message) }

    public var typed: RPCErrorCode? { RPCErrorCode(rawValue: code) }
    public var description: String { "\(code): \(message)" }
}

/// Method names and the one scope each needs (workers.md §7.4).
public enum RPCMethod: String, Sendable, CaseIterable {
    case status = "worker.status"
    case spawn = "worker.spawn"
    case destroy = "worker.destroy"
    case renewLease = "worker.renew_lease"
    case drain = "worker.drain"
    case shutdown = "worker.shutdown"
    case inventory = "worker.inventory"

    public var scope: String {
        switch self {
        case .status: return "worker:status"
        case .spawn: return "worker:spawn"
        case .destroy: return "worker:destroy"
        case .renewLease: return "worker:lease"
        case .drain, .shutdown: return "worker:drain"
        case .inventory: return "worker:inventory"
        }
    }

    /// Methods that pass the lease checks of workers.md §6.3.
    public var mutating: Bool { self == .spawn || self == .destroy || self == .renewLease }
}

// MARK: params and results

/// The sandbox a call is about: `sandbox_id`, `provider`, `runtime_id?`.
public struct RPCTarget: Codable, Sendable, Equatable {
    public var sandboxID: String
    public var provider: String
    public var runtimeID: String?

    enum CodingKeys: String, CodingKey {
        case sandboxID = "sandbox_id"
        case provider
        case runtimeID = "runtime_id"
    }

    public init(sandboxID: String, provider: String, runtimeID: String? = nil) {
        self.sandboxID = sandboxID
        self.provider = provider
        self.runtimeID = runtimeID
    }
}

public struct SpawnParams: Codable, Sendable, Equatable {
    public var sandboxID: String
    public var provider: String
    public var image: String
    public var memoryMB: Int
    public var vcpus: Int
    public var ttl: String?
    public var expiresAt: String
    public var ownerID: String?
    public var tenantID: String?
    public var metadata: [String: String]?
    public var network: String?
    public var env: [String: String]?

    enum CodingKeys: String, CodingKey {
        case sandboxID = "sandbox_id"
        case provider, image
        case memoryMB = "memory_mb"
        case vcpus, ttl
        case expiresAt = "expires_at"
        case ownerID = "owner_id"
        case tenantID = "tenant_id"
        case metadata, network, env
    }

    public init(sandboxID: String, provider: String, image: String, memoryMB: Int, vcpus: Int, ttl: String? = nil,
                expiresAt: String, ownerID: String? = nil, tenantID: String? = nil, metadata: [String: String]? = nil,
                network: String? = nil, env: [String: String]? = nil) {
        self.sandboxID = sandboxID
        self.provider = provider
        self.image = image
        self.memoryMB = memoryMB
        self.vcpus = vcpus
        self.ttl = ttl
        self.expiresAt = expiresAt
        self.ownerID = ownerID
        self.tenantID = tenantID
        self.metadata = metadata
        self.network = network
        self.env = env
    }
}

public struct SpawnResult: Codable, Sendable, Equatable {
    public var sandboxID: String
    public var runtimeID: String
    public var state: String
    public var provider: String
    public var workerID: String
    public var metadata: [String: String]
    public var created: Bool

    enum CodingKeys: String, CodingKey {
        case sandboxID = "sandbox_id"
        case runtimeID = "runtime_id"
        case state, provider
        case workerID = "worker_id"
        case metadata, created
    }

    public init(sandboxID: String, runtimeID: String, state: String, provider: String, workerID: String,
                metadata: [String: String], created: Bool) {
        self.sandboxID = sandboxID
        self.runtimeID = runtimeID
        self.state = state
        self.provider = provider
        self.workerID = workerID
        self.metadata = metadata
        self.created = created
    }
}

public struct DestroyParams: Codable, Sendable, Equatable {
    public var sandboxID: String
    public var provider: String
    public var runtimeID: String?
    public var reap: Bool?
    public var reason: String?

    enum CodingKeys: String, CodingKey {
        case sandboxID = "sandbox_id"
        case provider
        case runtimeID = "runtime_id"
        case reap, reason
    }

    public init(sandboxID: String, provider: String, runtimeID: String?, reap: Bool? = nil, reason: String? = nil) {
        self.sandboxID = sandboxID
        self.provider = provider
        self.runtimeID = runtimeID
        self.reap = reap
        self.reason = reason
    }
}

public struct DestroyResult: Codable, Sendable, Equatable {
    public var sandboxID: String
    public var destroyed: Bool
    enum CodingKeys: String, CodingKey {
        case sandboxID = "sandbox_id"
        case destroyed
    }
    public init(sandboxID: String, destroyed: Bool) {
        self.sandboxID = sandboxID
        self.destroyed = destroyed
    }
}

/// `worker.status` with a target.
public struct SandboxStatusResult: Codable, Sendable, Equatable {
    public var sandboxID: String
    public var runtimeID: String
    public var state: String
    public var provider: String
    public var workerID: String
    public var generation: Int64
    public var expiresAt: String?
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case sandboxID = "sandbox_id"
        case runtimeID = "runtime_id"
        case state, provider
        case workerID = "worker_id"
        case generation
        case expiresAt = "expires_at"
        case error
    }

    public init(sandboxID: String, runtimeID: String, state: String, provider: String, workerID: String,
                generation: Int64, expiresAt: String?, error: String? = nil) {
        self.sandboxID = sandboxID
        self.runtimeID = runtimeID
        self.state = state
        self.provider = provider
        self.workerID = workerID
        self.generation = generation
        self.expiresAt = expiresAt
        self.error = error
    }
}

/// `worker.status` without a target.
public struct WorkerStatusResult: Codable, Sendable, Equatable {
    public var workerID: String
    public var epoch: String
    public var draining: Bool
    public var sandboxes: Int
    public var providers: [String]
    public var protocolVersion: Int

    enum CodingKeys: String, CodingKey {
        case workerID = "worker_id"
        case epoch, draining, sandboxes, providers
        case protocolVersion = "protocol_version"
    }

    public init(workerID: String, epoch: String, draining: Bool, sandboxes: Int, providers: [String]) {
        self.workerID = workerID
        self.epoch = epoch
        self.draining = draining
        self.sandboxes = sandboxes
        self.providers = providers
        self.protocolVersion = workerProtocolVersion
    }
}

public struct RenewLeaseParams: Codable, Sendable, Equatable {
    public var resourceID: String
    public var ttl: String?
    enum CodingKeys: String, CodingKey {
        case resourceID = "resource_id"
        case ttl
    }
    public init(resourceID: String, ttl: String? = nil) {
        self.resourceID = resourceID
        self.ttl = ttl
    }
}

public struct DrainParams: Codable, Sendable, Equatable {
    public var draining: Bool
    public var deadline: String?
    public var reason: String?
    public init(draining: Bool, deadline: String? = nil, reason: String? = nil) {
        self.draining = draining
        self.deadline = deadline
        self.reason = reason
    }
}

public struct DrainResult: Codable, Sendable, Equatable {
    public var workerID: String
    public var draining: Bool
    public var deadline: String?
    enum CodingKeys: String, CodingKey {
        case workerID = "worker_id"
        case draining, deadline
    }
    public init(workerID: String, draining: Bool, deadline: String?) {
        self.workerID = workerID
        self.draining = draining
        self.deadline = deadline
    }
}

public struct InventoryParams: Codable, Sendable, Equatable {
    public var includeTombstones: Bool?
    enum CodingKeys: String, CodingKey { case includeTombstones = "include_tombstones" }
    public init(includeTombstones: Bool? = nil) { self.includeTombstones = includeTombstones }
}

public struct InventoryResult: Codable, Sendable, Equatable {
    public struct Entry: Codable, Sendable, Equatable {
        public var sandboxID: String
        public var runtimeID: String
        public var provider: String
        public var state: String
        public var generation: Int64
        public var expiresAt: String?
        public var createdAt: String
        enum CodingKeys: String, CodingKey {
            case sandboxID = "sandbox_id"
            case runtimeID = "runtime_id"
            case provider, state, generation
            case expiresAt = "expires_at"
            case createdAt = "created_at"
        }
        public init(sandboxID: String, runtimeID: String, provider: String, state: String, generation: Int64,
                    expiresAt: String?, createdAt: String) {
            self.sandboxID = sandboxID
            self.runtimeID = runtimeID
            self.provider = provider
            self.state = state
            self.generation = generation
            self.expiresAt = expiresAt
            self.createdAt = createdAt
        }
    }

    public struct Tombstone: Codable, Sendable, Equatable {
        public var sandboxID: String
        public var generation: Int64
        public var reason: String
        public var destroyedAt: String
        enum CodingKeys: String, CodingKey {
            case sandboxID = "sandbox_id"
            case generation, reason
            case destroyedAt = "destroyed_at"
        }
        public init(sandboxID: String, generation: Int64, reason: String, destroyedAt: String) {
            self.sandboxID = sandboxID
            self.generation = generation
            self.reason = reason
            self.destroyedAt = destroyedAt
        }
    }

    public var workerID: String
    public var epoch: String
    public var sandboxes: [Entry]
    public var tombstones: [Tombstone]
    enum CodingKeys: String, CodingKey {
        case workerID = "worker_id"
        case epoch, sandboxes, tombstones
    }
    public init(workerID: String, epoch: String, sandboxes: [Entry], tombstones: [Tombstone]) {
        self.workerID = workerID
        self.epoch = epoch
        self.sandboxes = sandboxes
        self.tombstones = tombstones
    }
}

// MARK: JSON helpers

public enum RPCJSON {
    /// A Codable value as a `JSONValue` (for `params` and `result`).
    public static func value<T: Encodable>(_ value: T) throws -> JSONValue {
        try JanssonDecoder().decode(JSONValue.self, from: try JanssonEncoder().encode(value))
    }

    /// A `JSONValue` (absent = `{}`) decoded as `T`.
    public static func decode<T: Decodable>(_ type: T.Type, from value: JSONValue?) throws -> T {
        try JanssonDecoder().decode(type, from: try JanssonEncoder().encode(value ?? .object([])))
    }
}
