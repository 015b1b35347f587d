import StacyJSON
#if canImport(Glibc)
import Glibc
#endif

/// A response as handlers build it. Bodies are bytes, a JSON document already rendered into a
/// `malloc`ed buffer (handed to libmicrohttpd without another copy), or a stream.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: Body

    public enum Body: Sendable {
        case empty
        case bytes([UInt8])
        case malloced(MallocedBuffer)
        case stream(StreamSpec)
    }

    public init(status: Int, headers: [(String, String)] = [], body: Body = .empty) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON body. Encoding failures become a 500 envelope: they are programming errors, and
    /// the caller must still get a well-formed answer.
    public static func json<T: Encodable>(_ value: T, status: Int = 200) -> HTTPResponse {
        do {
            let (pointer, count) = try JanssonEncoder().encodeMalloced(value)
            return HTTPResponse(status: status, headers: [("Content-Type", "application/json")],
                                body: .malloced(MallocedBuffer(pointer: pointer, count: count)))
        } catch {
            let fallback = #"{"code":"INTERNAL_ERROR","message":"response encoding failed"}"#
            return HTTPResponse(status: 500, headers: [("Content-Type", "application/json")],
                                body: .bytes(Array(fallback.utf8)))
        }
    }

    public static func text(_ text: String, status: Int = 200, contentType: String = "text/plain; charset=utf-8") -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", contentType)], body: .bytes(Array(text.utf8)))
    }

    /// A streamed body (NDJSON, SSE, …). `producer` runs in its own task after the headers are
    /// queued; the server thread is released whenever the stream has nothing to send.
    public static func stream(status: Int = 200, contentType: String,
                              shutdownTrailer: [UInt8]? = nil,
                              producer: @escaping @Sendable (StreamWriter) async -> Void) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", contentType), ("Cache-Control", "no-cache")],
                     body: .stream(StreamSpec(shutdownTrailer: shutdownTrailer, producer: producer)))
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
}

/// What a streamed response needs: the producer, and the bytes to send if the server shuts
/// down while it still runs (e.g. an exit frame saying the server went away).
public struct StreamSpec: Sendable {
    public let shutdownTrailer: [UInt8]?
    public let producer: @Sendable (StreamWriter) async -> Void
}

/// A `malloc`ed buffer with exactly one owner: whoever calls `take()` must free it (libmicrohttpd
/// does so with `RESPMEM_MUST_FREE`); if nobody takes it, it is freed here.
public final class MallocedBuffer: @unchecked Sendable {
    // Only touched by the single thread that queues the response; `take()` clears it.
    private var pointer: UnsafeMutablePointer<CChar>?
    public let count: Int

    init(pointer: UnsafeMutablePointer<CChar>, count: Int) {
        self.pointer = pointer
        self.count = count
    }

    func take() -> UnsafeMutablePointer<CChar>? {
        defer { pointer = nil }
        return pointer
    }

    public var bytes: [UInt8] {
        guard let pointer else { return [] }
        return [UInt8](UnsafeRawBufferPointer(start: pointer, count: count))
    }

    deinit { if let pointer { free(pointer) } }
}
