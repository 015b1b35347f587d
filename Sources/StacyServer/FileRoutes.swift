import StacyAPI
import StacyHTTP
import StacyOrchestrator

/// api.md §9: files, JSON and raw bytes.
enum FileRoutes {
    static let read = RouteInfo(method: "GET", path: "/api/v1/sandboxes/{id}/files", operationID: "readFile", scope: "read:*")
    static let write = RouteInfo(method: "POST", path: "/api/v1/sandboxes/{id}/files", operationID: "writeFile", scope: "api:*")
    static let upload = RouteInfo(method: "PUT", path: "/api/v1/sandboxes/{id}/files", operationID: "uploadFile", scope: "api:*")
    static let delete = RouteInfo(method: "DELETE", path: "/api/v1/sandboxes/{id}/files", operationID: "deleteFile", scope: "api:*")
    static let list = RouteInfo(method: "GET", path: "/api/v1/sandboxes/{id}/files/list", operationID: "listFiles", scope: "read:*")
    static let stat = RouteInfo(method: "GET", path: "/api/v1/sandboxes/{id}/files/stat", operationID: "statFile", scope: "read:*")
    static let glob = RouteInfo(method: "GET", path: "/api/v1/sandboxes/{id}/files/glob", operationID: "globFiles", scope: "read:*")
    static let move = RouteInfo(method: "POST", path: "/api/v1/sandboxes/{id}/files/move", operationID: "moveFile", scope: "api:*")
    static let chmod = RouteInfo(method: "POST", path: "/api/v1/sandboxes/{id}/files/chmod", operationID: "chmodFile", scope: "api:*")

    static let all = [read, write, upload, delete, list, stat, glob, move, chmod]

    static func routes(_ manager: SandboxManager, auth: Authenticator) -> [Route] {
        let maxFile = manager.settings.maxFileBytes
        return [
            Route(read, handler: .async { request in
                let caller = try auth.authorize(request, read, sandboxIn: manager)
                switch try await manager.readFile(request.pathParameter("id"), path: request.queryValue("path"),
                                                  encoding: request.queryValue("encoding"), principal: caller) {
                case .raw(let bytes):
                    return HTTPResponse(status: 200, headers: [("Content-Type", "application/octet-stream")], body: .bytes(bytes))
                case .base64(let content):
                    return .json(content)
                }
            }),
            // JSON writes carry base64, so their limit is 4/3 of the file limit plus room for
            // the other fields (api.md §1).
            Route(write, maxBodyBytes: maxFile / 3 * 4 + (64 << 10), handler: .async { request in
                let caller = try auth.authorize(request, write, sandboxIn: manager)
                try await manager.writeFile(request.pathParameter("id"), request.decodeJSON(WriteFileRequest.self), principal: caller)
                return .json(StatusMessage(status: "written"))
            }),
            Route(upload, maxBodyBytes: maxFile, handler: .async { request in
                let caller = try auth.authorize(request, upload, sandboxIn: manager)
                let size = try await manager.uploadFile(request.pathParameter("id"), path: request.queryValue("path"),
                                                        mode: request.queryValue("mode"), bytes: request.body, principal: caller)
                return .json(StatusMessage(status: "written", size: size))
            }),
            Route(delete, handler: .async { request in
                let caller = try auth.authorize(request, delete, sandboxIn: manager)
                try await manager.deleteFile(request.pathParameter("id"), path: request.queryValue("path"),
                                             recursive: SandboxRoutes.flag(request.queryValue("recursive")), principal: caller)
                return .json(StatusMessage(status: "deleted"))
            }),
            Route(list, handler: .async { request in
                let caller = try auth.authorize(request, list, sandboxIn: manager)
                return .json(try await manager.listFiles(request.pathParameter("id"), path: request.queryValue("path"), principal: caller))
            }),
            Route(stat, handler: .async { request in
                let caller = try auth.authorize(request, stat, sandboxIn: manager)
                return .json(try await manager.statFile(request.pathParameter("id"), path: request.queryValue("path"), principal: caller))
            }),
            Route(glob, handler: .async { request in
                let caller = try auth.authorize(request, glob, sandboxIn: manager)
                return .json(try await manager.globFiles(request.pathParameter("id"), pattern: request.queryValue("pattern"), principal: caller))
            }),
            Route(move, handler: .async { request in
                let caller = try auth.authorize(request, move, sandboxIn: manager)
                try await manager.moveFile(request.pathParameter("id"), request.decodeJSON(MoveFileRequest.self), principal: caller)
                return .json(StatusMessage(status: "moved"))
            }),
            Route(chmod, handler: .async { request in
                let caller = try auth.authorize(request, chmod, sandboxIn: manager)
                try await manager.chmodFile(request.pathParameter("id"), request.decodeJSON(ChmodRequest.self), principal: caller)
                return .json(StatusMessage(status: "chmod applied"))
            }),
        ]
    }
}
