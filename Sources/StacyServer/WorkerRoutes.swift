import StacyAPI
import StacyHTTP
import StacyOrchestrator

/// The worker-facing routes (workers.md §4–5): worker credentials only, never API keys.
enum WorkerRoutes {
    static let heartbeat = RouteInfo(method: "POST", path: "/api/v1/worker/{workerID}/heartbeat",
                                     operationID: "workerHeartbeat", scope: WorkerScopes.heartbeat)
    static let renewLease = RouteInfo(method: "POST", path: "/api/v1/worker/{workerID}/leases/{resourceID}/renew",
                                      operationID: "renewWorkerLease", scope: WorkerScopes.lease)
    static let all = [heartbeat, renewLease]

    static func routes(registry: WorkerRegistry, leases: LeaseService, auth: WorkerAuthenticator) -> [Route] {
        [
            // Async: the store write and the answer run on the task pool, so the event thread only
            // parses and routes, and a second core takes the work (docs/benchmarks/workers.md).
            Route(heartbeat, handler: .async { request in
                let workerID = request.pathParameter("workerID")
                _ = try auth.authorize(request, pathWorkerID: workerID, scope: heartbeat.scope)
                return .json(try registry.heartbeat(workerID: workerID, request.decodeJSON(HeartbeatRequest.self)))
            }),
            Route(renewLease, handler: .sync { request in
                let workerID = request.pathParameter("workerID")
                _ = try auth.authorize(request, pathWorkerID: workerID, scope: renewLease.scope)
                return .json(try leases.renew(resourceID: request.pathParameter("resourceID"), holderID: workerID,
                                              request.decodeJSON(LeaseRenewRequest.self)))
            }),
        ]
    }
}

/// Operators' and admins' view of workers, leases and the control plane, and worker credentials
/// (api.md §8.4, §8.8).
enum WorkerAdminRoutes {
    static let list = RouteInfo(method: "GET", path: "/api/v1/workers", operationID: "listWorkers", scope: "operator:*")
    static let get = RouteInfo(method: "GET", path: "/api/v1/workers/{workerID}", operationID: "getWorker", scope: "operator:*")
    static let adminList = RouteInfo(method: "GET", path: "/api/v1/admin/workers", operationID: "adminListWorkers", scope: "admin:*")
    static let adminGet = RouteInfo(method: "GET", path: "/api/v1/admin/workers/{workerID}", operationID: "adminGetWorker", scope: "admin:*")
    static let listCredentials = RouteInfo(method: "GET", path: "/api/v1/admin/workers/{workerID}/credentials",
                                           operationID: "listWorkerCredentials", scope: "admin:*")
    static let createCredential = RouteInfo(method: "POST", path: "/api/v1/admin/workers/{workerID}/credentials",
                                            operationID: "createWorkerCredential", scope: "admin:*")
    static let updateCredential = RouteInfo(method: "PATCH", path: "/api/v1/admin/workers/{workerID}/credentials/{credentialID}",
                                            operationID: "updateWorkerCredential", scope: "admin:*")
    static let revokeCredential = RouteInfo(method: "DELETE", path: "/api/v1/admin/workers/{workerID}/credentials/{credentialID}",
                                            operationID: "revokeWorkerCredential", scope: "admin:*")
    static let createToken = RouteInfo(method: "POST", path: "/api/v1/admin/worker-tokens", operationID: "createWorkerToken", scope: "admin:*")
    static let adminRenewLease = RouteInfo(method: "POST", path: "/api/v1/admin/workers/{workerID}/leases/{resourceID}/renew",
                                           operationID: "adminRenewLease", scope: "admin:*")
    static let listLeases = RouteInfo(method: "GET", path: "/api/v1/admin/leases", operationID: "listLeases", scope: "admin:*")
    static let controlPlane = RouteInfo(method: "GET", path: "/api/v1/admin/control-plane", operationID: "getControlPlane", scope: "admin:*")
    static let deleteWorker = RouteInfo(method: "DELETE", path: "/api/v1/admin/workers/{workerID}", operationID: "deleteWorker", scope: "admin:*")
    static let drain = RouteInfo(method: "POST", path: "/api/v1/admin/workers/{workerID}/drain", operationID: "drainWorker", scope: "admin:*")
    static let undrain = RouteInfo(method: "POST", path: "/api/v1/admin/workers/{workerID}/undrain", operationID: "undrainWorker", scope: "admin:*")
    static let explain = RouteInfo(method: "POST", path: "/api/v1/admin/placement/explain", operationID: "explainPlacement", scope: "admin:*")
    static let all = [list, get, adminList, adminGet, listCredentials, createCredential, updateCredential, revokeCredential,
                      createToken, adminRenewLease, listLeases, controlPlane, deleteWorker, drain, undrain, explain]

    static func routes(registry: WorkerRegistry, credentials: WorkerCredentials, leases: LeaseService,
                       supervisor: WorkerSupervisor, manager: SandboxManager, placement: WorkerPlacement,
                       workerAuth: WorkerAuthenticator,
                       controlPlane view: @escaping @Sendable () throws(APIError) -> ControlPlaneView,
                       auth: Authenticator) -> [Route] {
        @Sendable func listWorkers(_ request: HTTPRequest) throws(APIError) -> HTTPResponse {
            if let paging = try Paging.parse(request) {
                return paging.page(try registry.list(limit: paging.limit + 1, after: paging.after), key: \.id)
            }
            return .json(try registry.list(limit: 100_000, after: nil))
        }
        return [
            Route(list, handler: .sync { request in
                _ = try auth.authorize(request, list)
                return try listWorkers(request)
            }),
            Route(get, handler: .sync { request in
                _ = try auth.authorize(request, get)
                return .json(try registry.get(request.pathParameter("workerID")))
            }),
            Route(adminList, handler: .sync { request in
                _ = try auth.authorize(request, adminList)
                return try listWorkers(request)
            }),
            Route(adminGet, handler: .sync { request in
                _ = try auth.authorize(request, adminGet)
                return .json(try registry.get(request.pathParameter("workerID")))
            }),
            Route(listCredentials, handler: .sync { request in
                _ = try auth.authorize(request, listCredentials)
                return .json(try credentials.list(workerID: request.pathParameter("workerID")))
            }),
            Route(createCredential, handler: .sync { request in
                _ = try auth.authorize(request, createCredential)
                let body = try request.decodeJSON(WorkerCredentialRequest.self)
                return .json(try credentials.issue(workerID: request.pathParameter("workerID"), body), status: 201)
            }),
            Route(updateCredential, handler: .sync { request in
                _ = try auth.authorize(request, updateCredential)
                let body = try request.decodeJSON(WorkerCredentialUpdate.self)
                return .json(try credentials.update(workerID: request.pathParameter("workerID"),
                                                    credentialID: request.pathParameter("credentialID"), body))
            }),
            Route(revokeCredential, handler: .sync { request in
                _ = try auth.authorize(request, revokeCredential)
                try credentials.revoke(workerID: request.pathParameter("workerID"),
                                       credentialID: request.pathParameter("credentialID"))
                return .json(StatusMessage(status: "revoked"))
            }),
            Route(createToken, handler: .sync { request in
                _ = try auth.authorize(request, createToken)
                return .json(try credentials.issueToken(request.decodeJSON(WorkerTokenRequest.self)), status: 201)
            }),
            Route(adminRenewLease, handler: .sync { request in
                _ = try auth.authorize(request, adminRenewLease)
                let body = try request.decodeJSON(LeaseRenewRequest.self)
                guard body.generation == nil else { throw APIError.badRequest("the admin renew takes only ttl") }
                return .json(try leases.renew(resourceID: request.pathParameter("resourceID"), holderID: nil, body))
            }),
            Route(listLeases, handler: .sync { request in
                _ = try auth.authorize(request, listLeases)
                let holder = try request.queryValue("holder").flatMap { $0.isEmpty ? nil : $0 }
                let type = try request.queryValue("resource_type").flatMap { $0.isEmpty ? nil : $0 }
                if let paging = try Paging.parse(request) {
                    return paging.page(try leases.list(holderID: holder, resourceType: type, limit: paging.limit + 1,
                                                       after: paging.after), key: \.resourceID)
                }
                return .json(try leases.list(holderID: holder, resourceType: type, limit: 100_000, after: nil))
            }),
            Route(controlPlane, handler: .sync { request in
                _ = try auth.authorize(request, controlPlane)
                return .json(try view())
            }),
            Route(deleteWorker, handler: .sync { request in
                _ = try auth.authorize(request, deleteWorker)
                let force = try request.queryValue("force").map { $0 == "true" || $0 == "1" } ?? false
                try supervisor.delete(workerID: request.pathParameter("workerID"), force: force)
                workerAuth.credentialsChanged()
                return .json(StatusMessage(status: "deleted"))
            }),
            Route(drain, handler: .async { request in
                _ = try auth.authorize(request, drain)
                let body = try request.decodeJSON(DrainRequest.self)
                let (worker, first) = try await supervisor.drain(workerID: request.pathParameter("workerID"), deadline: body.deadline,
                                                                 reason: body.reason, force: body.force ?? false)
                return .json(worker, status: first ? 202 : 200)
            }),
            Route(undrain, handler: .async { request in
                _ = try auth.authorize(request, undrain)
                return .json(try await supervisor.undrain(workerID: request.pathParameter("workerID")))
            }),
            Route(explain, handler: .sync { request in
                let caller = try auth.authorize(request, explain)
                let request = try manager.placementRequest(request.decodeJSON(SpawnRequest.self), principal: caller)
                let ranked = placement.explain(request)
                return .json(PlacementExplanation(
                    selectedWorkerID: ranked.first.flatMap { $0.eligible ? $0.workerID : nil },
                    candidates: ranked.map { .init(workerID: $0.workerID, eligible: $0.eligible, reason: $0.reason, score: $0.score) }))
            }),
        ]
    }
}
