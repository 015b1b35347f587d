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

/// One page of `listSandboxes` (`?limit=`/`?cursor=`); `nextCursor` is nil on the last page.
public struct SandboxPage: Decodable, Sendable, Equatable {
    public var items: [Sandbox]
    public var nextCursor: String?

    public init(items: [Sandbox], nextCursor: String?) {
        self.items = items
        self.nextCursor = nextCursor
    }

    enum CodingKeys: String, CodingKey {
        case items
        case nextCursor = "next_cursor"
    }
}

/// One HTTP request as the client saw it, for `--verbose`: secrets are already redacted
/// (`RequestLog.redact`), so a log can be printed as is.
public struct RequestLog: Sendable {
    public static let redacted = "[redacted]"

    public var method: String
    /// The URL with secret query parameters and any password replaced by `[redacted]`.
    public var url: String
    /// The client's auth and identity headers, secret values replaced by `[redacted]`.
    public var headers: [(name: String, value: String)]
    /// The HTTP status; 0 when no response arrived.
    public var status: Int
    /// From sending the request to the complete response (or, for a stream, its head).
    public var durationMS: Int
    /// The error code when no response arrived (e.g. `CONNECTION_ERROR`); never the message.
    public var error: String?
    /// A streamed response, logged when its head arrives.
    public var stream: Bool

    /// Redacts `url` and `headers`.
    public init(method: String, url: String, headers: [(String, String)] = [], status: Int, durationMS: Int,
                error: String? = nil, stream: Bool = false) {
        let clean = RequestLog.redact(url: url, headers: headers)
        self.method = method
        self.url = clean.url
        self.headers = clean.headers
        self.status = status
        self.durationMS = durationMS
        self.error = error
        self.stream = stream
    }

    /// `GET http://127.0.0.1:7423/api/v1/sandboxes?limit=3 -> 200 (4 ms) X-API-Key: [redacted]`
    public var line: String {
        var text = "\(method) \(url) -> "
        text += status > 0 ? String(status) : (error ?? "no response")
        text += stream ? " (\(durationMS) ms, stream head)" : " (\(durationMS) ms)"
        if !headers.isEmpty {
            text += " " + headers.map { "\($0.name): \($0.value)" }.joined(separator: "; ")
        }
        return text
    }

    /// The one place secrets are removed: the values of `X-API-Key`, `X-Admin-API-Key`,
    /// `Authorization` (and other credential-looking headers: `*-Key`, `*Token*`, `*Secret*`,
    /// `Cookie`), of `token` query parameters (and `*token*`, `*key`, `*secret*`, `*password*`
    /// ones), and the password of a `user:password@` URL become `[redacted]`. Everything else is
    /// kept byte for byte.
    public static func redact(url: String, headers: [(String, String)] = [])
        -> (url: String, headers: [(name: String, value: String)]) {
        func secret(_ name: String, header: Bool) -> Bool {
            let name = (name.removingPercentEncoding ?? name).lowercased()
            if header, ["authorization", "proxy-authorization", "cookie", "set-cookie"].contains(name) { return true }
            return name.contains("token") || name.contains("secret") || name.contains("password")
                || name.hasSuffix("key") || name.hasSuffix("_sig") || name == "signature"
        }
        // Query parameters: between the first `?` and the fragment.
        var head = Substring(url)
        var fragment = Substring("")
        if let hash = head.firstIndex(of: "#") {
            fragment = head[hash...]
            head = head[..<hash]
        }
        var query: Substring?
        if let question = head.firstIndex(of: "?") {
            query = head[head.index(after: question)...]
            head = head[..<question]
        }
        // `scheme://user:password@host`: only the password goes.
        var cleanHead = String(head)
        if let scheme = cleanHead.range(of: "://") {
            let authorityEnd = cleanHead[scheme.upperBound...].firstIndex(of: "/") ?? cleanHead.endIndex
            let authority = cleanHead[scheme.upperBound..<authorityEnd]
            if let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") {
                cleanHead.replaceSubrange(cleanHead.index(after: colon)..<at, with: redacted)
            }
        }
        var result = cleanHead
        if let query {
            let pairs = query.split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
                guard let equals = pair.firstIndex(of: "=") else { return String(pair) }
                let name = String(pair[..<equals])
                return secret(name, header: false) ? name + "=" + redacted : String(pair)
            }
            result += "?" + pairs.joined(separator: "&")
        }
        result += fragment
        return (result, headers.map { name, value in (name, secret(name, header: true) ? redacted : value) })
    }
}

/// Client of the control plane's REST API (`/api/v1`); one method per OpenAPI `operationId`.
public final class StacyVMClient: Sendable {
    public let baseURL: String
    public let timeout: Double
    /// Called once per request with its redacted log (`--verbose`): after the response, or for a
    /// stream when the response head arrives; also when no response arrives (status 0).
    public let onRequest: (@Sendable (RequestLog) -> Void)?
    private let headers: [(String, String)]
    private let session: URLSession

    public init(baseURL: String = "http://127.0.0.1:7423", apiKey: String? = nil, adminKey: String? = nil,
                userID: String? = nil, tenantID: String? = nil, workerID: String? = nil, workerToken: String? = nil,
                timeout: Double = 30, onRequest: (@Sendable (RequestLog) -> Void)? = nil) {
        self.onRequest = onRequest
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
        // A worker's identity (workers.md §3.1): only the worker routes accept it.
        if let workerID { headers.append(("X-Worker-ID", workerID)) }
        if let workerToken { headers.append(("X-Worker-Token", workerToken)) }
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

    /// The plain array (the server caps it at 10,000); `state` and `includeDestroyed` filter.
    public func listSandboxes(state: String? = nil, includeDestroyed: Bool = false) async throws(StacyVMError) -> [Sandbox] {
        try await call("GET", "/sandboxes" + queryString(listFilter(state: state, includeDestroyed: includeDestroyed)))
    }

    /// One page of sandboxes (`listSandboxes` with `limit`/`cursor`): `limit` 1–1000 (the server's
    /// default is 100), `cursor` a previous page's `nextCursor`.
    public func listSandboxesPage(state: String? = nil, includeDestroyed: Bool = false, limit: Int? = nil,
                                  cursor: String? = nil) async throws(StacyVMError) -> SandboxPage {
        var query = listFilter(state: state, includeDestroyed: includeDestroyed)
        query.append(("limit", String(limit ?? 100)))
        if let cursor { query.append(("cursor", cursor)) }
        let request = try makeRequest("GET", "/sandboxes" + queryString(query), body: Optional<Empty>.none)
        let (status, bytes) = try await fetch(request)
        if let page = try? JanssonDecoder().decode(SandboxPage.self, from: bytes) { return page }
        // A server without paging answers with the plain array: one page, no cursor.
        do {
            return SandboxPage(items: try JanssonDecoder().decode([Sandbox].self, from: bytes), nextCursor: nil)
        } catch {
            throw StacyVMError(status: status, code: "DECODING_ERROR", message: String(describing: error))
        }
    }

    @discardableResult
    public func destroySandbox(_ id: String) async throws(StacyVMError) -> StatusMessage {
        try await call("DELETE", "/sandboxes/\(escape(id))")
    }

    private func listFilter(state: String?, includeDestroyed: Bool) -> [(String, String)] {
        var query: [(String, String)] = []
        if let state { query.append(("state", state)) }
        if includeDestroyed { query.append(("include_destroyed", "true")) }
        return query
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
        let observe = observer(for: urlRequest, stream: true)
        return AsyncThrowingStream { continuation in
            let delegate = NDJSONStreamDelegate(continuation: continuation, onHead: observe)
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

    /// `?a=b&c=d` with each name and value percent-encoded; empty without items.
    func queryString(_ items: [(String, String)]) -> String {
        guard !items.isEmpty else { return "" }
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+?#")
        func encode(_ text: String) -> String { text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text }
        return "?" + items.map { encode($0.0) + "=" + encode($0.1) }.joined(separator: "&")
    }

    /// Reports the request to `onRequest` once: with the status (0 and an error code when no
    /// response arrived), timed from this call. nil without an observer.
    private func observer(for request: URLRequest, stream: Bool = false) -> (@Sendable (Int, String?) -> Void)? {
        guard let onRequest else { return nil }
        let method = request.httpMethod ?? "GET"
        let url = request.url?.absoluteString ?? ""
        let headers = self.headers
        let start = ContinuousClock.now
        return { status, error in
            let elapsed = ContinuousClock.now - start
            let ms = Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
            onRequest(RequestLog(method: method, url: url, headers: headers, status: status, durationMS: ms,
                                 error: error, stream: stream))
        }
    }

    func escape(_ segment: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove("/")
        return segment.addingPercentEncoding(withAllowedCharacters: allowed) ?? segment
    }

    func makeRequest(_ method: String, _ path: String, body: (some Encodable)?) throws(StacyVMError) -> URLRequest {
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

    func call<Response: Decodable>(_ method: String, _ path: String) async throws(StacyVMError) -> Response {
        try await call(method, path, body: Optional<Empty>.none)
    }

    func call<Response: Decodable>(_ method: String, _ path: String,
                                           body: (some Encodable)?) async throws(StacyVMError) -> Response {
        let request = try makeRequest(method, path, body: body)
        let (status, bytes) = try await fetch(request)
        do {
            return try JanssonDecoder().decode(Response.self, from: bytes)
        } catch {
            throw StacyVMError(status: status, code: "DECODING_ERROR", message: String(describing: error))
        }
    }

    /// The body of a 2xx response; otherwise the error envelope is thrown.
    func fetch(_ request: URLRequest) async throws(StacyVMError) -> (Int, [UInt8]) {
        let (status, bytes) = try await send(request)
        guard (200..<300).contains(status) else { throw StacyVMError.from(status: status, body: bytes) }
        return (status, bytes)
    }

    func send(_ request: URLRequest) async throws(StacyVMError) -> (Int, [UInt8]) {
        let observe = observer(for: request)
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
        switch result {
        case .success(let (status, _)): observe?(status, nil)
        case .failure(let error): observe?(0, error.code)
        }
        return try result.get()
    }
}

struct Empty: Encodable {}

/// Splits the response into lines as data arrives and yields one event per NDJSON frame;
/// blank keep-alive lines are skipped. A non-2xx response is collected and thrown as the envelope.
final class NDJSONStreamDelegate: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    private let lock = NSLock()
    private let continuation: AsyncThrowingStream<ExecStreamEvent, Error>.Continuation
    private var buffer: [UInt8] = []
    private var status = 0
    private var finished = false
    /// Reports the response head (or the failure before one) once, for `onRequest`.
    private var onHead: (@Sendable (Int, String?) -> Void)?

    init(continuation: AsyncThrowingStream<ExecStreamEvent, Error>.Continuation,
         onHead: (@Sendable (Int, String?) -> Void)? = nil) {
        self.continuation = continuation
        self.onHead = onHead
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping (URLSession.ResponseDisposition) -> Void) {
        let (headStatus, report) = lock.withLock {
            status = (response as? HTTPURLResponse)?.statusCode ?? 0
            defer { onHead = nil }
            return (status, onHead)
        }
        report?(headStatus, nil)
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
        let report = lock.withLock {
            defer { onHead = nil }
            return onHead
        }
        report?(0, error == nil ? "no response" : "CONNECTION_ERROR")
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
