import Foundation
import StacyAPI
import StacyHTTP
import StacyProviders

/// File operations (api.md §9, runtime.md §5). Paths are normalised here, once, and resolved
/// inside the sandbox by the provider.
extension SandboxManager {
    private func path(_ raw: String?, field: String = "path") throws(APIError) -> String {
        guard let raw, !raw.isEmpty else { throw .badRequest("\(field) is required") }
        do { return try SandboxPath.normalize(raw) } catch { throw error.apiError }
    }

    private func mode(_ raw: String?) throws(APIError) -> UInt32? {
        guard let raw, !raw.isEmpty else { return nil }
        do { return try SandboxPath.parseMode(raw) } catch { throw error.apiError }
    }

    /// Runs a provider file call, recording its operation metric.
    private func call<T>(_ operation: String, _ provider: any Provider,
                         _ body: () async throws(ProviderError) -> T) async throws(APIError) -> T {
        let started = monotonicNanos()
        do {
            let result = try await body()
            operations.record(operation, provider: provider.name, startedNanos: started)
            return result
        } catch {
            operations.record(operation, provider: provider.name, startedNanos: started, error: error.code)
            throw error.apiError
        }
    }

    public enum ReadResult: Sendable {
        case raw([UInt8])
        case base64(FileContentResponse)
    }

    public func readFile(_ id: String, path raw: String?, encoding: String?, principal: Principal) async throws(APIError) -> ReadResult {
        let path = try path(raw)
        guard encoding == nil || encoding == "base64" || encoding == "" else { throw .badRequest("encoding must be base64") }
        let (record, provider) = try await runtime(id, principal: principal)
        let base64 = encoding == "base64"
        // Base64 JSON reads are capped by limits.max_file_bytes; raw reads are not (§5).
        let bytes = try await call("file_read", provider) { () async throws(ProviderError) in
            try await provider.readFile(record.vmID ?? record.id, path: path, maxBytes: base64 ? settings.maxFileBytes : nil)
        }
        publish("file.read", record, data: ["path": path, "size": String(bytes.count)])
        guard base64 else { return .raw(bytes) }
        return .base64(FileContentResponse(path: path, size: bytes.count, encoding: "base64",
                                           content: Data(bytes).base64EncodedString()))
    }

    public func writeFile(_ id: String, _ request: WriteFileRequest, principal: Principal) async throws(APIError) {
        let path = try path(request.path)
        guard let content = request.content else { throw .badRequest("content is required") }
        let bytes: [UInt8]
        switch request.encoding ?? "utf8" {
        case "utf8", "":
            bytes = Array(content.utf8)
        case "base64":
            guard let data = Data(base64Encoded: content) else { throw .badRequest("content is not valid base64") }
            bytes = Array(data)
        default:
            throw .badRequest("encoding must be utf8 or base64")
        }
        guard bytes.count <= settings.maxFileBytes else { throw .payloadTooLarge(limit: settings.maxFileBytes) }
        let mode = try mode(request.mode)
        let (record, provider) = try await runtime(id, principal: principal)
        _ = try await call("file_write", provider) { () async throws(ProviderError) in
            try await provider.writeFile(record.vmID ?? record.id, path: path, bytes: bytes, mode: mode)
        }
        publish("file.written", record, data: ["path": path, "size": String(bytes.count)])
    }

    public func uploadFile(_ id: String, path raw: String?, mode rawMode: String?, bytes: [UInt8], principal: Principal) async throws(APIError) -> Int {
        let path = try path(raw)
        let mode = try mode(rawMode)
        guard bytes.count <= settings.maxFileBytes else { throw .payloadTooLarge(limit: settings.maxFileBytes) }
        let (record, provider) = try await runtime(id, principal: principal)
        let size = try await call("file_write", provider) { () async throws(ProviderError) in
            try await provider.writeFile(record.vmID ?? record.id, path: path, bytes: bytes, mode: mode)
        }
        publish("file.written", record, data: ["path": path, "size": String(size)])
        return size
    }

    public func deleteFile(_ id: String, path raw: String?, recursive: Bool, principal: Principal) async throws(APIError) {
        let path = try path(raw)
        let (record, provider) = try await runtime(id, principal: principal)
        try await call("file_delete", provider) { () async throws(ProviderError) in
            try await provider.delete(record.vmID ?? record.id, path: path, recursive: recursive)
        }
    }

    public func listFiles(_ id: String, path raw: String?, principal: Principal) async throws(APIError) -> [FileInfoWire] {
        let path = try path(raw ?? "/")
        let (record, provider) = try await runtime(id, principal: principal)
        let entries = try await call("file_list", provider) { () async throws(ProviderError) in try await provider.list(record.vmID ?? record.id, path: path) }
        return entries.prefix(10_000).map(wire)
    }

    public func statFile(_ id: String, path raw: String?, principal: Principal) async throws(APIError) -> FileInfoWire {
        let path = try path(raw)
        let (record, provider) = try await runtime(id, principal: principal)
        return wire(try await call("file_stat", provider) { () async throws(ProviderError) in try await provider.stat(record.vmID ?? record.id, path: path) })
    }

    public func globFiles(_ id: String, pattern: String?, principal: Principal) async throws(APIError) -> [String] {
        guard let pattern, !pattern.isEmpty, pattern.utf8.count <= 4096, !pattern.utf8.contains(0) else {
            throw .badRequest("pattern is required")
        }
        let (record, provider) = try await runtime(id, principal: principal)
        return try await call("file_glob", provider) { () async throws(ProviderError) in try await provider.glob(record.vmID ?? record.id, pattern: pattern) }
    }

    public func moveFile(_ id: String, _ request: MoveFileRequest, principal: Principal) async throws(APIError) {
        let from = try path(request.oldPath, field: "old_path")
        let to = try path(request.newPath, field: "new_path")
        let (record, provider) = try await runtime(id, principal: principal)
        try await call("file_move", provider) { () async throws(ProviderError) in try await provider.move(record.vmID ?? record.id, from: from, to: to) }
    }

    public func chmodFile(_ id: String, _ request: ChmodRequest, principal: Principal) async throws(APIError) {
        let path = try path(request.path)
        guard let mode = try mode(request.mode) else { throw .badRequest("mode is required") }
        let (record, provider) = try await runtime(id, principal: principal)
        try await call("file_chmod", provider) { () async throws(ProviderError) in try await provider.chmod(record.vmID ?? record.id, path: path, mode: mode) }
    }

    func wire(_ info: FileInfo) -> FileInfoWire {
        FileInfoWire(path: info.path, name: info.name, size: info.size, mode: SandboxPath.formatMode(info.mode),
                     isDir: info.isDir, modTime: Log.timestamp(unixMillis: info.modTimeSeconds * 1000))
    }
}
