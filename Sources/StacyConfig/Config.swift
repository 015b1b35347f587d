import Foundation

/// Inputs of `Config.load`. Everything the loader reads from the process comes in here,
/// so tests can drive it with temp directories and fake environments.
public struct LoadOptions: Sendable {
    /// `--config`: must exist when given.
    public var explicitPath: String?
    /// Usually `ProcessInfo.processInfo.environment`; `STACYVM_CONFIG` and the
    /// `STACYVM_*` overrides are read from here.
    public var environment: [String: String]
    public var workingDirectory: String
    public var homeDirectory: String
    /// Key path → raw string value (`"server.port": "17423"`); highest precedence.
    public var flags: [String: String]
    /// Decides the `server.data_dir` default.
    public var isRoot: Bool

    public init(explicitPath: String? = nil, environment: [String: String] = [:],
                workingDirectory: String, homeDirectory: String,
                flags: [String: String] = [:], isRoot: Bool = false) {
        self.explicitPath = explicitPath
        self.environment = environment
        self.workingDirectory = workingDirectory
        self.homeDirectory = homeDirectory
        self.flags = flags
        self.isRoot = isRoot
    }

    /// Options for the current process.
    public static func process(explicitPath: String? = nil, flags: [String: String] = [:]) -> LoadOptions {
        let env = ProcessInfo.processInfo.environment
        return LoadOptions(explicitPath: explicitPath, environment: env,
                           workingDirectory: FileManager.default.currentDirectoryPath,
                           homeDirectory: env["HOME"] ?? NSHomeDirectory(),
                           flags: flags, isRoot: getuid() == 0)
    }
}

public struct ServerConfig: Sendable, Equatable {
    public var host: String
    public var port: Int
    /// Absolute.
    public var dataDir: String
    /// nil: generate one per start (`cp-<host>-<6 hex>`).
    public var instanceID: String?
    public var shutdownTimeout: GoDuration
    public var idleTimeout: GoDuration
    public var maxConnections: Int
    /// 0 = automatic (see the key table).
    public var threads: Int
    public var previewDomain: String
    public var previewDeniedPorts: [Int]
    public var corsAllowedOrigins: [String]
    public var trustedProxies: [String]
    /// Absolute; both set or both nil once validation passed.
    public var tlsCertFile: String?
    public var tlsKeyFile: String?
}

public struct DatabaseConfig: Sendable, Equatable {
    /// `sqlite` or `postgres`.
    public var driver: String
    /// Absolute path of the SQLite file.
    public var path: String
    /// PostgreSQL DSN (inline or from `database.dsn_file`); never log it.
    public var dsn: String?
    public var maxOpenConns: Int
    public var autoMigrate: Bool
}

public struct LimitsConfig: Sendable, Equatable {
    public var maxJSONBodyBytes: Int
    public var maxFileBytes: Int
}

public struct LoggingConfig: Sendable, Equatable {
    /// `debug`, `info`, `warn` or `error`.
    public var level: String
    /// `json` or `text`.
    public var format: String
}

/// The effective configuration. Invalid values never get here: a key whose value
/// was rejected keeps its default (and the problem is in `LoadedConfig.problems`).
public struct Config: Sendable {
    /// Effective value of every key that has one (secrets: the plaintext).
    let values: [String: ConfigValue]
    let sources: [String: ConfigSource]

    public let server: ServerConfig
    public let database: DatabaseConfig
    public let limits: LimitsConfig
    public let logging: LoggingConfig

    init(values: [String: ConfigValue], sources: [String: ConfigSource]) {
        self.values = values
        self.sources = sources
        func str(_ k: String) -> String { values[k]?.stringValue ?? Config.missing(k) }
        func int(_ k: String) -> Int { values[k]?.intValue ?? Config.missing(k) }
        func dur(_ k: String) -> GoDuration { values[k]?.durationValue ?? Config.missing(k) }
        func list(_ k: String) -> [String] { values[k]?.listValue ?? Config.missing(k) }
        server = ServerConfig(
            host: str("server.host"), port: int("server.port"), dataDir: str("server.data_dir"),
            instanceID: values["server.instance_id"]?.stringValue,
            shutdownTimeout: dur("server.shutdown_timeout"), idleTimeout: dur("server.idle_timeout"),
            maxConnections: int("server.max_connections"), threads: int("server.threads"), previewDomain: str("server.preview_domain"),
            previewDeniedPorts: values["server.preview_denied_ports"]?.intListValue ?? [],
            corsAllowedOrigins: list("server.cors_allowed_origins"), trustedProxies: list("server.trusted_proxies"),
            tlsCertFile: values["server.tls.cert_file"]?.stringValue, tlsKeyFile: values["server.tls.key_file"]?.stringValue)
        database = DatabaseConfig(
            driver: str("database.driver"), path: str("database.path"), dsn: values["database.dsn"]?.stringValue,
            maxOpenConns: int("database.max_open_conns"),
            autoMigrate: values["database.auto_migrate"]?.boolValue ?? Config.missing("database.auto_migrate"))
        limits = LimitsConfig(maxJSONBodyBytes: int("limits.max_json_body_bytes"), maxFileBytes: int("limits.max_file_bytes"))
        logging = LoggingConfig(level: str("logging.level"), format: str("logging.format"))
    }

    /// The typed accessors above read keys that always have a table default; reaching
    /// this means the table lost one, a programming error caught by the tests.
    private static func missing<T>(_ key: String) -> T {
        fatalError("StacyConfig: key table has no default for \(key)")
    }

    /// Any key of the table: its effective typed value, or nil when unset. For a secret
    /// with a `_file` form, `value("auth.api_key")` is the file's trimmed contents.
    public func value(_ key: String) -> ConfigValue? { values[key] }

    /// Where the effective value of `key` came from; nil when unset.
    public func source(_ key: String) -> ConfigSource? { sources[key] }

    /// The whole effective configuration as key → value.
    public var allValues: [String: ConfigValue] { values }
}

public struct LoadedConfig: Sendable {
    public let config: Config
    /// The config file used, if any (absolute).
    public let filePath: String?
    /// Validation errors, each with its key path; empty means valid.
    public let problems: [ConfigProblem]
    /// Unknown `STACYVM_*` variables, the original's unsupported keys, etc.
    public let warnings: [ConfigProblem]

    public var isValid: Bool { problems.isEmpty }
}
