#if canImport(Glibc)
import Glibc
#endif
import StacySandboxFS

// The byte format between the `namespace` provider and `stacyvm-agent` inside a sandbox, shared by
// both so there is one definition. Glibc only: the agent must start in about 2 ms and must not pull
// in Foundation (provider-feasibility.md, addendum).
//
// One request per unix-socket connection. Every message is a frame: one kind byte, a big-endian
// UInt32 payload length, the payload. Structured payloads are field lists: a big-endian UInt32
// count, then for each field a big-endian UInt32 length and its bytes.
//
//   provider → agent   `X` exec request (ExecRequest fields)
//   agent → provider   `o` stdout bytes, `e` stderr bytes (each ≤ 64 KiB, in the order produced),
//                      then exactly one `x` exit (ExecReply fields), then the agent closes.
//   provider → agent   closing its side at any time cancels the exec: its processes are killed.
//
//   provider → agent   `F` file request (AgentFileRequest fields); for `write` followed by `D` data
//                      frames and one `E`
//   agent → provider   for `read`: `D` data frames; then one `r` result (AgentFileResult fields)

public enum AgentFrame: UInt8, Sendable {
    case exec = 0x58        // "X"
    case ping = 0x50        // "P": answered with one `pong` frame, for readiness checks
    case pong = 0x70        // "p"
    case stdout = 0x6F      // "o"
    case stderr = 0x65      // "e"
    case exit = 0x78        // "x"
    case file = 0x46        // "F"
    case data = 0x44        // "D"
    case dataEnd = 0x45     // "E"
    case result = 0x72      // "r"
}

/// Largest payload either side accepts; exec requests carry stdin, so this bounds stdin too.
public let agentMaxPayload = 64 << 20
/// Output frames never carry more than this (api.md: stream frames ≤ 64 KiB).
public let agentChunkSize = 64 << 10

public struct AgentExecRequest: Sendable, Equatable {
    public var argv: [String]
    /// "KEY=value" entries, complete: nothing else is inherited.
    public var environment: [String]
    public var workdir: String
    public var stdin: [UInt8]
    public var timeoutNanos: Int64

    public init(argv: [String], environment: [String], workdir: String, stdin: [UInt8], timeoutNanos: Int64) {
        self.argv = argv
        self.environment = environment
        self.workdir = workdir
        self.stdin = stdin
        self.timeoutNanos = timeoutNanos
    }

    public func encoded() -> [UInt8] {
        var fields: [[UInt8]] = [Array(String(timeoutNanos).utf8), Array(workdir.utf8), stdin,
                                 Array(String(argv.count).utf8)]
        fields += argv.map { Array($0.utf8) }
        fields += environment.map { Array($0.utf8) }
        return AgentFields.encode(fields)
    }

    public static func decode(_ payload: [UInt8]) -> AgentExecRequest? {
        guard let fields = AgentFields.decode(payload), fields.count >= 4,
              let timeout = Int64(String(decoding: fields[0], as: UTF8.self)),
              let argc = Int(String(decoding: fields[3], as: UTF8.self)), argc >= 1, fields.count >= 4 + argc else { return nil }
        let text = { (bytes: [UInt8]) in String(decoding: bytes, as: UTF8.self) }
        return AgentExecRequest(argv: fields[4..<(4 + argc)].map(text), environment: fields[(4 + argc)...].map(text),
                                workdir: text(fields[1]), stdin: fields[2], timeoutNanos: timeout)
    }
}

/// How an exec ended. `failure` is empty when the command ran; otherwise it names why it could not
/// start (`workdir`, `not_found`, `not_executable`, `resources`) and nothing ran.
public struct AgentExecReply: Sendable, Equatable {
    public var exitCode: Int
    public var timedOut: Bool
    public var durationNanos: Int64
    public var failure: String
    public var message: String

    public init(exitCode: Int, timedOut: Bool, durationNanos: Int64, failure: String = "", message: String = "") {
        self.exitCode = exitCode
        self.timedOut = timedOut
        self.durationNanos = durationNanos
        self.failure = failure
        self.message = message
    }

    public func encoded() -> [UInt8] {
        AgentFields.encode([Array(String(exitCode).utf8), Array((timedOut ? "1" : "0").utf8),
                            Array(String(durationNanos).utf8), Array(failure.utf8), Array(message.utf8)])
    }

    public static func decode(_ payload: [UInt8]) -> AgentExecReply? {
        guard let fields = AgentFields.decode(payload), fields.count == 5 else { return nil }
        let text = { (bytes: [UInt8]) in String(decoding: bytes, as: UTF8.self) }
        guard let code = Int(text(fields[0])), let duration = Int64(text(fields[2])) else { return nil }
        return AgentExecReply(exitCode: code, timedOut: text(fields[1]) == "1", durationNanos: duration,
                              failure: text(fields[3]), message: text(fields[4]))
    }
}

public enum AgentFields {
    public static func encode(_ fields: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(4 + fields.reduce(0) { $0 + 4 + $1.count })
        appendUInt32(&out, UInt32(fields.count))
        for field in fields {
            appendUInt32(&out, UInt32(field.count))
            out += field
        }
        return out
    }

    public static func decode(_ bytes: [UInt8]) -> [[UInt8]]? {
        var offset = 0
        func readUInt32() -> Int? {
            guard offset + 4 <= bytes.count else { return nil }
            defer { offset += 4 }
            return Int(bytes[offset]) << 24 | Int(bytes[offset + 1]) << 16 | Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
        }
        guard let count = readUInt32(), count <= bytes.count else { return nil }
        var fields: [[UInt8]] = []
        fields.reserveCapacity(count)
        for _ in 0..<count {
            guard let length = readUInt32(), offset + length <= bytes.count else { return nil }
            fields.append(Array(bytes[offset..<(offset + length)]))
            offset += length
        }
        return offset == bytes.count ? fields : nil
    }

    static func appendUInt32(_ out: inout [UInt8], _ value: UInt32) {
        out.append(UInt8(value >> 24)); out.append(UInt8((value >> 16) & 0xFF))
        out.append(UInt8((value >> 8) & 0xFF)); out.append(UInt8(value & 0xFF))
    }
}

/// Blocking frame I/O on one socket (EINTR-safe). Each side's frames are written whole.
public enum AgentSocket {
    /// Writes one frame; false when the peer is gone.
    @discardableResult
    public static func writeFrame(_ fd: Int32, _ kind: AgentFrame, _ payload: UnsafeRawBufferPointer) -> Bool {
        var header: [UInt8] = [kind.rawValue]
        AgentFields.appendUInt32(&header, UInt32(payload.count))
        return header.withUnsafeBytes { writeAll(fd, $0) } && (payload.count == 0 || writeAll(fd, payload))
    }

    @discardableResult
    public static func writeFrame(_ fd: Int32, _ kind: AgentFrame, _ payload: [UInt8]) -> Bool {
        payload.withUnsafeBytes { writeFrame(fd, kind, $0) }
    }

    public static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = send(fd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    /// Reads exactly `count` bytes into `buffer`; false at end of stream or error.
    public static func readExactly(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int) -> Bool {
        var offset = 0
        while offset < count {
            let n = recv(fd, buffer + offset, count - offset, 0)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    /// Reads one frame; nil at end of stream, on error or for an oversized or unknown frame.
    public static func readFrame(_ fd: Int32) -> (AgentFrame, [UInt8])? {
        var header = [UInt8](repeating: 0, count: 5)
        guard header.withUnsafeMutableBytes({ readExactly(fd, $0.baseAddress!, 5) }),
              let kind = AgentFrame(rawValue: header[0]) else { return nil }
        let length = Int(header[1]) << 24 | Int(header[2]) << 16 | Int(header[3]) << 8 | Int(header[4])
        guard length <= agentMaxPayload else { return nil }
        var payload = [UInt8](repeating: 0, count: length)
        if length > 0 {
            guard payload.withUnsafeMutableBytes({ readExactly(fd, $0.baseAddress!, length) }) else { return nil }
        }
        return (kind, payload)
    }
}

/// A file operation, run by the agent with the sandbox file API rooted at the sandbox's "/", so
/// every path and symlink resolves in the sandbox's own mount namespace.
public struct AgentFileRequest: Sendable, Equatable {
    public enum Operation: String, Sendable {
        case write, read, list, stat, glob, move, chmod, delete
    }
    public var operation: Operation
    public var arguments: [String]

    public init(_ operation: Operation, _ arguments: [String]) {
        self.operation = operation
        self.arguments = arguments
    }

    public func encoded() -> [UInt8] {
        AgentFields.encode([Array(operation.rawValue.utf8)] + arguments.map { Array($0.utf8) })
    }

    public static func decode(_ payload: [UInt8]) -> AgentFileRequest? {
        guard let fields = AgentFields.decode(payload), let first = fields.first,
              let operation = Operation(rawValue: String(decoding: first, as: UTF8.self)) else { return nil }
        return AgentFileRequest(operation, fields.dropFirst().map { String(decoding: $0, as: UTF8.self) })
    }
}

/// The outcome of a file operation: values (paths, numbers, FileInfo rows) or a provider error.
public enum AgentFileResult: Sendable, Equatable {
    case ok([String])
    case failed(ProviderError)

    public func encoded() -> [UInt8] {
        switch self {
        case .ok(let values): return AgentFields.encode([Array("ok".utf8)] + values.map { Array($0.utf8) })
        case .failed(let error):
            return AgentFields.encode([Array("error".utf8), Array(error.wireKind.utf8), Array(error.wireDetail.utf8)])
        }
    }

    public static func decode(_ payload: [UInt8]) -> AgentFileResult? {
        guard let fields = AgentFields.decode(payload)?.map({ String(decoding: $0, as: UTF8.self) }),
              let status = fields.first else { return nil }
        if status == "ok" { return .ok(Array(fields.dropFirst())) }
        guard status == "error", fields.count == 3 else { return nil }
        return .failed(ProviderError(wireKind: fields[1], detail: fields[2]))
    }

    /// FileInfo as six values: path, name, size, mode, is_dir, mod_time.
    public static func values(_ info: FileInfo) -> [String] {
        [info.path, info.name, String(info.size), String(info.mode), info.isDir ? "1" : "0", String(info.modTimeSeconds)]
    }

    public static func fileInfos(_ values: [String]) -> [FileInfo]? {
        guard values.count % 6 == 0 else { return nil }
        var infos: [FileInfo] = []
        var index = 0
        while index < values.count {
            guard let size = Int64(values[index + 2]), let mode = UInt32(values[index + 3]),
                  let modTime = Int64(values[index + 5]) else { return nil }
            infos.append(FileInfo(path: values[index], name: values[index + 1], size: size, mode: mode,
                                  isDir: values[index + 4] == "1", modTimeSeconds: modTime))
            index += 6
        }
        return infos
    }
}
