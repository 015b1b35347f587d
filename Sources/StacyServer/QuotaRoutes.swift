import StacyAPI
import StacyHTTP
import StacyOrchestrator

/// api.md §5.3 admission and §8.2 quotas.
enum QuotaRoutes {
    static let admission = RouteInfo(method: "POST", path: "/api/v1/sandboxes/admission", operationID: "checkAdmission", scope: "read:*")
    static let list = RouteInfo(method: "GET", path: "/api/v1/quotas", operationID: "listQuotas", scope: "operator:*")
    static let summary = RouteInfo(method: "GET", path: "/api/v1/quotas/summary", operationID: "getQuotaSummary", scope: "read:*")
    static let get = RouteInfo(method: "GET", path: "/api/v1/quotas/{ownerID}", operationID: "getQuota", scope: "read:*",
                               authRule: "own_owner")
    static let usage = RouteInfo(method: "GET", path: "/api/v1/quotas/{ownerID}/usage", operationID: "getQuotaUsage",
                                 scope: "read:*", authRule: "own_owner")
    static let put = RouteInfo(method: "PUT", path: "/api/v1/quotas/{ownerID}", operationID: "putQuota", scope: "admin:*")
    static let delete = RouteInfo(method: "DELETE", path: "/api/v1/quotas/{ownerID}", operationID: "deleteQuota", scope: "admin:*")
    static let all = [admission, list, summary, get, usage, put, delete]

    /// `own_owner` (api.md §4): R for the caller's own owner, else O.
    private static func authorizeOwner(_ request: HTTPRequest, _ route: RouteInfo, _ auth: Authenticator) throws(APIError) -> Principal {
        let caller = try auth.authorize(request, route)
        if request.pathParameter("ownerID") != caller.ownerID { try caller.require("operator:*") }
        return caller
    }

    static func routes(_ manager: SandboxManager, auth: Authenticator) -> [Route] {
        [
            Route(admission, handler: .sync { request in
                let caller = try auth.authorize(request, admission)
                return .json(try manager.admission(request.decodeJSON(SpawnRequest.self), principal: caller).wire)
            }),
            Route(list, handler: .sync { request in
                _ = try auth.authorize(request, list)
                if let paging = try Paging.parse(request) {
                    let items = try manager.listQuotas(limit: paging.limit + 1, after: paging.after)
                    return paging.page(items, key: \.ownerID)
                }
                return .json(try manager.listQuotas(limit: 10_000, after: nil))
            }),
            Route(summary, handler: .sync { request in
                _ = try auth.authorize(request, summary)
                return .json(try manager.quotaSummary())
            }),
            Route(get, handler: .sync { request in
                _ = try authorizeOwner(request, get, auth)
                return .json(try manager.quota(request.pathParameter("ownerID")))
            }),
            Route(usage, handler: .sync { request in
                let caller = try authorizeOwner(request, usage, auth)
                return .json(try manager.quotaUsage(request.pathParameter("ownerID"), principal: caller))
            }),
            Route(put, handler: .sync { request in
                let caller = try auth.authorize(request, put)
                return .json(try manager.putQuota(request.pathParameter("ownerID"), request.decodeJSON(PutQuotaRequest.self),
                                                  principal: caller))
            }),
            Route(delete, handler: .sync { request in
                let caller = try auth.authorize(request, delete)
                try manager.deleteQuota(request.pathParameter("ownerID"), principal: caller)
                return .json(StatusMessage(status: "deleted"))
            }),
        ]
    }
}
