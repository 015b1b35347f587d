import Foundation
import StacyAPI
import StacyConfig
import StacyHTTP
import StacyJSON
import StacyOrchestrator
import StacyStore

/// api.md §8.9: API keys, hashed at rest and shown once.
enum AdminRoutes {
    static let listKeys = RouteInfo(method: "GET", path: "/api/v1/admin/api-keys", operationID: "listAPIKeys", scope: "admin:*")
    static let createKey = RouteInfo(method: "POST", path: "/api/v1/admin/api-keys", operationID: "createAPIKey", scope: "admin:*")
    static let revokeKey = RouteInfo(method: "DELETE", path: "/api/v1/admin/api-keys/{keyID}", operationID: "revokeAPIKey", scope: "admin:*")
    static let all = [listKeys, createKey, revokeKey]

    struct CreateRequest: Decodable {
        var role: String?
        var tenantID: String?
        var ownerID: String?
        var description: String?
        var expiresIn: String?
        enum CodingKeys: String, CodingKey {
            case role
            case tenantID = "tenant_id"
            case ownerID = "owner_id"
            case description
            case expiresIn = "expires_in"
        }
    }

    struct KeyView: Encodable {
        var id: String
        var key: String?
        var role: String
        var tenantID: String?
        var ownerID: String?
        var description: String
        var createdAt: String
        var expiresAt: String?
        var revokedAt: String?
        var lastUsedAt: String?
        enum CodingKeys: String, CodingKey {
            case id, key, role
            case tenantID = "tenant_id"
            case ownerID = "owner_id"
            case description
            case createdAt = "created_at"
            case expiresAt = "expires_at"
            case revokedAt = "revoked_at"
            case lastUsedAt = "last_used_at"
        }

        init(_ record: APIKeyRecord, key: String? = nil) {
            id = record.id
            self.key = key
            role = record.role
            tenantID = record.tenantID
            ownerID = record.ownerID
            description = record.description
            createdAt = Log.timestamp(unixMillis: record.createdAt)
            expiresAt = record.expiresAt.map { Log.timestamp(unixMillis: $0) }
            revokedAt = record.revokedAt.map { Log.timestamp(unixMillis: $0) }
            lastUsedAt = record.lastUsedAt.map { Log.timestamp(unixMillis: $0) }
        }
    }

    static func routes(store: any Store, auth: Authenticator) -> [Route] {
        [
            Route(listKeys, handler: .sync { request in
                let caller = try auth.authorize(request, listKeys)
                let keys = try storeCall { try store.listAPIKeys(tenantID: caller.isGlobalAdmin ? nil : caller.tenantID) }
                return .json(keys.map { KeyView($0) })
            }),
            Route(createKey, handler: .sync { request in
                _ = try auth.authorize(request, createKey)
                let body = try request.decodeJSON(CreateRequest.self)
                guard let roleName = body.role, Principal.Role(rawValue: roleName) != nil else {
                    throw APIError.badRequest("role must be one of viewer, api, operator, tenant_admin, admin")
                }
                let owner = try body.ownerID.map { (raw) throws(APIError) in try Validate.ownerID(raw) }
                var expiresAt: Int64?
                if let raw = body.expiresIn {
                    let ttl: GoDuration
                    do { ttl = try GoDuration.parse(raw) } catch let error as ConfigError { throw APIError.badRequest("expires_in: \(error.message)") }
                    guard ttl.nanoseconds > 0 else { throw APIError.badRequest("expires_in must be positive") }
                    expiresAt = try storeCall { try store.now() } + ttl.nanoseconds / 1_000_000
                }
                let (id, secret) = IssuedSecret.make(prefix: "svmk_")
                let record = try storeCall {
                    try store.insertAPIKey(APIKeyRecord(id: id, keySHA256: SHA256.hex(secret), role: roleName,
                                                        tenantID: body.tenantID, ownerID: owner,
                                                        description: body.description ?? "", expiresAt: expiresAt))
                }
                auth.keysChanged()
                return .json(KeyView(record, key: secret), status: 201)
            }),
            Route(revokeKey, handler: .sync { request in
                _ = try auth.authorize(request, revokeKey)
                guard try storeCall({ try store.revokeAPIKey(id: request.pathParameter("keyID")) }) else {
                    throw APIError.notFound("API key not found")
                }
                auth.keysChanged()
                return .json(StatusMessage(status: "revoked"))
            }),
        ]
    }

    static func storeCall<T>(_ body: () throws -> T) throws(APIError) -> T {
        do { return try body() } catch let error as StoreError {
            if case .conflict = error { throw APIError(status: 409, code: "CONFLICT", message: error.message) }
            throw APIError.internalError
        } catch {
            throw APIError.internalError
        }
    }
}
