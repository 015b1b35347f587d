import StacyAPI
import StacyHTTP

/// The worker's inbound listener (workers.md §3.2, §7.1): public `GET /health` and `GET /ready`,
/// and `POST /rpc` for the control plane's signed calls.
public final class WorkerServer: Sendable {
    public static let health = RouteInfo(method: "GET", path: "/health", operationID: "workerHealth", scope: "public")
    public static let ready = RouteInfo(method: "GET", path: "/ready", operationID: "workerReady", scope: "public")
    /// The scope is per method and carried by the control plane's token (§7.4).
    public static let rpc = RouteInfo(method: "POST", path: "/rpc", operationID: "workerRPC", scope: "worker:rpc")
    public static let all = [health, ready, rpc]

    /// Sorted by path, then method (`stacyvm routes --worker`).
    public static func entries() -> [RouteEntry] {
        all.map { RouteEntry(method: $0.method, path: $0.path, scope: $0.scope, operationID: $0.operationID) }
            .sorted { ($0.path, $0.method) < ($1.path, $1.method) }
    }

    private let server: HTTPServer

    /// `address` is `host:port` (`:port` or `0.0.0.0:port` = every interface).
    public init(address: String, runtime: WorkerRuntime, endpoint: RPCEndpoint, log: Log) throws {
        guard let colon = address.lastIndex(of: ":"), let port = UInt16(address[address.index(after: colon)...]) else {
            throw WorkerStateError("invalid listen address \(address)")
        }
        var host = String(address[..<colon])
        if host.hasPrefix("[") { host = String(host.dropFirst().dropLast()) }
        var config = HTTPServerConfig()
        config.host = host.isEmpty ? "0.0.0.0" : host
        config.port = port
        config.threads = 1
        // Non-upload bodies are at most 2 MiB (§7.1).
        config.maxBodyBytes = 2 << 20
        config.log = log
        var router = Router()
        for route in WorkerServer.routes(runtime, endpoint) { router.add(route) }
        server = HTTPServer(config: config, router: router, stats: HTTPStats())
    }

    struct Health: Encodable {
        var status: String
        var workerID: String
        enum CodingKeys: String, CodingKey {
            case status
            case workerID = "worker_id"
        }
    }

    static func routes(_ runtime: WorkerRuntime, _ endpoint: RPCEndpoint) -> [Route] {
        [
            Route(health, handler: .sync { _ in
                .json(Health(status: runtime.draining ? "draining" : "ok", workerID: runtime.options.id))
            }),
            // Providers are initialised before the listener starts, so a listening worker is ready.
            Route(ready, handler: .sync { _ in .json(Health(status: "ready", workerID: runtime.options.id)) }),
            Route(rpc, handler: .async { request in await endpoint.handle(request) }),
        ]
    }

    public func start() throws { try server.start() }
    public var port: UInt16 { server.port }
    public func stop(timeoutSeconds: Double) { server.stop(timeoutSeconds: timeoutSeconds) }
}
