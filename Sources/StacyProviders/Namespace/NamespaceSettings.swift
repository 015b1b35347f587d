import Foundation
import Glibc

/// What the `namespace` provider needs from the configuration (runtime.md §2.6, §14).
public struct NamespaceSettings: Sendable {
    /// `providers.namespace.data_dir`: one directory per sandbox, plus the uid slot locks.
    public var dataDirectory: String
    /// The `stacyvm-agent` executable (shim outside, agent inside).
    public var agentPath: String
    public var bwrapPath: String
    /// Sandbox host uid = `subuidBase` + slot; mapped to 0 inside the sandbox.
    public var subuidBase: Int
    public var maxSlots: Int
    /// `none` (loopback only) or `host`.
    public var network: String
    public var consoleLines: Int
    /// Bound on spawn → agent ready.
    public var readyTimeoutNanos: Int64
    /// `providers.namespace.seccomp: default` (true) or `off`.
    public var seccomp: Bool = true
    /// `providers.namespace.image_dir`, `images` (name → root directory) and `image_fallback`.
    public var imageDirectory: String
    public var images: [String: String] = [:]
    public var imageFallback: String = "host"
    /// `providers.namespace.upper`: `disk` (writable paths are directories under the sandbox's
    /// directory) or `tmpfs` (each a tmpfs of `diskMB`, a hard cap counted against memory).
    public var upper: String = "disk"
    /// `defaults.disk_mb`.
    public var diskMB: Int = 1024
    /// `providers.namespace.pids_max`.
    public var pidsMax: Int = 256
    /// Memory, pids and CPU limits through cgroups; off only where a test says so.
    public var limits: Bool = true

    public init(dataDirectory: String, agentPath: String = NamespaceSettings.defaultAgentPath(),
                bwrapPath: String = NamespaceSettings.defaultBwrapPath(), subuidBase: Int = 100_000, maxSlots: Int = 10_000,
                network: String = "none", consoleLines: Int = 1000, readyTimeoutNanos: Int64 = 10_000_000_000) {
        self.dataDirectory = dataDirectory
        self.agentPath = agentPath
        self.bwrapPath = bwrapPath
        self.subuidBase = subuidBase
        self.maxSlots = maxSlots
        self.network = network
        self.consoleLines = consoleLines
        self.readyTimeoutNanos = readyTimeoutNanos
        self.imageDirectory = dataDirectory + "/.images"
    }

    /// `STACYVM_AGENT_PATH`, else `stacyvm-agent` beside the running executable (both are products
    /// of the same build and installed together).
    public static func defaultAgentPath() -> String {
        if let explicit = getenv("STACYVM_AGENT_PATH"), explicit.pointee != 0 { return String(cString: explicit) }
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return "stacyvm-agent" }
        let executable = String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return (executable as NSString).deletingLastPathComponent + "/stacyvm-agent"
    }

    public static func defaultBwrapPath() -> String {
        for candidate in ["/usr/bin/bwrap", "/usr/local/bin/bwrap", "/bin/bwrap"] where access(candidate, X_OK) == 0 {
            return candidate
        }
        return "/usr/bin/bwrap"
    }
}
