/// Wire types of the sandbox, exec and file routes (api.md §5, §6, §9). Field order is the
/// documented key order; optional fields are omitted when nil.

public struct Sandbox: Codable, Sendable, Equatable {
    public var id: String
    public var state: String
    public var stateReason: String?
    public var provider: String
    public var image: String
    public var memoryMB: Int
    public var vcpus: Int
    public var ownerID: String?
    public var tenantID: String?
    public var template: String?
    public var vmID: String?
    public var workerID: String
    public var createdAt: String
    public var updatedAt: String
    public var expiresAt: String
    public var metadata: [String: String]?
    public var previewDomain: String

    enum CodingKeys: String, CodingKey {
        case id, state
        case stateReason = "state_reason"
        case provider, image
        case memoryMB = "memory_mb"
        case vcpus
        case ownerID = "owner_id"
        case tenantID = "tenant_id"
        case template
        case vmID = "vm_id"
        case workerID = "worker_id"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case expiresAt = "expires_at"
        case metadata
        case previewDomain = "preview_domain"
    }

    public init(id: String, state: String, stateReason: String?, provider: String, image: String, memoryMB: Int,
                vcpus: Int, ownerID: String?, tenantID: String?, template: String?, vmID: String?, workerID: String,
                createdAt: String, updatedAt: String, expiresAt: String, metadata: [String: String]?, previewDomain: String) {
        self.id = id
        self.state = state
        self.stateReason = stateReason
        self.provider = provider
        self.image = image
        self.memoryMB = memoryMB
        self.vcpus = vcpus
        self.ownerID = ownerID
        self.tenantID = tenantID
        self.template = template
        self.vmID = vmID
        self.workerID = workerID
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.expiresAt = expiresAt
        self.metadata = metadata
        self.previewDomain = previewDomain
    }
}

public struct SpawnRequest: Codable, Sendable, Equatable {
    public var image: String?
    public var provider: String?
    public var memoryMB: Int?
    public var vcpus: Int?
    public var ttl: String?
    public var template: String?
    public var ownerID: String?
    public var tenantID: String?
    public var metadata: [String: String]?
    public var network: String?

    enum CodingKeys: String, CodingKey {
        case image, provider
        case memoryMB = "memory_mb"
        case vcpus, ttl, template
        case ownerID = "owner_id"
        case tenantID = "tenant_id"
        case metadata, network
    }

    public init(image: String? = nil, provider: String? = nil, memoryMB: Int? = nil, vcpus: Int? = nil, ttl: String? = nil,
                template: String? = nil, ownerID: String? = nil, tenantID: String? = nil,
                metadata: [String: String]? = nil, network: String? = nil) {
        self.image = image
        self.provider = provider
        self.memoryMB = memoryMB
        self.vcpus = vcpus
        self.ttl = ttl
        self.template = template
        self.ownerID = ownerID
        self.tenantID = tenantID
        self.metadata = metadata
        self.network = network
    }
}

public struct ExtendRequest: Codable, Sendable, Equatable {
    public var ttl: String?
    public var mode: String?
    public init(ttl: String?, mode: String? = nil) {
        self.ttl = ttl
        self.mode = mode
    }
}

public struct ExecRequest: Codable, Sendable, Equatable {
    public var command: String?
    public var args: [String]?
    public var mode: String?
    public var env: [String: String]?
    public var workdir: String?
    public var timeout: String?
    public var stream: Bool?
    public var stdin: String?
    public var outputEncoding: String?

    enum CodingKeys: String, CodingKey {
        case command, args, mode, env, workdir, timeout, stream, stdin
        case outputEncoding = "output_encoding"
    }

    public init(command: String?, args: [String]? = nil, mode: String? = nil, env: [String: String]? = nil,
                workdir: String? = nil, timeout: String? = nil, stream: Bool? = nil, stdin: String? = nil,
                outputEncoding: String? = nil) {
        self.command = command
        self.args = args
        self.mode = mode
        self.env = env
        self.workdir = workdir
        self.timeout = timeout
        self.stream = stream
        self.stdin = stdin
        self.outputEncoding = outputEncoding
    }
}

/// Exactly these four keys: the original Python SDK reads the result strictly.
public struct ExecResponse: Codable, Sendable, Equatable {
    public var exitCode: Int
    public var stdout: String
    public var stderr: String
    public var duration: String

    enum CodingKeys: String, CodingKey {
        case exitCode = "exit_code"
        case stdout, stderr, duration
    }

    public init(exitCode: Int, stdout: String, stderr: String, duration: String) {
        self.exitCode = exitCode
        self.stdout = stdout
        self.stderr = stderr
        self.duration = duration
    }
}

public struct ExecOutputFrame: Codable, Sendable, Equatable {
    public var stream: String
    public var data: String
    public init(stream: String, data: String) {
        self.stream = stream
        self.data = data
    }
}

public struct ExecExitFrame: Codable, Sendable, Equatable {
    public var stream: String = "exit"
    public var exitCode: Int
    public var duration: String
    public var timedOut: Bool?
    public var error: ErrorEnvelope?

    enum CodingKeys: String, CodingKey {
        case stream
        case exitCode = "exit_code"
        case duration
        case timedOut = "timed_out"
        case error
    }

    public init(exitCode: Int, duration: String, timedOut: Bool? = nil, error: ErrorEnvelope? = nil) {
        self.exitCode = exitCode
        self.duration = duration
        self.timedOut = timedOut
        self.error = error
    }
}

public struct FileInfoWire: Codable, Sendable, Equatable {
    public var path: String
    public var name: String
    public var size: Int64
    public var mode: String
    public var isDir: Bool
    public var modTime: String

    enum CodingKeys: String, CodingKey {
        case path, name, size, mode
        case isDir = "is_dir"
        case modTime = "mod_time"
    }

    public init(path: String, name: String, size: Int64, mode: String, isDir: Bool, modTime: String) {
        self.path = path
        self.name = name
        self.size = size
        self.mode = mode
        self.isDir = isDir
        self.modTime = modTime
    }
}

public struct FileContentResponse: Codable, Sendable, Equatable {
    public var path: String
    public var size: Int
    public var encoding: String
    public var content: String
    public init(path: String, size: Int, encoding: String, content: String) {
        self.path = path
        self.size = size
        self.encoding = encoding
        self.content = content
    }
}

public struct WriteFileRequest: Codable, Sendable, Equatable {
    public var path: String?
    public var content: String?
    public var mode: String?
    public var encoding: String?
    public init(path: String?, content: String?, mode: String? = nil, encoding: String? = nil) {
        self.path = path
        self.content = content
        self.mode = mode
        self.encoding = encoding
    }
}

public struct MoveFileRequest: Codable, Sendable, Equatable {
    public var oldPath: String?
    public var newPath: String?
    enum CodingKeys: String, CodingKey {
        case oldPath = "old_path"
        case newPath = "new_path"
    }
    public init(oldPath: String?, newPath: String?) {
        self.oldPath = oldPath
        self.newPath = newPath
    }
}

public struct ChmodRequest: Codable, Sendable, Equatable {
    public var path: String?
    public var mode: String?
    public init(path: String?, mode: String?) {
        self.path = path
        self.mode = mode
    }
}

public struct StatusMessage: Codable, Sendable, Equatable {
    public var status: String
    public var size: Int?
    public init(status: String, size: Int? = nil) {
        self.status = status
        self.size = size
    }
}

public struct PruneResult: Codable, Sendable, Equatable {
    public var pruned: Int
    public init(pruned: Int) { self.pruned = pruned }
}

public struct SandboxStatsResponse: Codable, Sendable, Equatable {
    public var supported: Bool
    public var cpuPct: Double?
    public var memBytes: Int64?
    public var memLimitBytes: Int64?
    enum CodingKeys: String, CodingKey {
        case supported
        case cpuPct = "cpu_pct"
        case memBytes = "mem_bytes"
        case memLimitBytes = "mem_limit_bytes"
    }
    public init(supported: Bool, cpuPct: Double? = nil, memBytes: Int64? = nil, memLimitBytes: Int64? = nil) {
        self.supported = supported
        self.cpuPct = cpuPct
        self.memBytes = memBytes
        self.memLimitBytes = memLimitBytes
    }
}

public struct PoolStatus: Codable, Sendable, Equatable {
    public var enabled: Bool
    public init(enabled: Bool) { self.enabled = enabled }
}
