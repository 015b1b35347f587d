import StacyAPI
import StacyHTTP
import StacyJSON
import StacyConfig
import StacyOrchestrator
import StacyProviders
import StacyStore

extension Authenticator {
    /// The caller, checked against the route's scope (api.md §4).
    func authorize(_ request: HTTPRequest, _ route: RouteInfo) throws(APIError) -> Principal {
        let caller = try authenticate(request)
        try caller.require(route.scope)
        return caller
    }

    /// As `authorize`, and the `{id}` sandbox must be one the caller may see: checked before the
    /// body or query is validated, so a sandbox of someone else is always 404, never 400.
    func authorize(_ request: HTTPRequest, _ route: RouteInfo, sandboxIn manager: SandboxManager) throws(APIError) -> Principal {
        let caller = try authorize(request, route)
        try manager.requireLive(request.pathParameter("id"), principal: caller)
        return caller
    }
}

/// api.md §5: sandbox lifecycle routes.
enum SandboxRoutes {
    static let list = RouteInfo(method: "GET", path: "/api/v1/sandboxes", operationID: "listSandboxes", scope: "read:*")
    static let create = RouteInfo(method: "POST", path: "/api/v1/sandboxes", operationID: "createSandbox", scope: "api:*")
    static let prune = RouteInfo(method: "DELETE", path: "/api/v1/sandboxes", operationID: "pruneSandboxes", scope: "api:*")
    static let get = RouteInfo(method: "GET", path: "/api/v1/sandboxes/{id}", operationID: "getSandbox", scope: "read:*")
    static let destroy = RouteInfo(method: "DELETE", path: "/api/v1/sandboxes/{id}", operationID: "destroySandbox", scope: "api:*")
    static let extend = RouteInfo(method: "POST", path: "/api/v1/sandboxes/{id}/extend", operationID: "extendSandbox", scope: "api:*")
    static let stats = RouteInfo(method: "GET", path: "/api/v1/sandboxes/{id}/stats", operationID: "getSandboxStats", scope: "read:*")
    static let logs = RouteInfo(method: "GET", path: "/api/v1/sandboxes/{id}/logs", operationID: "getSandboxLogs", scope: "read:*")
    static let pool = RouteInfo(method: "GET", path: "/api/v1/pool/status", operationID: "getPoolStatus", scope: "read:*")

    static let all = [list, create, prune, get, destroy, extend, stats, logs, pool]

    static func routes(_ manager: SandboxManager, auth: Authenticator, store: any Store, warnings: [String]) -> [Route] {
        [
            Route(list, handler: .sync { request in
                let caller = try auth.authorize(request, list)
                var filter = SandboxManager.ListFilter()
                filter.state = try request.queryValue("state")
                filter.provider = try request.queryValue("provider")
                filter.workerID = try request.queryValue("worker_id")
                filter.template = try request.queryValue("template")
                filter.ownerID = try request.queryValue("owner_id")
                filter.includeDestroyed = try flag(request.queryValue("include_destroyed"))
                if let paging = try Paging.parse(request) {
                    let (sandboxes, more) = try manager.list(filter, principal: caller, limit: paging.limit, afterID: paging.after)
                    return paging.page(sandboxes, more: more, key: \.id)
                }
                let (sandboxes, truncated) = try manager.list(filter, principal: caller)
                var response = HTTPResponse.json(sandboxes)
                if truncated { response.headers.append(("X-Stacyvm-Truncated", "true")) }
                return response
            }),
            Route(create, handler: .async { request in
                let caller = try auth.authorize(request, create)
                let body = try request.decodeJSON(SpawnRequest.self)
                var response = try await Idempotency.run(request, principal: caller, store: store,
                                                         deadline: manager.settings.spawnDeadline) {
                    HTTPResponse.json(try await manager.spawn(body, principal: caller), status: 201)
                }
                // runtime.md §2.3: a spawn on the mock default says loudly that nothing is isolated.
                for warning in warnings { response.headers.append(("Warning", "199 stacyvm \"\(warning)\"")) }
                return response
            }),
            Route(prune, handler: .async { request in
                let caller = try auth.authorize(request, prune)
                return .json(PruneResult(pruned: try await manager.prune(principal: caller)))
            }),
            // No body or query to validate, so the read itself gives the 404: one lookup, not two.
            Route(get, handler: .sync { request in
                let caller = try auth.authorize(request, get)
                return .json(try manager.get(request.pathParameter("id"), principal: caller))
            }),
            Route(destroy, handler: .async { request in
                let caller = try auth.authorize(request, destroy)
                try await manager.destroy(request.pathParameter("id"), principal: caller)
                return .json(StatusMessage(status: "destroyed"))
            }),
            Route(extend, handler: .sync { request in
                let caller = try auth.authorize(request, extend, sandboxIn: manager)
                let body = try request.decodeJSON(ExtendRequest.self)
                return .json(try manager.extend(request.pathParameter("id"), body, principal: caller))
            }),
            Route(stats, handler: .async { request in
                let caller = try auth.authorize(request, stats, sandboxIn: manager)
                return .json(try await manager.stats(request.pathParameter("id"), principal: caller))
            }),
            Route(logs, handler: .async { request in
                let caller = try auth.authorize(request, logs, sandboxIn: manager)
                let raw = try request.queryValue("lines") ?? "100"
                guard let lines = Int(raw) else { throw APIError.badRequest("lines must be an integer") }
                if flag(try request.queryValue("follow")) {
                    return try await followLogs(manager, request.pathParameter("id"), lines: lines, principal: caller)
                }
                return .json(try await manager.logs(request.pathParameter("id"), lines: lines, principal: caller))
            }),
            Route(pool, handler: .sync { request in
                _ = try auth.authorize(request, pool)
                return .json(PoolStatus(enabled: false))
            }),
        ]
    }

    /// api.md §10 `follow=true`: NDJSON console lines, keep-alive blank lines when idle, and an
    /// exit frame once the sandbox is destroyed.
    private static func followLogs(_ manager: SandboxManager, _ id: String, lines: Int,
                                   principal: Principal) async throws(APIError) -> HTTPResponse {
        let follow = try await manager.followLogs(id, lines: lines, principal: principal)
        let keepalive = UInt64(manager.settings.streamKeepalive.nanoseconds)
        let started = monotonicNanos()
        return .stream(contentType: "application/x-ndjson",
                       shutdownTrailer: NDJSON.line(ExecExitFrame(exitCode: -1, duration: "0s",
                                                                  error: ErrorEnvelope(code: "UNAVAILABLE", message: "server shutting down")))) { writer in
            let pinger = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(nanoseconds: keepalive)
                    guard await writer.write([UInt8(ascii: "\n")]) else { return }
                }
            }
            defer { pinger.cancel() }
            for await event in follow {
                switch event {
                case .line(let text):
                    guard await writer.write(NDJSON.line(ExecOutputFrame(stream: "console", data: text))) else { return }
                case .ended:
                    let elapsed = GoDuration(nanoseconds: Int64(monotonicNanos() - started))
                    await writer.write(NDJSON.line(ExecExitFrame(exitCode: 0, duration: elapsed.description)))
                    return
                }
            }
        }
    }

    /// `true` or `1` (api.md §9's `recursive`, and boolean query flags generally).
    static func flag(_ raw: String?) -> Bool { raw == "true" || raw == "1" }
}
