import Glibc

/// Provider contract (runtime.md §2.1) and the value types it exchanges.

public struct SpawnSpec: Sendable {
    public var sandboxID: String
    public var image: String
    public var memoryMB: Int
    public var vcpus: Int
    public var network: String
    public var env: [String: String]
    public var metadata: [String: String]
    public var expiresAtMillis: Int64

    public init(sandboxID: String, image: String = "alpine:latest", memoryMB: Int = 512, vcpus: Int = 1,
                network: String = "none", env: [String: String] = [:], metadata: [String: String] = [:],
                expiresAtMillis: Int64 = 0) {
        self.sandboxID = sandboxID
        self.image = image
        self.memoryMB = memoryMB
        self.vcpus = vcpus
        self.network = network
        self.env = env
        self.metadata = metadata
        self.expiresAtMillis = expiresAtMillis
    }
}

public struct HealthReport: Sendable, Equatable {
    public var healthy: Bool
    public var latencyMillis: Int64
    public var error: String?
    public init(healthy: Bool, latencyMillis: Int64, error: String? = nil) {
        self.healthy = healthy
        self.latencyMillis = latencyMillis
        self.error = error
    }
}

public enum RuntimeStatus: String, Sendable { case running, stopped, missing }

public struct ExecSpec: Sendable {
    /// Already built by the caller (shell mode = ["/bin/sh", "-c", ...]).
    public var argv: [String]
    /// Template env then request env, merged by the caller; layered over the provider's base env.
    public var env: [String: String]
    /// Sandbox-absolute normalised path; relative values are resolved against /workspace.
    public var workdir: String
    public var stdin: [UInt8]
    /// Always > 0.
    public var timeoutNanos: Int64
    /// Per stream, sync exec only; streams are uncapped.
    public var maxOutputBytes: Int

    public init(argv: [String], env: [String: String] = [:], workdir: String = "/workspace", stdin: [UInt8] = [],
                timeoutNanos: Int64 = 60_000_000_000, maxOutputBytes: Int = 8 << 20) {
        self.argv = argv
        self.env = env
        self.workdir = workdir
        self.stdin = stdin
        self.timeoutNanos = timeoutNanos
        self.maxOutputBytes = maxOutputBytes
    }
}

extension ExecSpec {
    /// The checks every provider applies before running anything: a non-empty argv without NUL,
    /// a positive timeout; returns the normalised workdir.
    func validated() throws(ProviderError) -> String {
        guard let command = argv.first, !command.isEmpty else { throw .invalidInput("argv is empty") }
        if argv.contains(where: { $0.utf8.contains(0) }) { throw .invalidInput("argv contains NUL") }
        if timeoutNanos <= 0 { throw .invalidInput("timeout must be positive") }
        return try SandboxPath.normalize(workdir.isEmpty ? SandboxPath.workspace : workdir)
    }

    /// `base` overlaid with the spec's env (runtime.md §4: later wins), names and values checked.
    func environment(over base: [String: String]) throws(ProviderError) -> [String: String] {
        var merged = base
        for (key, value) in env {
            if key.isEmpty || key.contains("=") || key.utf8.contains(0) || value.utf8.contains(0) {
                throw .invalidInput("invalid environment variable name or value: \(key)")
            }
            merged[key] = value
        }
        return merged
    }
}

public struct ExecResult: Sendable {
    public var exitCode: Int
    public var stdout: [UInt8]
    public var stderr: [UInt8]
    public var durationNanos: Int64
    public var stdoutTruncated: Bool
    public var stderrTruncated: Bool
    /// The command was killed by the sandbox's memory limit (reported as exit 137).
    public var oomKilled: Bool = false
    public init(exitCode: Int, stdout: [UInt8], stderr: [UInt8], durationNanos: Int64,
                stdoutTruncated: Bool = false, stderrTruncated: Bool = false) {
        self.exitCode = exitCode
        self.stdout = stdout
        self.stderr = stderr
        self.durationNanos = durationNanos
        self.stdoutTruncated = stdoutTruncated
        self.stderrTruncated = stderrTruncated
    }
}

public enum OutputStream: String, Sendable { case stdout, stderr }

public struct ExecExit: Sendable, Equatable {
    public var exitCode: Int
    public var durationNanos: Int64
    public var timedOut: Bool
    public var error: ProviderError?
    /// The command was killed by the sandbox's memory limit (reported as exit 137).
    public var oomKilled: Bool = false
    public init(exitCode: Int, durationNanos: Int64, timedOut: Bool = false, error: ProviderError? = nil) {
        self.exitCode = exitCode
        self.durationNanos = durationNanos
        self.timedOut = timedOut
        self.error = error
    }
}

public enum ExecEvent: Sendable {
    case output(OutputStream, [UInt8])
    case exit(ExecExit)
}

public struct RuntimeInfo: Sendable, Equatable {
    public var runtimeID: String
    public var sandboxID: String
    public init(runtimeID: String, sandboxID: String) {
        self.runtimeID = runtimeID
        self.sandboxID = sandboxID
    }
}

/// One event of `Provider.followConsole` (runtime.md §6, api.md §10 `follow=true`).
public enum ConsoleEvent: Sendable, Equatable {
    /// One console line, without its newline.
    case line(String)
    /// Always the last event: the sandbox was destroyed (or never existed), or the follower fell
    /// too far behind and was dropped (provider-specific bound; the mock's is 10,000 lines).
    case ended
}

public struct SandboxStats: Sendable {
    public var cpuPct: Double
    public var memBytes: Int64
    public var memLimitBytes: Int64
    public init(cpuPct: Double, memBytes: Int64, memLimitBytes: Int64) {
        self.cpuPct = cpuPct
        self.memBytes = memBytes
        self.memLimitBytes = memLimitBytes
    }
}

public protocol Provider: Sendable {
    var name: String { get }
    var capabilities: [String] { get }
    func health() async -> HealthReport
    /// Returns the runtime ID once the sandbox can run commands. Idempotent by `sandboxID`.
    func spawn(_ spec: SpawnSpec) async throws(ProviderError) -> String
    func status(_ runtimeID: String) async -> RuntimeStatus
    /// Returns whether the runtime existed; idempotent; never throws "not found".
    func destroy(_ runtimeID: String) async throws(ProviderError) -> Bool
    /// A timeout kills every process of the exec, then throws `.execTimeout`.
    func exec(_ runtimeID: String, _ spec: ExecSpec) async throws(ProviderError) -> ExecResult
    /// Output chunks in order, then exactly one `.exit`. Terminating the consumer kills the processes.
    func execStream(_ runtimeID: String, _ spec: ExecSpec) -> AsyncStream<ExecEvent>
    func writeFile(_ runtimeID: String, path: String, bytes: [UInt8], mode: UInt32?) async throws(ProviderError) -> Int
    func readFile(_ runtimeID: String, path: String, maxBytes: Int?) async throws(ProviderError) -> [UInt8]
    func list(_ runtimeID: String, path: String) async throws(ProviderError) -> [FileInfo]
    func stat(_ runtimeID: String, path: String) async throws(ProviderError) -> FileInfo
    func glob(_ runtimeID: String, pattern: String) async throws(ProviderError) -> [String]
    func move(_ runtimeID: String, from: String, to: String) async throws(ProviderError)
    func chmod(_ runtimeID: String, path: String, mode: UInt32) async throws(ProviderError)
    func delete(_ runtimeID: String, path: String, recursive: Bool) async throws(ProviderError)
    func console(_ runtimeID: String, lines: Int) async throws(ProviderError) -> [String]
    /// The last `lines` console lines (oldest first, negative = 0), then every new line as it is
    /// appended, then `.ended` and the stream finishes when the sandbox is destroyed. An unknown or
    /// destroyed runtime yields only `.ended`. Terminating the consumer (task cancelled, stream
    /// dropped) unregisters the follower. A follower that falls too far behind gets `.ended` early.
    func followConsole(_ runtimeID: String, lines: Int) -> AsyncStream<ConsoleEvent>
    /// nil = unsupported by this provider.
    func stats(_ runtimeID: String) async -> SandboxStats?
    func listRuntimes() async -> [RuntimeInfo]
    /// A TCP connection to `127.0.0.1:port` as the sandbox sees it (previews, runtime.md §7):
    /// a connected, blocking socket descriptor the caller owns and closes. Nothing listening is
    /// `.portUnreachable`.
    func openPort(_ runtimeID: String, port: Int) async throws(ProviderError) -> Int32
    /// Effective settings shown by `GET /providers/{name}`; never secrets.
    var configSummary: [String: String] { get }
    /// What `exec` would refuse before running anything (bad argv or env, missing workdir or
    /// command), checked without running it, so a stream can still answer with a plain 4xx
    /// (api.md §6.3: errors found before the first byte use normal statuses).
    func checkExec(_ runtimeID: String, _ spec: ExecSpec) async throws(ProviderError)
}

/// Connects a new TCP socket to 127.0.0.1:`port` in the calling thread's network namespace.
func connectLoopback(port: Int) throws(ProviderError) -> Int32 {
    guard (1...65535).contains(port) else { throw .invalidInput("port must be 1-65535") }
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw .resourceLimit("socket: errno \(errno)") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = UInt16(port).bigEndian
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    var rc: Int32
    repeat {
        rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    } while rc != 0 && errno == EINTR
    guard rc == 0 else {
        close(fd)
        throw .portUnreachable
    }
    return fd
}
