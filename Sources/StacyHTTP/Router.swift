import Synchronization

/// How a handler runs. `sync` handlers answer on the server thread and must be quick (no I/O
/// that can wait); `async` handlers run in a task while the connection is suspended, so slow
/// work never holds one of libmicrohttpd's few threads.
public enum RouteHandler: Sendable {
    case sync(@Sendable (HTTPRequest) throws -> HTTPResponse)
    case async(@Sendable (HTTPRequest) async throws -> HTTPResponse)
}

/// What the route table says about a route besides its handler: the contract facts that
/// `stacyvm routes --json` prints and `scripts/check-swagger.sh` compares with the OpenAPI
/// document.
public struct RouteInfo: Sendable, Equatable {
    public let method: String
    /// OpenAPI form, `{name}` parameters.
    public let path: String
    public let operationID: String
    public let scope: String
    public let authRule: String?

    public init(method: String, path: String, operationID: String, scope: String, authRule: String? = nil) {
        self.method = method
        self.path = path
        self.operationID = operationID
        self.scope = scope
        self.authRule = authRule
    }
}

/// A class, not a struct: matches hand it around on every request, and copying a struct of
/// strings and closures retains each of them.
public final class Route: Sendable {
    public let info: RouteInfo
    public let handler: RouteHandler
    /// Body limit for this route; nil means the server's default.
    public let maxBodyBytes: Int?
    let pattern: [Segment]

    /// Position in the router's table (for per-route counters); set when added.
    public var index: Int { indexStorage.load(ordering: .relaxed) }
    private let indexStorage = Atomic<Int>(-1)

    public init(_ info: RouteInfo, maxBodyBytes: Int? = nil, handler: RouteHandler) {
        self.info = info
        self.handler = handler
        self.maxBodyBytes = maxBodyBytes
        self.pattern = Route.compile(info.path)
    }

    enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
    }

    private static func compile(_ path: String) -> [Segment] {
        path.split(separator: "/").map { piece in
            if piece.hasPrefix("{") && piece.hasSuffix("}") { return .parameter(String(piece.dropFirst().dropLast())) }
            return .literal(String(piece))
        }
    }

    fileprivate func setIndex(_ value: Int) { indexStorage.store(value, ordering: .relaxed) }

    fileprivate var isStatic: Bool { !pattern.contains { if case .parameter = $0 { return true } else { return false } } }

    fileprivate func match(_ segments: [String]) -> [String: String]? {
        guard segments.count == pattern.count else { return nil }
        var parameters: [String: String] = [:]
        for (piece, segment) in zip(pattern, segments) {
            switch piece {
            case .literal(let literal): if literal != segment { return nil }
            case .parameter(let name):
                if segment.isEmpty { return nil }
                parameters[name] = segment
            }
        }
        return parameters
    }
}

/// Method and path matching. Static paths are one dictionary lookup; parameterised paths are
/// tried in registration order.
public struct Router: Sendable {
    public enum Match: Sendable {
        case found(Route, parameters: [String: String])
        case methodNotAllowed(allowed: [String])
        case notFound
        case badPath
    }

    private var staticRoutes: [String: [Route]] = [:]
    /// Parameterised routes by segment count: a path is only tried against patterns of its length.
    private var dynamicRoutes: [Int: [Route]] = [:]
    public private(set) var routes: [Route] = []

    public init() {}

    public mutating func add(_ route: Route) {
        precondition(!routes.contains { $0.info.method == route.info.method && $0.info.path == route.info.path },
                     "duplicate route \(route.info.method) \(route.info.path)")
        route.setIndex(routes.count)
        routes.append(route)
        if route.isStatic {
            staticRoutes[Router.staticKey(route.info.path), default: []].append(route)
        } else {
            dynamicRoutes[route.pattern.count, default: []].append(route)
        }
    }

    private static func staticKey(_ path: String) -> String {
        guard path.utf8.count > 1, path.utf8.last == UInt8(ascii: "/") else { return path }
        return String(path.dropLast())
    }

    /// Finds the route for `method` and the raw (undecoded) `path`. HEAD is served by GET routes.
    public func match(method: String, path rawPath: String) -> Match {
        let lookupMethod = method == "HEAD" ? "GET" : method
        // Fast path: a path without escapes is its own decoded form.
        if !rawPath.utf8.contains(UInt8(ascii: "%")), let candidates = staticRoutes[Router.staticKey(rawPath)] {
            if let route = candidates.first(where: { $0.info.method == lookupMethod }) {
                return .found(route, parameters: [:])
            }
        }
        guard let segments = PercentDecoding.pathSegments(rawPath) else { return .badPath }
        var allowed: [String] = []
        let decodedKey = "/" + segments.joined(separator: "/")
        // A decoded segment holding "/" can never equal a static route's literal segments.
        if !segments.contains(where: { $0.contains("/") }), let candidates = staticRoutes[decodedKey] {
            if let route = candidates.first(where: { $0.info.method == lookupMethod }) {
                return .found(route, parameters: [:])
            }
            allowed += candidates.map(\.info.method)
        }
        for route in dynamicRoutes[segments.count] ?? [] {
            guard let parameters = route.match(segments) else { continue }
            if route.info.method == lookupMethod { return .found(route, parameters: parameters) }
            allowed.append(route.info.method)
        }
        return allowed.isEmpty ? .notFound : .methodNotAllowed(allowed: sortedMethods(allowed))
    }

    private func sortedMethods(_ methods: [String]) -> [String] {
        var unique = Array(Set(methods)).sorted()
        if unique.contains("GET") && !unique.contains("HEAD") { unique.append("HEAD") }
        return unique
    }
}
