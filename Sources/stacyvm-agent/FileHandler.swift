#if canImport(Glibc)
import Glibc
#endif
import StacyAgentWire
import StacySandboxFS

/// File operations inside the sandbox: the same file API as the mock provider, rooted at this
/// mount namespace's "/", so every path and every symlink resolves in the sandbox's own view and a
/// link can never lead to a host path. Files are created by the agent, i.e. by the sandbox's uid.
enum FileHandler {
    /// What one write may carry (the control plane enforces `limits.max_file_bytes` first).
    static let maxWriteBytes = 1 << 30
    static let files = SandboxFiles(root: "/")

    static func serve(_ request: AgentFileRequest, _ connection: Int32) {
        let result: AgentFileResult
        do throws(ProviderError) {
            result = .ok(try run(request, connection))
        } catch {
            result = .failed(error)
        }
        AgentSocket.writeFrame(connection, .result, result.encoded())
    }

    private static func run(_ request: AgentFileRequest, _ connection: Int32) throws(ProviderError) -> [String] {
        let args = request.arguments
        func argument(_ index: Int) throws(ProviderError) -> String {
            guard index < args.count else { throw .invalidInput("missing argument \(index) for \(request.operation)") }
            return args[index]
        }
        switch request.operation {
        case .write:
            guard let mode = UInt32(try argument(1), radix: 8) else { throw .invalidInput("bad mode") }
            let bytes = try receiveData(connection)
            return [String(try files.writeFile(try argument(0), bytes: bytes, mode: mode))]
        case .read:
            let limit = try argument(1)
            let bytes = try files.readFile(try argument(0), maxBytes: limit.isEmpty ? nil : Int(limit))
            var offset = 0
            while offset < bytes.count {
                let end = min(offset + agentChunkSize, bytes.count)
                let sent = bytes[offset..<end].withUnsafeBytes { AgentSocket.writeFrame(connection, .data, $0) }
                if !sent { throw .internal("provider went away") }
                offset = end
            }
            return [String(bytes.count)]
        case .list:
            return try files.list(try argument(0)).flatMap(AgentFileResult.values)
        case .stat:
            return AgentFileResult.values(try files.stat(try argument(0)))
        case .glob:
            return try files.glob(try argument(0))
        case .move:
            try files.move(from: try argument(0), to: try argument(1))
            return []
        case .chmod:
            guard let mode = UInt32(try argument(1), radix: 8) else { throw .invalidInput("bad mode") }
            try files.chmod(try argument(0), mode: mode)
            return []
        case .delete:
            try files.delete(try argument(0), recursive: try argument(1) == "1")
            return []
        }
    }

    /// The `D` frames of a write, up to its `E`.
    private static func receiveData(_ connection: Int32) throws(ProviderError) -> [UInt8] {
        var bytes: [UInt8] = []
        while true {
            guard let (kind, payload) = AgentSocket.readFrame(connection) else { throw .internal("write data cut short") }
            switch kind {
            case .data:
                bytes += payload
                if bytes.count > maxWriteBytes { throw .tooLarge("more than \(maxWriteBytes) bytes") }
            case .dataEnd:
                return bytes
            default:
                throw .internal("unexpected frame in write data")
            }
        }
    }
}
