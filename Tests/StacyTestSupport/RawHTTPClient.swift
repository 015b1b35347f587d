#if canImport(Glibc)
import Glibc
#endif

/// A deliberately small HTTP/1.1 client over a raw socket, so tests can send exactly the bytes a
/// hostile or odd client would (long headers, invalid UTF-8, bad chunking) and read exactly what
/// the server answers.
public struct RawResponse: Sendable {
    public let status: Int
    public let headers: [(String, String)]
    public let body: [UInt8]

    public var text: String { String(decoding: body, as: UTF8.self) }

    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
}

public enum RawHTTPError: Error { case connect(Int32), closedEarly, malformed(String), timeout }

public final class RawConnection {
    public let fd: Int32

    public init(port: UInt16, host: String = "127.0.0.1", timeoutSeconds: Int = 10) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        inet_pton(AF_INET, host, &address.sin_addr)
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var result: Int32 = -1
        repeat {
            result = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
        } while result != 0 && errno == EINTR
        if result != 0 {
            let code = errno
            close(fd)
            throw RawHTTPError.connect(code)
        }
    }

    deinit { close(fd) }

    public func send(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent < 0 && errno == EINTR { continue }
            if sent <= 0 { return }
            offset += sent
        }
    }

    public func send(_ text: String) { send(Array(text.utf8)) }

    private var pending: [UInt8] = []

    /// Reads more bytes; false at end of stream or timeout.
    private func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        var count = recv(fd, &chunk, chunk.count, 0)
        // SIGCHLD from the processes a test's sandbox runs may interrupt the call.
        while count < 0 && errno == EINTR { count = recv(fd, &chunk, chunk.count, 0) }
        if count <= 0 { return false }
        pending.append(contentsOf: chunk[0..<count])
        return true
    }

    /// Reads one line (without CRLF).
    public func readLine() throws -> String {
        while true {
            if let index = pending.firstIndex(of: UInt8(ascii: "\n")) {
                var line = Array(pending[..<index])
                pending.removeFirst(index + 1)
                if line.last == UInt8(ascii: "\r") { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            guard fill() else { throw RawHTTPError.closedEarly }
        }
    }

    private func readExactly(_ count: Int) throws -> [UInt8] {
        while pending.count < count { guard fill() else { throw RawHTTPError.closedEarly } }
        let out = Array(pending[..<count])
        pending.removeFirst(count)
        return out
    }

    /// Reads the status line and headers.
    public func readHead() throws -> (Int, [(String, String)]) {
        let statusLine = try readLine()
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { throw RawHTTPError.malformed(statusLine) }
        var headers: [(String, String)] = []
        while true {
            let line = try readLine()
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingCharacters()))
        }
        return (status, headers)
    }

    /// Reads one chunk of a chunked body; nil at the terminating chunk.
    public func readChunk() throws -> [UInt8]? {
        let sizeLine = try readLine()
        guard let size = Int(sizeLine.split(separator: ";").first ?? "", radix: 16) else {
            throw RawHTTPError.malformed("chunk size '\(sizeLine)'")
        }
        if size == 0 {
            _ = try? readLine()
            return nil
        }
        let data = try readExactly(size)
        _ = try readLine()
        return data
    }

    public func readResponse(method: String = "GET") throws -> RawResponse {
        let (status, headers) = try readHead()
        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name }?.1 }
        var body: [UInt8] = []
        if method == "HEAD" || status == 204 || status == 304 {
            return RawResponse(status: status, headers: headers, body: [])
        }
        if header("transfer-encoding")?.lowercased() == "chunked" {
            while let chunk = try readChunk() { body += chunk }
        } else if let length = header("content-length").flatMap({ Int($0) }) {
            body = try readExactly(length)
        } else {
            while fill() {}
            body = pending
            pending = []
        }
        return RawResponse(status: status, headers: headers, body: body)
    }
}

extension String {
    func trimmingCharacters() -> String {
        var s = Substring(self)
        while s.first == " " || s.first == "\t" { s = s.dropFirst() }
        while s.last == " " || s.last == "\t" { s = s.dropLast() }
        return String(s)
    }
}

/// One request on a fresh connection.
public func rawRequest(port: UInt16, method: String = "GET", path: String, headers: [(String, String)] = [],
                       body: [UInt8]? = nil) throws -> RawResponse {
    let connection = try RawConnection(port: port)
    var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    for (name, value) in headers { head += "\(name): \(value)\r\n" }
    if let body, !headers.contains(where: { $0.0.lowercased() == "transfer-encoding" }) {
        head += "Content-Length: \(body.count)\r\n"
    }
    head += "\r\n"
    connection.send(Array(head.utf8) + (body ?? []))
    return try connection.readResponse(method: method)
}

public func rawRequest(port: UInt16, method: String = "GET", path: String, headers: [(String, String)] = [],
                       json: String) throws -> RawResponse {
    try rawRequest(port: port, method: method, path: path,
                   headers: headers + [("Content-Type", "application/json")], body: Array(json.utf8))
}
