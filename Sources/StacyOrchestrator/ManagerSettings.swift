import StacyConfig

/// The config values the manager uses, read once from `Config` (runtime.md §14).
public struct ManagerSettings: Sendable {
    public var defaultImage = "alpine:latest"
    public var defaultMemoryMB = 512
    public var defaultVCPUs = 1
    public var defaultTTL = GoDuration(nanoseconds: 30 * GoDuration.minute)
    /// 0 = unlimited.
    public var maxTTL = GoDuration(nanoseconds: 24 * GoDuration.hour)
    /// 0 = the max.
    public var defaultExecTimeout = GoDuration.zero
    public var maxExecTimeout = GoDuration(nanoseconds: 10 * GoDuration.minute)
    public var maxMemoryMB = 65536
    public var maxVCPUs = 64
    public var maxFileBytes = 64 << 20
    public var maxExecOutputBytes = 8 << 20
    public var maxExecsPerSandbox = 16
    /// 0 = unlimited.
    public var maxSandboxes = 0
    public var maxSandboxesPerOwner = 0
    public var spawnOverflow = "reject"
    public var spawnDeadline = GoDuration(nanoseconds: 25 * GoDuration.second)
    public var spawnQueueTimeout = GoDuration(nanoseconds: 20 * GoDuration.second)
    public var maxSpawnQueue = 100
    var spawnDeadlineNanos: UInt64 { UInt64(max(0, spawnDeadline.nanoseconds)) }
    public var execLogMaxBytes = 64 << 10
    public var streamKeepalive = GoDuration(nanoseconds: 15 * GoDuration.second)
    public var previewDomain = "localhost:7423"
    public var workerID = "local"
    /// `scheduler.max_attempts`: workers one spawn may try (workers.md §8).
    public var maxPlacementAttempts = 3
    /// `leases.grace`: a sandbox lease expires this long after the sandbox (workers.md §6.2).
    public var leaseGraceMs: Int64 = 300_000

    public init() {}

    public init(config: Config, listenPort: Int) {
        func duration(_ key: String, _ fallback: GoDuration) -> GoDuration { config.value(key)?.durationValue ?? fallback }
        func int(_ key: String, _ fallback: Int) -> Int { config.value(key)?.intValue ?? fallback }
        defaultImage = config.value("defaults.image")?.stringValue ?? defaultImage
        defaultMemoryMB = int("defaults.memory_mb", defaultMemoryMB)
        defaultVCPUs = int("defaults.vcpus", defaultVCPUs)
        defaultTTL = duration("defaults.ttl", defaultTTL)
        maxTTL = duration("defaults.max_ttl", maxTTL)
        defaultExecTimeout = duration("defaults.default_exec_timeout", defaultExecTimeout)
        maxExecTimeout = duration("defaults.max_exec_timeout", maxExecTimeout)
        maxMemoryMB = int("limits.max_memory_mb", maxMemoryMB)
        maxVCPUs = int("limits.max_vcpus", maxVCPUs)
        maxFileBytes = config.limits.maxFileBytes
        maxExecOutputBytes = int("limits.max_exec_output_bytes", maxExecOutputBytes)
        maxExecsPerSandbox = int("limits.max_execs_per_sandbox", maxExecsPerSandbox)
        execLogMaxBytes = int("limits.exec_log_max_bytes", execLogMaxBytes)
        maxSandboxes = int("defaults.max_sandboxes", maxSandboxes)
        maxSandboxesPerOwner = int("defaults.max_sandboxes_per_owner", maxSandboxesPerOwner)
        spawnOverflow = config.value("defaults.spawn_overflow")?.stringValue ?? spawnOverflow
        spawnDeadline = duration("defaults.spawn_deadline", spawnDeadline)
        spawnQueueTimeout = duration("defaults.spawn_queue_timeout", spawnQueueTimeout)
        maxSpawnQueue = int("defaults.max_spawn_queue", maxSpawnQueue)
        streamKeepalive = duration("limits.stream_keepalive", streamKeepalive)
        workerID = config.value("server.local_worker.id")?.stringValue ?? workerID
        maxPlacementAttempts = int("scheduler.max_attempts", maxPlacementAttempts)
        leaseGraceMs = duration("leases.grace", GoDuration(nanoseconds: leaseGraceMs * 1_000_000)).nanoseconds / 1_000_000
        previewDomain = ManagerSettings.previewDomain(configured: config.server.previewDomain, port: listenPort)
    }

    /// api.md §11: the CP's port is appended when the domain has none and the CP is not on 80/443.
    public static func previewDomain(configured: String, port: Int) -> String {
        // Port 0 (a kernel-chosen port, tests) is not known yet; leave the domain bare.
        if configured.contains(":") || port == 80 || port == 443 || port == 0 { return configured }
        return "\(configured):\(port)"
    }
}
