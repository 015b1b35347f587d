import StacyAPI
import StacyHTTP
import StacyJSON
import StacyOrchestrator
import StacyStore

/// api.md §8.1: templates and spawn-from-template.
enum TemplateRoutes {
    static let list = RouteInfo(method: "GET", path: "/api/v1/templates", operationID: "listTemplates", scope: "read:*")
    static let create = RouteInfo(method: "POST", path: "/api/v1/templates", operationID: "createTemplate", scope: "api:*",
                                  authRule: "global_needs_operator")
    static let get = RouteInfo(method: "GET", path: "/api/v1/templates/{name}", operationID: "getTemplate", scope: "read:*")
    static let replace = RouteInfo(method: "PUT", path: "/api/v1/templates/{name}", operationID: "replaceTemplate", scope: "api:*",
                                   authRule: "global_needs_operator")
    static let delete = RouteInfo(method: "DELETE", path: "/api/v1/templates/{name}", operationID: "deleteTemplate", scope: "api:*",
                                  authRule: "global_needs_operator")
    static let spawn = RouteInfo(method: "POST", path: "/api/v1/templates/{name}/spawn", operationID: "spawnFromTemplate", scope: "api:*")
    static let all = [list, create, get, replace, delete, spawn]

    static func routes(_ manager: SandboxManager, auth: Authenticator, store: any Store, warnings: [String]) -> [Route] {
        [
            Route(list, handler: .sync { request in
                let caller = try auth.authorize(request, list)
                if let paging = try Paging.parse(request) {
                    let items = try manager.listTemplates(principal: caller, limit: paging.limit + 1, after: paging.after)
                    return paging.page(items, key: \.name)
                }
                return .json(try manager.listTemplates(principal: caller, limit: 10_000, after: nil))
            }),
            Route(create, handler: .sync { request in
                let caller = try auth.authorize(request, create)
                return .json(try manager.createTemplate(request.decodeJSON(TemplateRequest.self), principal: caller), status: 201)
            }),
            Route(get, handler: .sync { request in
                let caller = try auth.authorize(request, get)
                return .json(try manager.getTemplate(request.pathParameter("name"), principal: caller))
            }),
            Route(replace, handler: .sync { request in
                let caller = try auth.authorize(request, replace)
                return .json(try manager.replaceTemplate(request.pathParameter("name"), request.decodeJSON(TemplateRequest.self),
                                                         principal: caller))
            }),
            Route(delete, handler: .sync { request in
                let caller = try auth.authorize(request, delete)
                try manager.deleteTemplate(request.pathParameter("name"), principal: caller)
                return .json(StatusMessage(status: "deleted"))
            }),
            // The original Python SDK posts this with an empty body, which counts as {}.
            Route(spawn, handler: .async { request in
                let caller = try auth.authorize(request, spawn)
                let body = try request.decodeJSON(TemplateSpawnRequest.self)
                var response = try await Idempotency.run(request, principal: caller, store: store,
                                                         deadline: manager.settings.spawnDeadline) {
                    HTTPResponse.json(try await manager.spawnFromTemplate(request.pathParameter("name"), body, principal: caller),
                                      status: 201)
                }
                for warning in warnings { response.headers.append(("Warning", "199 stacyvm \"\(warning)\"")) }
                return response
            }),
        ]
    }
}
