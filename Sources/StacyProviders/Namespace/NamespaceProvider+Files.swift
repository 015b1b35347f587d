import Foundation
import Glibc
import StacyAgentWire
import Synchronization

/// File operations of namespace sandboxes: through the agent, in the sandbox's own view.
extension NamespaceProvider {
    // MARK: files: through the agent, in the sandbox's own view (runtime.md §5, §2.6)

    private func file(_ runtimeID: String, _ operation: AgentFileRequest.Operation, _ arguments: [String],
                      upload: [UInt8]? = nil) async throws(ProviderError) -> (values: [String], data: [UInt8]) {
        let sandbox = try lookup(runtimeID)
        return try await AgentClient.file(socketPath: sandbox.socketPath, AgentFileRequest(operation, arguments), upload: upload)
    }

    public func writeFile(_ runtimeID: String, path: String, bytes: [UInt8], mode: UInt32?) async throws(ProviderError) -> Int {
        let mode = mode ?? 0o644
        if mode > 0o7777 { throw .invalidInput("mode out of range") }
        let normalized = try SandboxPath.normalize(path)
        if settings.upper == "disk" { try checkDiskCap(runtimeID, adding: bytes.count) }
        let reply = try await file(runtimeID, .write, [normalized, String(mode, radix: 8)], upload: bytes)
        guard let written = reply.values.first.flatMap({ Int($0) }) else { throw .internal("malformed write result") }
        return written
    }

    /// The soft disk cap of `upper: disk` (runtime.md §2.6): API writes that would take the
    /// sandbox's writable state past `disk_mb` are refused (413). Commands inside are not stopped;
    /// the usage is measured on the host, at most every few seconds per sandbox.
    private func checkDiskCap(_ runtimeID: String, adding bytes: Int) throws(ProviderError) {
        guard Self.isSafeID(runtimeID) else { return }
        let limit = Int64(max(1, settings.diskMB)) << 20
        let now = monotonicNanos()
        let usage = diskUsage.withLock { cache -> Int64? in
            if let (measured, at) = cache[runtimeID], now - at < 2_000_000_000 { return measured }
            return nil
        } ?? {
            let measured = Self.writableUsage(directory(of: runtimeID))
            diskUsage.withLock { $0[runtimeID] = (measured, now) }
            return measured
        }()
        guard usage + Int64(bytes) <= limit else {
            throw .tooLarge("the sandbox's files would exceed its \(settings.diskMB) MB disk limit")
        }
        diskUsage.withLock { cache in if let (measured, at) = cache[runtimeID] { cache[runtimeID] = (measured + Int64(bytes), at) } }
    }

    /// Bytes of regular files under the writable paths, never following links.
    static func writableUsage(_ directory: String) -> Int64 {
        var total: Int64 = 0
        for path in writablePaths {
            guard let walker = FileManager.default.enumerator(atPath: directory + path) else { continue }
            while let entry = walker.nextObject() as? String {
                var st = Glibc.stat()
                if lstat(directory + path + "/" + entry, &st) == 0, st.st_mode & S_IFMT == S_IFREG {
                    total += Int64(st.st_blocks) * 512
                }
            }
        }
        return total
    }

    public func readFile(_ runtimeID: String, path: String, maxBytes: Int?) async throws(ProviderError) -> [UInt8] {
        let normalized = try SandboxPath.normalize(path)
        return try await file(runtimeID, .read, [normalized, maxBytes.map(String.init) ?? ""]).data
    }

    public func list(_ runtimeID: String, path: String) async throws(ProviderError) -> [FileInfo] {
        let values = try await file(runtimeID, .list, [try SandboxPath.normalize(path)]).values
        guard let infos = AgentFileResult.fileInfos(values) else { throw .internal("malformed list result") }
        return infos
    }

    public func stat(_ runtimeID: String, path: String) async throws(ProviderError) -> FileInfo {
        let values = try await file(runtimeID, .stat, [try SandboxPath.normalize(path)]).values
        guard let info = AgentFileResult.fileInfos(values)?.first else { throw .internal("malformed stat result") }
        return info
    }

    public func glob(_ runtimeID: String, pattern: String) async throws(ProviderError) -> [String] {
        try await file(runtimeID, .glob, [pattern]).values
    }

    public func move(_ runtimeID: String, from: String, to: String) async throws(ProviderError) {
        _ = try await file(runtimeID, .move, [try SandboxPath.normalize(from), try SandboxPath.normalize(to)])
    }

    public func chmod(_ runtimeID: String, path: String, mode: UInt32) async throws(ProviderError) {
        if mode > 0o7777 { throw .invalidInput("mode out of range") }
        _ = try await file(runtimeID, .chmod, [try SandboxPath.normalize(path), String(mode, radix: 8)])
    }

    public func delete(_ runtimeID: String, path: String, recursive: Bool) async throws(ProviderError) {
        _ = try await file(runtimeID, .delete, [try SandboxPath.normalize(path), recursive ? "1" : "0"])
    }
}
