import CMicroHTTPD
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Per-request state, created on libmicrohttpd's first call for a request and released in its
/// completion callback. Until a request is handed to an async handler only its own server thread
/// touches it; after that the hand-over goes through `pending`.
final class RequestContext: @unchecked Sendable {
    let startNanos: UInt64
    let method: String
    let rawPath: String
    let requestID: String
    let headers: HTTPHeaders
    let remoteAddress: String
    let match: Router.Match
    let maxBodyBytes: Int
    var body: [UInt8] = []
    var bodyTooLarge = false
    var discardedBytes = 0
    var status = 0
    var responded = false
    /// An allowed cross-origin caller; every response then carries the CORS headers.
    var corsOrigin: String?
    var stream: ResponseStream?
    /// The async handler's answer, and the connection it will resume (as bits: `OpaquePointer`
    /// is not Sendable, and it is only turned back into a pointer under this lock).
    let pending = Mutex<Pending>(Pending())

    struct Pending: Sendable {
        var running = false
        var response: HTTPResponse?
        var connectionBits: UInt = 0
        var task: Task<Void, Never>?
    }

    init(method: String, rawPath: String, requestID: String, headers: HTTPHeaders, remoteAddress: String,
         match: Router.Match, maxBodyBytes: Int) {
        self.startNanos = monotonicNanos()
        self.method = method
        self.rawPath = rawPath
        self.requestID = requestID
        self.headers = headers
        self.remoteAddress = remoteAddress
        self.match = match
        self.maxBodyBytes = maxBodyBytes
    }

    var routeIndex: Int? {
        if case .found(let route, _) = match { return route.index }
        return nil
    }

    var routeTemplate: String {
        if case .found(let route, _) = match { return route.info.path }
        return "unmatched"
    }

    /// Delivers the async handler's answer and resumes the connection, once. Later calls (a
    /// forced shutdown answer racing the real one) are ignored.
    func complete(with response: HTTPResponse) {
        pending.withLock { p in
            guard p.running, p.response == nil else { return }
            p.response = response
            p.running = false
            if let connection = OpaquePointer(bitPattern: p.connectionBits) {
                MHD_resume_connection(connection)
            }
        }
    }
}

/// Everything the C callbacks need, reached through the daemon's `cls` pointer.
final class ServerCore: Sendable {
    let config: HTTPServerConfig
    let router: Router
    let stats: HTTPStats
    let log: Log
    private let shuttingDown = Atomic<Bool>(false)
    /// Streams and async requests whose connections may be suspended.
    private let suspendable = Mutex<Suspendable>(Suspendable())

    struct Suspendable: @unchecked Sendable {  // class references only, used under the lock
        var streams: [ObjectIdentifier: ResponseStream] = [:]
        var requests: [ObjectIdentifier: RequestContext] = [:]
    }

    init(config: HTTPServerConfig, router: Router, stats: HTTPStats) {
        self.config = config
        self.stats = stats
        self.router = router
        self.log = config.log
    }

    var isShuttingDown: Bool { shuttingDown.load(ordering: .acquiring) }

    // MARK: request handling (server threads)

    func makeContext(connection: OpaquePointer, method: String, rawPath: String?) -> RequestContext {
        let headers = collectHeaders(connection, kind: .HEADER_KIND)
        let match = rawPath.map { router.match(method: method, path: $0) } ?? .badPath
        var limit = config.maxBodyBytes
        if case .found(let route, _) = match, let routeLimit = route.maxBodyBytes { limit = routeLimit }
        stats.inFlight.add(1, ordering: .relaxed)
        return RequestContext(method: method, rawPath: rawPath ?? "(invalid UTF-8)", requestID: RequestID.accept(headers["X-Request-ID"]),
                              headers: headers, remoteAddress: clientAddress(connection), match: match,
                              maxBodyBytes: limit)
    }

    /// Answers that can be given before the body is read: routing failures and a declared
    /// body above the limit (so the client does not upload it at all).
    func earlyResponse(_ context: RequestContext) -> HTTPResponse? {
        if isShuttingDown { return APIError.unavailable("server is shutting down").response }
        if let policy = config.cors, let origin = context.headers["Origin"] {
            guard policy.allows(origin) else {
                return APIError(status: 403, code: "FORBIDDEN", message: "origin not allowed").response
            }
            context.corsOrigin = origin
            if context.method == "OPTIONS" && context.headers["Access-Control-Request-Method"] != nil {
                return HTTPResponse(status: 204, headers: [("Access-Control-Allow-Methods", CORSPolicy.methods),
                                                           ("Access-Control-Allow-Headers", CORSPolicy.headers),
                                                           ("Access-Control-Max-Age", "600")])
            }
        }
        switch context.match {
        case .notFound: return APIError.routeNotFound.response
        case .badPath: return APIError.badRequest("malformed path: bad percent-encoding or invalid UTF-8").response
        case .methodNotAllowed(let allowed): return APIError.methodNotAllowed(allowed: allowed).response
        case .found:
            if let declared = context.headers["Content-Length"], let length = Int(declared), length > context.maxBodyBytes {
                return APIError.payloadTooLarge(limit: context.maxBodyBytes).response
            }
            return nil
        }
    }

    /// A body chunk. Past the limit the rest is read and dropped (a response cannot be queued
    /// while a body is arriving), up to a hard cap after which the connection is closed.
    func receive(_ context: RequestContext, _ data: UnsafePointer<CChar>, _ count: Int) -> Bool {
        if !context.bodyTooLarge && context.body.count + count <= context.maxBodyBytes {
            data.withMemoryRebound(to: UInt8.self, capacity: count) { bytes in
                context.body.append(contentsOf: UnsafeBufferPointer(start: bytes, count: count))
            }
            return true
        }
        if !context.bodyTooLarge {
            context.bodyTooLarge = true
            context.discardedBytes = context.body.count
            context.body = []
        }
        context.discardedBytes += count
        return context.discardedBytes <= context.maxBodyBytes + (16 << 20)
    }

    /// The whole request has arrived: run the handler (inline, or suspended for async ones).
    func dispatch(_ context: RequestContext, connection: OpaquePointer) -> MHD_Result {
        if context.bodyTooLarge {
            return queue(APIError.payloadTooLarge(limit: context.maxBodyBytes).response, context, connection)
        }
        guard case .found(let route, let parameters) = context.match else {
            return queue(APIError.internalError.response, context, connection)
        }
        let request: HTTPRequest
        switch buildRequest(context, connection: connection, parameters: parameters) {
        case .success(let built): request = built
        case .failure(let error): return queue(error.response, context, connection)
        }
        switch route.handler {
        case .sync(let handler):
            return queue(run { try handler(request) }, context, connection)
        case .async(let handler):
            context.pending.withLock { p in
                p.running = true
                p.connectionBits = UInt(bitPattern: connection)
            }
            track(request: context)
            MHD_suspend_connection(connection)
            let log = self.log
            let task = Task {
                let response: HTTPResponse
                do { response = try await handler(request) } catch { response = ServerCore.errorResponse(error, log: log, requestID: request.requestID) }
                context.complete(with: response)
            }
            context.pending.withLock { $0.task = task }
            return .YES
        }
    }

    /// Called again after an async handler resumed the connection.
    func resumeAfterHandler(_ context: RequestContext, connection: OpaquePointer) -> MHD_Result {
        let response = context.pending.withLock { p -> HTTPResponse? in
            defer { p.response = nil }
            return p.response
        }
        untrack(request: context)
        guard let response else {
            return queue(APIError.internalError.response, context, connection)
        }
        return queue(response, context, connection)
    }

    private func run(_ body: () throws -> HTTPResponse) -> HTTPResponse {
        do { return try body() } catch { return ServerCore.errorResponse(error, log: log, requestID: "") }
    }

    static func errorResponse(_ error: any Error, log: Log, requestID: String) -> HTTPResponse {
        if let apiError = error as? APIError { return apiError.response }
        // Unexpected errors are logged with detail and answered without it (api.md §2).
        log.error("handler failed", [("request_id", .string(requestID)), ("error", .string(String(describing: error)))])
        return APIError.internalError.response
    }

    private func buildRequest(_ context: RequestContext, connection: OpaquePointer,
                              parameters: [String: String]) -> Result<HTTPRequest, APIError> {
        var query: [(name: String, value: String)] = []
        for (rawName, rawValue) in collectPairs(connection, kind: .GET_ARGUMENT_KIND) {
            guard let name = PercentDecoding.decode(rawName.utf8, plusIsSpace: true),
                  let value = PercentDecoding.decode(rawValue.utf8, plusIsSpace: true) else {
                return .failure(.badRequest("malformed query string: bad percent-encoding or invalid UTF-8"))
            }
            query.append((name, value))
        }
        return .success(HTTPRequest(method: context.method, rawPath: context.rawPath, pathParameters: parameters,
                                    query: query, headers: context.headers, body: context.body,
                                    requestID: context.requestID, remoteAddress: context.remoteAddress,
                                    maxBodyBytes: context.maxBodyBytes))
    }

    /// Turns a response into libmicrohttpd's and queues it.
    func queue(_ response: HTTPResponse, _ context: RequestContext, _ connection: OpaquePointer) -> MHD_Result {
        let mhdResponse: OpaquePointer?
        var stream: ResponseStream?
        var producer: (@Sendable (StreamWriter) async -> Void)?
        switch response.body {
        case .empty:
            mhdResponse = MHD_create_response_from_buffer(0, nil, .RESPMEM_PERSISTENT)
        case .bytes(let bytes):
            mhdResponse = bytes.withUnsafeBytes { raw in
                MHD_create_response_from_buffer(raw.count, UnsafeMutableRawPointer(mutating: raw.baseAddress), .RESPMEM_MUST_COPY)
            }
        case .malloced(let buffer):
            let count = buffer.count
            mhdResponse = MHD_create_response_from_buffer(count, buffer.take(), .RESPMEM_MUST_FREE)
        case .stream(let spec):
            let created = ResponseStream(capacity: config.streamBufferCap, shutdownTrailer: spec.shutdownTrailer, owner: self)
            created.attach(connection: connection)
            stream = created
            producer = spec.producer
            mhdResponse = MHD_create_response_from_callback(UInt64.max, 16 << 10, MHDCallbacks.streamRead,
                                                            Unmanaged.passRetained(created).toOpaque(),
                                                            MHDCallbacks.streamFree)
        }
        guard let mhdResponse else { return .NO }
        for (name, value) in response.headers { _ = MHD_add_response_header(mhdResponse, name, value) }
        _ = MHD_add_response_header(mhdResponse, "X-Request-ID", context.requestID)
        if let origin = context.corsOrigin {
            _ = MHD_add_response_header(mhdResponse, "Access-Control-Allow-Origin", origin)
            _ = MHD_add_response_header(mhdResponse, "Access-Control-Expose-Headers", CORSPolicy.exposed)
            _ = MHD_add_response_header(mhdResponse, "Vary", "Origin")
        }
        context.status = response.status
        context.responded = true
        let queued = MHD_queue_response(connection, UInt32(response.status), mhdResponse)
        MHD_destroy_response(mhdResponse)
        if let stream, let producer {
            context.stream = stream
            startProducer(stream, producer)
        }
        return queued
    }

    private func startProducer(_ stream: ResponseStream, _ producer: @escaping @Sendable (StreamWriter) async -> Void) {
        stats.streamsOpen.add(1, ordering: .relaxed)
        track(stream: stream)
        if isShuttingDown { stream.finishForShutdown() }
        let task = Task {
            await producer(StreamWriter(stream: stream))
            stream.finish()
        }
        stream.setProducer(task)
    }

    func streamReleased(_ stream: ResponseStream) {
        stream.released()
        untrack(stream: stream)
        stats.streamsOpen.subtract(1, ordering: .relaxed)
    }

    func completed(_ context: RequestContext, termination: MHD_RequestTerminationCode) {
        untrack(request: context)
        stats.inFlight.subtract(1, ordering: .relaxed)
        let elapsedMs = Double(monotonicNanos() - context.startNanos) / 1e6
        let status = context.responded ? context.status : 499
        stats.record(routeIndex: context.routeIndex, method: context.method, status: status, durationMs: elapsedMs)
        if log.enabled(.info) {
            var fields: [(String, Log.Field)] = [
                ("request_id", .string(context.requestID)), ("method", .string(context.method)),
                ("path", .string(context.rawPath)), ("route", .string(context.routeTemplate)),
                ("status", .int(status)), ("duration_ms", .double((elapsedMs * 1000).rounded() / 1000)),
                ("remote", .string(context.remoteAddress)),
            ]
            if termination != .REQUEST_TERMINATED_COMPLETED_OK {
                fields.append(("termination", .int(Int(termination.rawValue))))
            }
            log.info("request", fields)
        }
    }

    // MARK: suspended connections

    private func track(stream: ResponseStream) {
        suspendable.withLock { $0.streams[ObjectIdentifier(stream)] = stream }
    }
    private func untrack(stream: ResponseStream) {
        suspendable.withLock { _ = $0.streams.removeValue(forKey: ObjectIdentifier(stream)) }
    }
    private func track(request: RequestContext) {
        suspendable.withLock { $0.requests[ObjectIdentifier(request)] = request }
    }
    private func untrack(request: RequestContext) {
        suspendable.withLock { _ = $0.requests.removeValue(forKey: ObjectIdentifier(request)) }
    }

    func beginShutdown() {
        shuttingDown.store(true, ordering: .releasing)
        let streams = suspendable.withLock { Array($0.streams.values) }
        for stream in streams { stream.finishForShutdown() }
    }

    /// Answers every async request still running with 503, so its connection resumes.
    func forceCompleteSuspended() {
        let (requests, streams) = suspendable.withLock { (Array($0.requests.values), Array($0.streams.values)) }
        for request in requests {
            request.pending.withLock { $0.task }?.cancel()
            request.complete(with: APIError.unavailable("server is shutting down").response)
        }
        for stream in streams { stream.finishForShutdown() }
    }

    func hasSuspended() -> Bool {
        suspendable.withLock { s in
            !s.requests.isEmpty || s.streams.values.contains { $0.suspendedSocket() >= 0 }
        }
    }

    func checkSuspendedConnections() {
        let (requests, streams) = suspendable.withLock { (Array($0.requests.values), Array($0.streams.values)) }
        for stream in streams where peerHasGone(stream.suspendedSocket()) {
            stream.clientGone()
        }
        for request in requests {
            let gone = request.pending.withLock { p -> Bool in
                guard p.running, let connection = OpaquePointer(bitPattern: p.connectionBits) else { return false }
                return peerHasGone(stacy_mhd_connection_fd(connection))
            }
            // The handler sees the cancellation (a running exec is killed); its answer, when it
            // comes, resumes the connection and libmicrohttpd then finds the socket closed.
            if gone { request.pending.withLock { $0.task }?.cancel() }
        }
    }

    // MARK: C helpers

    private func collectHeaders(_ connection: OpaquePointer, kind: MHD_ValueKind) -> HTTPHeaders {
        var headers = HTTPHeaders()
        for (name, value) in collectPairs(connection, kind: kind) { headers.append(name: name, value: value) }
        return headers
    }

    private func collectPairs(_ connection: OpaquePointer, kind: MHD_ValueKind) -> [(String, String)] {
        let box = PairBox()
        let boxPointer = Unmanaged.passUnretained(box).toOpaque()
        _ = MHD_get_connection_values(connection, kind, MHDCallbacks.collectPair, boxPointer)
        return withExtendedLifetime(box) { box.pairs }
    }

    private func clientAddress(_ connection: OpaquePointer) -> String {
        guard let address = stacy_mhd_client_addr(connection) else { return "" }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        switch Int32(address.pointee.sa_family) {
        case AF_INET:
            return address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { v4 in
                var ip = v4.pointee.sin_addr
                inet_ntop(AF_INET, &ip, &text, socklen_t(text.count))
                return String(cString: text)
            }
        case AF_INET6:
            return address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { v6 in
                var ip = v6.pointee.sin6_addr
                inet_ntop(AF_INET6, &ip, &text, socklen_t(text.count))
                return String(cString: text)
            }
        default:
            return ""
        }
    }
}

/// Collects key/value pairs from libmicrohttpd's iterator; lives only for one call.
final class PairBox {
    var pairs: [(String, String)] = []
}
