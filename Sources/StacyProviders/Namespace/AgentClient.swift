import Foundation
import Glibc
import StacyAgentWire
import Synchronization

/// One connection to a sandbox's agent. Reads block, so they run on a dedicated thread, never on
/// the cooperative pool; `cancel()` from any thread wakes them (shutdown), and the agent kills the
/// exec's processes when it sees the hang-up.
final class AgentConnection: Sendable {
    private let descriptor: Mutex<Int32>

    private init(fd: Int32) { descriptor = Mutex(fd) }

    deinit { descriptor.withLock { if $0 >= 0 { close($0) } } }

    /// Connects to the agent socket; nil when nothing listens there (yet).
    static func connect(_ path: String) -> AgentConnection? {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { close(fd); return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        var rc: Int32
        repeat {
            rc = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
        } while rc != 0 && errno == EINTR
        guard rc == 0 else { close(fd); return nil }
        return AgentConnection(fd: fd)
    }

    var fd: Int32 { descriptor.withLock { $0 } }

    func cancel() {
        descriptor.withLock { fd in if fd >= 0 { shutdown(fd, Int32(SHUT_RDWR)) } }
    }

    /// A bound on each blocking read (the agent enforces the exec timeout itself; this only catches
    /// an agent that stopped answering).
    func setReadTimeout(nanos: Int64) {
        var timeout = timeval(tv_sec: Int(min(nanos / 1_000_000_000, 86_400 * 365)), tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ kind: AgentFrame, _ payload: [UInt8]) -> Bool { AgentSocket.writeFrame(fd, kind, payload) }

    func read() -> (AgentFrame, [UInt8])? { AgentSocket.readFrame(fd) }
}

enum AgentClient {
    /// True when the agent behind `socketPath` answers a ping.
    static func ping(_ socketPath: String) -> Bool {
        guard let connection = AgentConnection.connect(socketPath) else { return false }
        connection.setReadTimeout(nanos: 2_000_000_000)
        guard connection.send(.ping, []), let (kind, _) = connection.read() else { return false }
        return kind == .pong
    }

    /// Runs one exec; `event` is called on a dedicated thread, in order, ending with exactly one
    /// `.exit`. Returns the connection so the caller can cancel.
    @discardableResult
    static func exec(socketPath: String, request: AgentExecRequest,
                     event: @escaping @Sendable (ExecEvent) -> Void) -> AgentConnection? {
        guard let connection = AgentConnection.connect(socketPath) else {
            event(.exit(ExecExit(exitCode: -1, durationNanos: 0, error: .sandboxNotFound)))
            return nil
        }
        connection.setReadTimeout(nanos: request.timeoutNanos + 30_000_000_000)
        guard connection.send(.exec, request.encoded()) else {
            event(.exit(ExecExit(exitCode: -1, durationNanos: 0, error: .sandboxNotFound)))
            return nil
        }
        let thread = Thread {
            while true {
                guard let (kind, payload) = connection.read() else {
                    // The agent went away mid-exec: the sandbox was destroyed (or cancelled by us).
                    event(.exit(ExecExit(exitCode: -1, durationNanos: 0, error: .sandboxDestroyed)))
                    return
                }
                switch kind {
                case .stdout: event(.output(.stdout, payload))
                case .stderr: event(.output(.stderr, payload))
                case .exit:
                    guard let reply = AgentExecReply.decode(payload) else {
                        event(.exit(ExecExit(exitCode: -1, durationNanos: 0, error: .internal("malformed agent reply"))))
                        return
                    }
                    event(.exit(exit(from: reply)))
                    return
                default:
                    continue
                }
            }
        }
        thread.name = "stacyvm-agent-client"
        thread.start()
        return connection
    }

    static func exit(from reply: AgentExecReply) -> ExecExit {
        let error: ProviderError?
        switch reply.failure {
        case "": error = reply.timedOut ? .execTimeout : nil
        case "workdir", "not_found", "not_executable", "invalid": error = .invalidInput(reply.message)
        case "resources": error = .resourceLimit(reply.message)
        default: error = .internal(reply.message)
        }
        return ExecExit(exitCode: reply.exitCode, durationNanos: reply.durationNanos, timedOut: reply.timedOut, error: error)
    }
}

extension AgentClient {
    /// One file operation on the sandbox's agent: the request, then (for writes) the data, then the
    /// agent's data frames (reads) and its result. The blocking socket I/O runs on its own thread.
    static func file(socketPath: String, _ request: AgentFileRequest, upload: [UInt8]? = nil)
        async throws(ProviderError) -> (values: [String], data: [UInt8]) {
        let outcome: Result<([String], [UInt8]), ProviderError> = await withCheckedContinuation { continuation in
            let thread = Thread {
                continuation.resume(returning: fileBlocking(socketPath: socketPath, request, upload: upload))
            }
            thread.name = "stacyvm-agent-file"
            thread.start()
        }
        let (values, data) = try outcome.get()
        return (values, data)
    }

    private static func fileBlocking(socketPath: String, _ request: AgentFileRequest,
                                     upload: [UInt8]?) -> Result<([String], [UInt8]), ProviderError> {
        guard let connection = AgentConnection.connect(socketPath) else { return .failure(.sandboxNotFound) }
        connection.setReadTimeout(nanos: 120_000_000_000)
        guard connection.send(.file, request.encoded()) else { return .failure(.sandboxNotFound) }
        if let upload {
            var offset = 0
            while offset < upload.count {
                let end = min(offset + agentChunkSize, upload.count)
                let sent = upload[offset..<end].withUnsafeBytes { AgentSocket.writeFrame(connection.fd, .data, $0) }
                guard sent else { return .failure(.sandboxDestroyed) }
                offset = end
            }
            guard connection.send(.dataEnd, []) else { return .failure(.sandboxDestroyed) }
        }
        var data: [UInt8] = []
        while true {
            guard let (kind, payload) = connection.read() else { return .failure(.sandboxDestroyed) }
            switch kind {
            case .data:
                data += payload
            case .result:
                switch AgentFileResult.decode(payload) {
                case .ok(let values)?: return .success((values, data))
                case .failed(let error)?: return .failure(error)
                case nil: return .failure(.internal("malformed agent file result"))
                }
            default:
                return .failure(.internal("unexpected agent frame \(kind)"))
            }
        }
    }
}
