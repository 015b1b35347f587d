import Foundation

/// How a key gets its value when no file, env var or flag sets it.
public enum ConfigDefault: Sendable {
    /// No default: the key is unset (`Config.value` returns nil).
    case none
    case value(ConfigValue)
    /// Computed at load, e.g. from `server.data_dir` or whether we run as root.
    case derived(@Sendable (DefaultContext) -> ConfigValue?)
}

/// What a derived default may look at. `values` holds the effective values of the keys
/// that precede this one in the table (so `server.data_dir` is known to later paths).
public struct DefaultContext: Sendable {
    public let isRoot: Bool
    public let homeDirectory: String
    public let environment: [String: String]
    public let values: [String: ConfigValue]

    /// The effective, absolute `server.data_dir`.
    public var dataDir: String { values["server.data_dir"]?.stringValue ?? homeDirectory + "/.stacyvm" }
}

/// One entry of the known key table. The table is the single source of truth for
/// file keys, env var names (`STACYVM_` + key with `.`→`_`), types, defaults,
/// validation, redaction and path resolution, so adding a key is adding one line.
public struct ConfigKey: Sendable {
    public let key: String
    public let type: ConfigValueType
    public let defaultValue: ConfigDefault
    public let checks: [ConfigCheck]
    /// Redacted as `***` by `render` unless secrets are shown.
    public let secret: Bool
    /// Also accepts `<key>_file`: a path whose trimmed contents become the value.
    public let fileVariant: Bool
    /// Also accepts `<key>_sha256`: the hex SHA-256 of the value, so no plaintext is stored.
    public let sha256Variant: Bool
    /// String values (of a string or string-map key) are host paths resolved to absolute paths.
    public let isPath: Bool
    /// Runtime-tunable through `PATCH /config` (the **T** of runtime.md §14).
    public let tunable: Bool

    public init(_ key: String, _ type: ConfigValueType, default defaultValue: ConfigDefault = .none,
                _ checks: ConfigCheck..., secret: Bool = false, fileVariant: Bool = false,
                sha256Variant: Bool = false, path: Bool = false, tunable: Bool = false) {
        self.key = key
        self.type = type
        self.defaultValue = defaultValue
        self.checks = checks
        self.secret = secret
        self.fileVariant = fileVariant
        self.sha256Variant = sha256Variant
        self.isPath = path
        self.tunable = tunable
    }

    /// The environment variable that overrides this key.
    public var envName: String {
        "STACYVM_" + key.uppercased().replacingOccurrences(of: ".", with: "_")
    }
}

// Small helpers so the table reads like the spec's table.
private func d(_ s: String) -> ConfigDefault { .value(.duration(try! GoDuration.parse(s))) }
private func i(_ n: Int) -> ConfigDefault { .value(.int(n)) }
private func s(_ v: String) -> ConfigDefault { .value(.string(v)) }
private func b(_ v: Bool) -> ConfigDefault { .value(.bool(v)) }
private func l(_ v: [String]) -> ConfigDefault { .value(.list(v)) }
private let emptyList: ConfigDefault = .value(.list([]))
private let MiB = 1 << 20

public enum KeyTable {
    /// Roles of api.md §3.2.
    public static let roles = ["viewer", "api", "operator", "tenant_admin", "admin"]

    /// Control-plane keys of runtime.md §14, the worker settings of the control plane
    /// (`workers.*`, `leases.*`, `scheduler.*`, workers.md §2) and a worker process's own keys
    /// (`worker.*`, workers.md §1): one table, so `config validate` covers both roles.
    public static let base: [ConfigKey] = [
        // server
        ConfigKey("server.host", .string, default: s("127.0.0.1"), .hostOrIP),
        // 0 asks the kernel for a free port (tests, throwaway servers); the log names the port.
        ConfigKey("server.port", .int, default: i(7423), .intRange(0...65535)),
        ConfigKey("server.data_dir", .string, default: .derived { ctx in
            .string(ctx.isRoot ? "/var/lib/stacyvm" : ctx.homeDirectory + "/.stacyvm")
        }, .nonEmpty, path: true),
        ConfigKey("server.instance_id", .string, .identifier),
        ConfigKey("server.preview_domain", .string, default: s("localhost"), .previewDomain),
        ConfigKey("server.preview_denied_ports", .intList, default: .value(.intList([])), .ports),
        ConfigKey("server.cors_allowed_origins", .stringList, default: emptyList, .origins),
        ConfigKey("server.trusted_proxies", .stringList, default: emptyList, .cidrs),
        ConfigKey("server.tls.cert_file", .string, path: true),
        ConfigKey("server.tls.key_file", .string, path: true),
        ConfigKey("server.shutdown_timeout", .duration, default: d("10s"), .nonNegativeDuration),
        ConfigKey("server.max_connections", .int, default: i(1024), .intRange(1...1_000_000)),
        // HTTP event threads; 0 = one per core but one, leaving a core to the task pool that runs
        // async handlers and streams (docs/architecture.md, "HTTP threads").
        ConfigKey("server.threads", .int, default: i(0), .intRange(0...256)),
        ConfigKey("server.idle_timeout", .duration, default: d("30s"), .positiveDuration),
        ConfigKey("server.local_worker.enabled", .bool, default: b(true)),
        ConfigKey("server.local_worker.id", .string, default: s("local"), .embeddedWorkerID),
        // Unset vcpus / memory_mb mean "derive from the host" (workers.md §1).
        ConfigKey("server.local_worker.capacity.vcpus", .int, .intRange(0...1_000_000)),
        ConfigKey("server.local_worker.capacity.vcpu_overcommit", .double, default: .value(.double(8)),
                  .doubleRange(0.01...1000)),
        ConfigKey("server.local_worker.capacity.memory_mb", .int, .intRange(0...Int(Int32.max))),
        ConfigKey("server.local_worker.capacity.max_sandboxes", .int, default: i(0), .intRange(0...1_000_000)),
        ConfigKey("server.local_worker.capacity.max_sandboxes_per_owner", .int, default: i(0),
                  .intRange(0...1_000_000)),

        // auth
        ConfigKey("auth.enabled", .bool, default: b(false)),
        ConfigKey("auth.api_key", .string, .nonEmpty, secret: true, fileVariant: true, sha256Variant: true),
        ConfigKey("auth.admin_api_key", .string, .nonEmpty, secret: true, fileVariant: true, sha256Variant: true),
        ConfigKey("auth.api_key_role", .string, default: s("api"), .oneOf(roles)),
        ConfigKey("auth.api_keys", .records, default: .value(.records([])), .apiKeyRecords),
        ConfigKey("auth.admin_fallback_enabled", .bool, default: b(false)),
        ConfigKey("auth.admin_audit_retention", .duration, default: d("2160h"), .nonNegativeDuration),
        ConfigKey("auth.oidc_enabled", .bool, default: b(false)),
        ConfigKey("auth.oidc_issuer", .string, .httpURL),
        ConfigKey("auth.oidc_audience", .string),
        ConfigKey("auth.oidc_jwks_url", .string, .httpURL),
        // A public key: it has a `_file` form but is not redacted.
        ConfigKey("auth.oidc_public_key", .string, .nonEmpty, fileVariant: true),
        ConfigKey("auth.oidc_groups_claim", .string, default: s("groups"), .nonEmpty),
        ConfigKey("auth.oidc_tenant_claim", .string, default: s("tenant_id"), .nonEmpty),
        ConfigKey("auth.oidc_owner_claim", .string, default: s("sub"), .nonEmpty),
        ConfigKey("auth.oidc_admin_groups", .stringList, default: emptyList),
        ConfigKey("auth.oidc_operator_groups", .stringList, default: emptyList),
        ConfigKey("auth.oidc_tenant_admin_groups", .stringList, default: emptyList),
        ConfigKey("auth.oidc_viewer_groups", .stringList, default: emptyList),
        ConfigKey("auth.oidc_default_role", .string, default: s("viewer"), .oneOf(roles)),
        ConfigKey("auth.worker_token", .string, .nonEmpty, secret: true, fileVariant: true),
        ConfigKey("auth.control_plane_signing_key_file", .string, default: .derived { ctx in
            .string(ctx.dataDir + "/control-plane.ed25519")
        }, path: true),
        // Ed25519 keys (`ed25519:<base64>`) a worker accepts RPC tokens from; when none is set the
        // worker pins the keys of its first accepted heartbeat (workers.md §1).
        ConfigKey("auth.control_plane_public_key", .string, .nonEmpty, fileVariant: true),
        ConfigKey("auth.control_plane_public_keys", .stringList, default: emptyList),

        // workers: the control plane's view of remote workers (workers.md §2)
        ConfigKey("workers.stale_after_intervals", .int, default: i(3), .intRange(1...1000)),
        ConfigKey("workers.lost_after_intervals", .int, default: i(5), .intRange(2...1000)),
        ConfigKey("workers.startup_grace", .duration, default: d("30s"), .nonNegativeDuration),
        ConfigKey("workers.rpc_timeout", .duration, default: d("10s"), .positiveDuration),
        ConfigKey("workers.spawn_timeout", .duration, default: d("60s"), .positiveDuration),
        ConfigKey("workers.rpc_tls_ca_file", .string, path: true),
        ConfigKey("workers.reconcile_interval", .duration, default: d("30s"), .positiveDuration),
        ConfigKey("workers.reconcile_concurrency", .int, default: i(8), .intRange(1...1000)),
        ConfigKey("workers.inventory_interval", .duration, default: d("5m"), .positiveDuration),
        ConfigKey("workers.orphan_policy", .string, default: s("reap"), .oneOf(["reap", "ignore"])),
        ConfigKey("workers.default_drain_deadline", .duration, default: d("1h"), .positiveDuration, tunable: true),
        ConfigKey("workers.reassign_concurrency", .int, default: i(2), .intRange(1...1000)),
        ConfigKey("leases.grace", .duration, default: d("5m"), .nonNegativeDuration),
        ConfigKey("leases.worker_skew", .duration, default: d("5s"), .nonNegativeDuration),
        ConfigKey("scheduler.prefer_local", .bool, default: b(false), tunable: true),
        ConfigKey("scheduler.max_attempts", .int, default: i(3), .intRange(1...100)),

        // worker: a `stacyvm worker` process (workers.md §1)
        ConfigKey("worker.id", .string, .remoteWorkerID),
        ConfigKey("worker.control_plane_url", .string, default: s("http://127.0.0.1:7423"), .baseURL),
        ConfigKey("worker.listen_addr", .string, default: s(""), .listenAddress),
        ConfigKey("worker.advertise_url", .string, .advertisableURL),
        ConfigKey("worker.preview_domain", .string, .previewDomain),
        ConfigKey("worker.heartbeat_interval", .duration, default: d("10s"), .durationRange("1s", "5m")),
        ConfigKey("worker.shutdown_timeout", .duration, default: d("30s"), .nonNegativeDuration),
        ConfigKey("worker.exit_when_drained", .bool, default: b(false)),
        ConfigKey("worker.state_dir", .string, default: .derived { ctx in
            .string(ctx.isRoot ? "/var/lib/stacyvm/worker" : ctx.homeDirectory + "/.stacyvm/worker")
        }, .nonEmpty, path: true),
        // Unset vcpus / memory_mb mean "derive from the host", as for the embedded worker.
        ConfigKey("worker.capacity.vcpus", .int, .intRange(0...1_000_000)),
        ConfigKey("worker.capacity.vcpu_overcommit", .double, default: .value(.double(8)), .doubleRange(0.01...1000)),
        ConfigKey("worker.capacity.memory_mb", .int, .intRange(0...Int(Int32.max))),
        ConfigKey("worker.capacity.max_sandboxes", .int, default: i(0), .intRange(0...1_000_000)),
        ConfigKey("worker.capacity.max_sandboxes_per_owner", .int, default: i(0), .intRange(0...1_000_000)),
        ConfigKey("worker.labels", .stringMap, default: .value(.map([:]))),
        ConfigKey("worker.lease_skew", .duration, default: d("5s"), .nonNegativeDuration),
        ConfigKey("worker.tombstone_retention", .duration, default: d("24h"), .nonNegativeDuration),
        ConfigKey("worker.rpc_tls.enabled", .bool, default: b(false)),
        ConfigKey("worker.rpc_tls.server_cert_file", .string, path: true),
        ConfigKey("worker.rpc_tls.server_key_file", .string, path: true),
        ConfigKey("worker.rpc_tls.client_ca_file", .string, path: true),

        // database
        ConfigKey("database.driver", .string, default: s("sqlite"), .oneOf(["sqlite", "postgres"])),
        // The default `stacyvm.db` lives in server.data_dir; a configured relative path
        // resolves like every other path (config file dir, or cwd).
        ConfigKey("database.path", .string, default: .derived { ctx in .string(ctx.dataDir + "/stacyvm.db") },
                  .nonEmpty, path: true),
        ConfigKey("database.dsn", .string, .nonEmpty, secret: true, fileVariant: true),
        ConfigKey("database.max_open_conns", .int, default: i(10), .intRange(1...10_000)),
        ConfigKey("database.auto_migrate", .bool, default: b(true)),

        // providers
        ConfigKey("providers.default", .string, default: s("auto"), .oneOf(["auto", "mock", "namespace"])),
        ConfigKey("providers.mock.enabled", .bool, default: b(false)),
        ConfigKey("providers.mock.root_dir", .string, default: .derived { ctx in
            .string(normalizePath(ctx.environment["TMPDIR"].flatMap { $0.hasPrefix("/") ? $0 : nil } ?? "/tmp"))
        }, .nonEmpty, path: true),
        ConfigKey("providers.mock.allow_non_loopback", .bool, default: b(false)),
        ConfigKey("providers.mock.console_lines", .int, default: i(1000), .intRange(1...1_000_000)),
        ConfigKey("providers.namespace.enabled", .bool, default: b(true)),
        ConfigKey("providers.namespace.image_dir", .string, default: .derived { ctx in
            .string(ctx.dataDir + "/images")
        }, .nonEmpty, path: true),
        ConfigKey("providers.namespace.images", .stringMap, default: .value(.map([:])), .imageMap, path: true),
        ConfigKey("providers.namespace.data_dir", .string, default: .derived { ctx in
            .string(ctx.dataDir + "/sandboxes")
        }, .nonEmpty, path: true),
        ConfigKey("providers.namespace.image_fallback", .string, default: s("host")),
        ConfigKey("providers.namespace.cgroup_root", .string, default: s("auto"), .autoOrAbsolutePath),
        ConfigKey("providers.namespace.user_namespace", .string, default: s("auto"), .oneOf(["auto", "on", "off"])),
        ConfigKey("providers.namespace.subuid_base", .int, default: i(100_000), .intRange(1...Int(UInt32.max - 65536))),
        ConfigKey("providers.namespace.run_as_uid", .int, default: i(65534), .intRange(0...Int(UInt32.max - 1))),
        ConfigKey("providers.namespace.run_as_gid", .int, default: i(65534), .intRange(0...Int(UInt32.max - 1))),
        ConfigKey("providers.namespace.root_mode", .string, default: s("readonly"), .oneOf(["readonly", "overlay"])),
        ConfigKey("providers.namespace.upper", .string, default: s("disk"), .oneOf(["disk", "tmpfs"])),
        ConfigKey("providers.namespace.writable_paths", .stringList,
                  default: l(["/workspace", "/tmp", "/root", "/home", "/app"]), .absolutePaths),
        ConfigKey("providers.namespace.network", .string, default: s("none"), .oneOf(["none", "host"])),
        ConfigKey("providers.namespace.allowed_networks", .stringList, default: l(["none"]), .oneOf(["none", "host"])),
        ConfigKey("providers.namespace.seccomp", .string, default: s("default"), .oneOf(["default", "off"])),
        ConfigKey("providers.namespace.pids_max", .int, default: i(256), .intRange(1...4_194_304)),
        ConfigKey("providers.namespace.console_lines", .int, default: i(1000), .intRange(1...1_000_000)),

        // defaults (sandbox defaults and admission)
        ConfigKey("defaults.image", .string, default: s("alpine:latest"), .nonEmpty, tunable: true),
        ConfigKey("defaults.memory_mb", .int, default: i(512), .intRange(1...Int(Int32.max)), tunable: true),
        ConfigKey("defaults.vcpus", .int, default: i(1), .intRange(1...4096), tunable: true),
        ConfigKey("defaults.disk_mb", .int, default: i(1024), .intRange(1...Int(Int32.max))),
        ConfigKey("defaults.ttl", .duration, default: d("30m"), .positiveDuration, tunable: true),
        ConfigKey("defaults.max_ttl", .duration, default: d("24h"), .nonNegativeDuration, tunable: true),
        ConfigKey("defaults.default_exec_timeout", .duration, default: d("0s"), .nonNegativeDuration, tunable: true),
        ConfigKey("defaults.max_exec_timeout", .duration, default: d("10m"), .positiveDuration, tunable: true),
        ConfigKey("defaults.max_sandboxes", .int, default: i(0), .intRange(0...10_000_000), tunable: true),
        ConfigKey("defaults.max_sandboxes_per_owner", .int, default: i(0), .intRange(0...10_000_000), tunable: true),
        ConfigKey("defaults.spawn_overflow", .string, default: s("reject"), .oneOf(["reject", "queue"]), tunable: true),
        ConfigKey("defaults.spawn_queue_timeout", .duration, default: d("20s"), .nonNegativeDuration, tunable: true),
        ConfigKey("defaults.max_spawn_queue", .int, default: i(100), .intRange(0...1_000_000), tunable: true),
        ConfigKey("defaults.spawn_deadline", .duration, default: d("25s"), .positiveDuration, tunable: true),
        ConfigKey("defaults.reaper_interval", .duration, default: d("15s"), .positiveDuration),
        ConfigKey("defaults.destroyed_retention", .duration, default: d("24h"), .nonNegativeDuration),

        // limits
        ConfigKey("limits.max_file_bytes", .int, default: i(64 * MiB), .intRange(1...Int.max), tunable: true),
        ConfigKey("limits.max_json_body_bytes", .int, default: i(1 * MiB), .intRange(1...Int.max)),
        ConfigKey("limits.max_exec_output_bytes", .int, default: i(8 * MiB), .intRange(1...Int.max), tunable: true),
        ConfigKey("limits.max_execs_per_sandbox", .int, default: i(16), .intRange(1...100_000), tunable: true),
        ConfigKey("limits.stream_keepalive", .duration, default: d("15s"), .positiveDuration),
        ConfigKey("limits.max_memory_mb", .int, default: i(65536), .intRange(1...Int(Int32.max))),
        ConfigKey("limits.max_vcpus", .int, default: i(64), .intRange(1...4096)),
        ConfigKey("limits.exec_log_max_bytes", .int, default: i(64 * 1024), .intRange(0...Int.max)),
        ConfigKey("limits.exec_log_retention", .duration, default: d("168h"), .nonNegativeDuration),

        // rate_limit
        ConfigKey("rate_limit.enabled", .bool, default: b(false), tunable: true),
        ConfigKey("rate_limit.requests_per_minute", .int, default: i(120), .intRange(1...100_000_000), tunable: true),
        ConfigKey("rate_limit.burst", .int, default: i(60), .intRange(1...100_000_000), tunable: true),
        ConfigKey("rate_limit.auth_failures_per_minute", .int, default: i(30), .intRange(0...100_000_000), tunable: true),
        ConfigKey("rate_limit.key_by", .string, default: s("principal"), .oneOf(["principal", "owner", "ip"])),
        ConfigKey("rate_limit.bucket_ttl", .duration, default: d("15m"), .positiveDuration),
        ConfigKey("rate_limit.cleanup_interval", .duration, default: d("1m"), .positiveDuration),

        // events
        ConfigKey("events.retention", .duration, default: d("24h"), .positiveDuration),
        ConfigKey("events.max_rows", .int, default: i(100_000), .intRange(1...Int.max)),
        ConfigKey("events.subscriber_buffer", .int, default: i(256), .intRange(1...1_000_000)),

        // logging
        ConfigKey("logging.level", .string, default: s("info"), .oneOf(["debug", "info", "warn", "error"]), tunable: true),
        ConfigKey("logging.format", .string, default: s("json"), .oneOf(["json", "text"])),
    ]

    /// `base` plus the generated `<key>_file` (path) and `<key>_sha256` (hex) variants,
    /// each placed right after its key.
    public static let all: [ConfigKey] = base.flatMap { entry -> [ConfigKey] in
        var out = [entry]
        if entry.fileVariant {
            out.append(ConfigKey(entry.key + "_file", .string, path: true))
        }
        if entry.sha256Variant {
            out.append(ConfigKey(entry.key + "_sha256", .string, .hex64))
        }
        return out
    }

    public static let byKey: [String: ConfigKey] = Dictionary(all.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })

    /// Env var name → key. Built from the table, never by splitting the name, so keys
    /// containing underscores (`server.shutdown_timeout`) are found.
    public static let byEnvName: [String: String] = Dictionary(all.map { ($0.envName, $0.key) },
                                                                uniquingKeysWith: { a, _ in a })

    /// Every proper prefix of a key (`server`, `server.tls`, …): YAML maps at these
    /// paths are sections to descend into, not values.
    static let sections: Set<String> = {
        var out = Set<String>()
        for entry in all {
            var parts = entry.key.split(separator: ".").map(String.init)
            parts.removeLast()
            while !parts.isEmpty {
                out.insert(parts.joined(separator: "."))
                parts.removeLast()
            }
        }
        return out
    }()

    /// The original Go server's keys this version does not support: they warn and are
    /// ignored, so old config files keep loading (runtime.md §13).
    static func isUnsupported(_ path: String) -> Bool {
        let parts = path.split(separator: ".").map(String.init)
        guard let first = parts.first else { return false }
        let dropped: Set<String> = ["firecracker", "proot", "e2b", "custom", "pool", "docker"]
        if dropped.contains(first) { return true }
        if first == "providers", parts.count > 1, dropped.contains(parts[1]) { return true }
        if first == "defaults", parts.count > 1, parts[1].hasPrefix("pool_") { return true }
        return parts.contains("pool_security")
    }

    /// Variables of the client (cli.md §1) and of the test harness: not config keys,
    /// so never warned about.
    public static let ignoredEnvNames: Set<String> = [
        "STACYVM_SERVER", "STACYVM_API_KEY", "STACYVM_ADMIN_API_KEY", "STACYVM_USER_ID",
        "STACYVM_TENANT_ID", "STACYVM_CONFIG",
        "STACYVM_TESTING", "STACYVM_POSTGRES_TEST_DSN", "STACYVM_BIN",
    ]
}
