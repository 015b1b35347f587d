import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import StacyAPI
import StacyJSON

/// An API error: the HTTP status and the envelope's `code` and `message`. Connection failures
/// are status 0 with code `CONNECTION_ERROR`.
public struct StacyVMError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var code: String
    public var message: String

    public init(status: Int, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }

    static func connection(_ error: Error) -> StacyVMError {
        StacyVMError(status: 0, code: "CONNECTION_ERROR", message: (error as NSError).localizedDescription)
    }

    /// The envelope when the body is one; otherwise a code derived from the status.
    static func from(status: Int, body: [UInt8]) -> StacyVMError {
        if let envelope = try? JanssonDecoder().decode(ErrorEnvelope.self, from: body) {
            return StacyVMError(status: status, code: envelope.code, message: envelope.message)
        }
        let code: String
        switch status {
        case 400: code = "BAD_REQUEST"
        case 401: code = "UNAUTHORIZED"
        case 403: code = "FORBIDDEN"
        case 404: code = "NOT_FOUND"
        case 409: code = "CONFLICT"
        case 408: code = "TIMEOUT"
        default: code = status >= 500 ? "INTERNAL_ERROR" : "HTTP_\(status)"
        }
        return StacyVMError(status: status, code: code, message: String(decoding: body, as: UTF8.self))
    }
}

/// One NDJSON frame of a streamed exec: output chunks, then exactly one exit frame.
public enum ExecStreamEvent: Sendable, Equatable {
    case output(stream: String, data: String)
    case exit(ExecExitFrame)
}

/// Client of the control plane's REST API (`/api/v1`); one method per OpenAPI `operationId`.
public final class StacyVMClient: Sendable {
    public let baseURL: String
    public let timeout: Double
    private let headers: [(String, String)]
    private let session: URLSession

    public init(baseURL: String = "http://127.0.0.1:7423", apiKey: String? = nil, adminKey: String? = nil,
                userID: String? = nil, tenantID: String? = nil, timeout: Double = 30) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        if !base.hasSuffix("/api/v1") { base += "/api/v1" }
        self.baseURL = base
        self.timeout = timeout
        var headers: [(String, String)] = []
        if let apiKey { headers.append(("X-API-Key", apiKey)) }
        if let adminKey { headers.append(("X-Admin-API-Key", adminKey)) }
        if let userID { headers.append(("X-User-ID", userID)) }
        if let tenantID { headers.append(("X-Tenant-ID", tenantID)) }
        self.headers = headers
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        self.session = URLSession(configuration: configuration)
    }

    deinit { session.finishTasksAndInvalidate() }

    // MARK: system

    public func getHealth() async throws(StacyVMError) -> HealthResponse {
        try await call("GET", "/health")
    }

    // MARK: sandboxes

    public func createSandbox(_ request: SpawnRequest) async throws(StacyVMError) -> Sandbox {
        try await call("POST", "/sandboxes", body: request)
    }

    public func getSandbox(_ id: String) async throws(StacyVMError) -> Sandbox {
        try await call("GET", "/sandboxes/\(escape(id))")
    }

    public func listSandboxes() async throws(StacyVMError) -> [Sandbox] {
        try await call("GET", "/sandboxes")
    }

    @discardableResult
    public func destroySandbox(_ id: String) async throws(StacyVMError) -> StatusMessage {
        try await call("DELETE", "/sandboxes/\(escape(id))")
    }

    // MARK: exec

    /// Buffered exec (`stream` is forced off).
    public func execCommand(_ id: String, _ request: ExecRequest) async throws(StacyVMError) -> ExecResponse {
        var request = request
        request.stream = nil
        return try await call("POST", "/sandboxes/\(escape(id))/exec", body: request)
    }

    /// Streamed exec: output frames as they arrive, then one exit frame. The client timeout is an
    /// idle timeout here. HTTP errors before the stream starts are thrown as `StacyVMError`.
    public func execCommandStream(_ id: String, _ request: ExecRequest) -> AsyncThrowingStream<ExecStreamEvent, Error> {
        var request = request
        request.stream = true
        let urlRequest: URLRequest
        do {
            urlRequest = try makeRequest("POST", "/sandboxes/\(escape(id))/exec", body: request)
        } catch {
            return AsyncThrowingStream { $0.finish(throwing: error) }
        }
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        return AsyncThrowingStream { continuation in
            let delegate = NDJSONStreamDelegate(continuation: continuation)
            let streamSession = URLSession(configuration: configuration, delegate: delegate, delegateQueue: nil)
            let task = streamSession.dataTask(with: urlRequest)
            continuation.onTermination = { _ in
                task.cancel()
                streamSession.finishTasksAndInvalidate()
            }
            task.resume()
        }
    }

    // MARK: templates

    public func listTemplates() async throws(StacyVMError) -> [Template] {
        try await call("GET", "/templates")
    }

    public func createTemplate(_ request: TemplateRequest) async throws(StacyVMError) -> Template {
        try await call("POST", "/templates", body: request)
    }

    @discardableResult
    public func deleteTemplate(_ name: String) async throws(StacyVMError) -> StatusMessage {
        try await call("DELETE", "/templates/\(escape(name))")
    }

    // MARK: transport

    private func escape(_ segment: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove("/")
        return segment.addingPercentEncoding(withAllowedCharacters: allowed) ?? segment
    }

    private func makeRequest(_ method: String, _ path: String, body: (some Encodable)?) throws(StacyVMError) -> URLRequest {
        guard let url = URL(string: baseURL + path) else {
            throw StacyVMError(status: 0, code: "CONNECTION_ERROR", message: "invalid URL \(baseURL + path)")
        }
        var request = URLRequest(url: url)
        request.httpMethod = method
        request.timeoutInterval = timeout
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        if let body {
            do {
                request.httpBody = Data(try JanssonEncoder().encode(body))
            } catch {
                throw StacyVMError(status: 0, code: "ENCODING_ERROR", message: String(describing: error))
            }
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        return request
    }

    private func call<Response: Decodable>(_ method: String, _ path: String) async throws(StacyVMError) -> Response {
        try await call(method, path, body: Optional<Empty>.none)
    }

    private func call<Response: Decodable>(_ method: String, _ path: String,
                                           body: (some Encodable)?) async throws(StacyVMError) -> Response {
        let request = try makeRequest(method, path, body: body)
        let (status, bytes) = try await send(request)
        guard (200..<300).contains(status) else { throw StacyVMError.from(status: status, body: bytes) }
        do {
            return try JanssonDecoder().decode(Response.self, from: bytes)
        } catch {
            throw StacyVMError(status: status, code: "DECODING_ERROR", message: String(describing: error))
        }
    }

    private func send(_ request: URLRequest) async throws(StacyVMError) -> (Int, [UInt8]) {
        let session = self.session
        let result: Result<(Int, [UInt8]), StacyVMError> = await withCheckedContinuation { continuation in
            let task = session.dataTask(with: request) { data, response, error in
                if let error {
                    continuation.resume(returning: .failure(.connection(error)))
                } else if let http = response as? HTTPURLResponse {
                    continuation.resume(returning: .success((http.statusCode, [UInt8](data ?? Data()))))
                } else {
                    continuation.resume(returning: .failure(StacyVMError(status: 0, code: "CONNECTION_ERROR",
                                                                         message: "no HTTP response")))
                }
            }
            task.resume()
        }
        return try result.get()
    }
}

private struct Empty: Encodable {}

/// Splits the response into lines as data arrives and yields one event per NDJSON frame;
/// blank keep-alive lines are skipped. A non-2xx response is collected and thrown as the envelope.
final class NDJSONStreamDelegate: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private let lock = NSLock()
    private let continuation: AsyncThrowingStream<ExecStreamEvent, Error>.Continuation
    private var buffer: [UInt8] = []
    private var status = 0
    private var finished = false

    init(continuation: AsyncThrowingStream<ExecStreamEvent, Error>.Continuation) {
        self.continuation = continuation
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        lock.withLock { status = (response as? HTTPURLResponse)?.statusCode ?? 0 }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        lock.withLock {
            buffer.append(contentsOf: data)
            guard (200..<300).contains(status) else { return }
            while let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                yieldLine(line)
            }
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        lock.withLock {
            defer { finished = true }
            guard !finished else { return }
            if let error {
                continuation.finish(throwing: StacyVMError.connection(error))
                return
            }
            if !(200..<300).contains(status) {
                continuation.finish(throwing: StacyVMError.from(status: status, body: buffer))
                return
            }
            if !buffer.isEmpty { yieldLine(buffer) }
            buffer = []
            continuation.finish()
        }
        session.finishTasksAndInvalidate()
    }

    /// Caller holds the lock.
    private func yieldLine(_ line: [UInt8]) {
        guard line.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\t") }) else {
            return
        }
        guard let head = try? JanssonDecoder().decode(StreamHead.self, from: line) else { return }
        if head.stream == "exit" {
            if let frame = try? JanssonDecoder().decode(ExecExitFrame.self, from: line) { continuation.yield(.exit(frame)) }
        } else if let frame = try? JanssonDecoder().decode(ExecOutputFrame.self, from: line) {
            continuation.yield(.output(stream: frame.stream, data: frame.data))
        }
    }

    private struct StreamHead: Decodable { var stream: String }
}
