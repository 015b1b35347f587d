import Foundation
import StacyAPI
import StacyConfig
import StacyHTTP
import StacyStore

/// Per-worker secrets (api.md §8.8): issued once, stored as SHA-256, listed without the secret,
/// expirable and revocable.
public struct WorkerCredentials: Sendable {
    private let store: any Store
    private let key: ControlPlaneSigningKey
    private let auth: WorkerAuthenticator

    public init(store: any Store, key: ControlPlaneSigningKey, auth: WorkerAuthenticator) {
        self.store = store
        self.key = key
        self.auth = auth
    }

    public func issue(workerID: String, _ request: WorkerCredentialRequest) throws(APIError) -> WorkerCredential {
        try Self.requireRemoteWorkerID(workerID)
        let kind = request.kind ?? "secret"
        guard kind == "secret" else {
            throw APIError.badRequest(kind == "ed25519" ? "ed25519 worker credentials are not supported yet; use kind \"secret\""
                                                          : "kind must be \"secret\"")
        }
        let scopes = try Self.scopes(request.scopes)
        let expiresAt = try expiry(request.ttl, maxMs: nil)
        let description = request.description ?? ""
        guard description.utf8.count <= 256 else { throw APIError.badRequest("description must be at most 256 bytes") }
        let (id, token) = IssuedSecret.make(prefix: WorkerAuthenticator.secretPrefix)
        let record = try storeCall {
            try store.insertWorkerCredential(WorkerCredentialRecord(
                id: id, workerID: workerID, secretSHA256: SHA256.hex(Array(token.utf8)), scopes: scopes,
                description: description, expiresAt: expiresAt))
        }
        auth.credentialsChanged()
        var view = Self.view(record)
        view.token = token
        view.controlPlanePublicKey = key.publicKeyText
        view.controlPlaneKeyID = key.keyID
        return view
    }

    /// `POST /admin/worker-tokens`: an expiring secret credential (default 15 m, at most 24 h).
    public func issueToken(_ request: WorkerTokenRequest) throws(APIError) -> WorkerTokenResponse {
        guard let workerID = request.workerID else { throw APIError.badRequest("worker_id is required") }
        if let audience = request.audience, audience != "worker" {
            throw APIError.badRequest(audience == "worker:rpc" ? "only the control plane signs worker:rpc tokens"
                                                                 : "audience must be \"worker\" when given")
        }
        let ttl = request.ttl ?? "15m"
        let expiresAt = try expiry(ttl, maxMs: 86_400_000)
        guard let expiresAt else { throw APIError.badRequest("ttl must be positive") }
        let credential = try issue(workerID: workerID, WorkerCredentialRequest(scopes: request.scopes, ttl: ttl,
                                                                             description: "worker token"))
        return WorkerTokenResponse(token: credential.token ?? "", workerID: workerID,
                                   expiresAt: Log.timestamp(unixMillis: expiresAt))
    }

    public func list(workerID: String) throws(APIError) -> [WorkerCredential] {
        try storeCall { try store.listWorkerCredentials(workerID: workerID) }.map(Self.view)
    }

    public func update(workerID: String, credentialID: String, _ request: WorkerCredentialUpdate) throws(APIError) -> WorkerCredential {
        guard let ttl = request.ttl else { throw APIError.badRequest("ttl is required (\"0s\" removes the expiry)") }
        let expiresAt = try expiry(ttl, maxMs: nil)
        let record = try storeCall(notFound: "credential not found") {
            try store.setWorkerCredentialExpiry(id: credentialID, workerID: workerID, expiresAt: expiresAt)
        }
        auth.credentialsChanged()
        return Self.view(record)
    }

    public func revoke(workerID: String, credentialID: String) throws(APIError) {
        let revoked = try storeCall { try store.revokeWorkerCredential(id: credentialID, workerID: workerID) }
        guard revoked else {
            let existing = try storeCall { try store.getWorkerCredential(id: credentialID) }
            // Revoking twice is not an error; an unknown credential (or another worker's) is.
            guard let existing, existing.workerID == workerID else { throw APIError.notFound("credential not found") }
            return
        }
        auth.credentialsChanged()
    }

    // MARK: helpers

    /// `ttl` absent or `"0s"` = no expiry; otherwise database now + ttl, at most `maxMs`.
    private func expiry(_ ttl: String?, maxMs: Int64?) throws(APIError) -> Int64? {
        guard let ttl else { return nil }
        let duration: GoDuration
        do { duration = try GoDuration.parse(ttl) } catch { throw APIError.badRequest("ttl: invalid duration \"\(ttl)\"") }
        guard duration.nanoseconds >= 0 else { throw APIError.badRequest("ttl must not be negative") }
        if duration.nanoseconds == 0 { return nil }
        let millis = duration.nanoseconds / 1_000_000
        if let maxMs, millis > maxMs { throw APIError.badRequest("ttl must be at most \(GoDuration(nanoseconds: maxMs * 1_000_000))") }
        return try storeCall { try store.now() } + millis
    }

    static func scopes(_ requested: [String]?) throws(APIError) -> [String] {
        guard let requested else { return WorkerScopes.all }
        for scope in requested where !WorkerScopes.all.contains(scope) {
            throw APIError.badRequest("unknown worker scope \"\(scope)\" (expected some of \(WorkerScopes.all.joined(separator: ", ")))")
        }
        var seen = Set<String>()
        return requested.filter { seen.insert($0).inserted }
    }

    static func requireRemoteWorkerID(_ workerID: String) throws(APIError) {
        guard HeartbeatValidation.isWorkerID(workerID) else { throw APIError.badRequest("invalid worker ID \"\(workerID)\"") }
        guard !workerID.lowercased().hasPrefix("local") else {
            throw APIError.badRequest("worker IDs starting with \"local\" belong to embedded workers")
        }
    }

    static func view(_ record: WorkerCredentialRecord) -> WorkerCredential {
        WorkerCredential(id: record.id, workerID: record.workerID, kind: record.kind, scopes: record.scopes,
                         description: record.description, createdAt: Log.timestamp(unixMillis: record.createdAt),
                         expiresAt: record.expiresAt.map { Log.timestamp(unixMillis: $0) },
                         revokedAt: record.revokedAt.map { Log.timestamp(unixMillis: $0) },
                         lastUsedAt: record.lastUsedAt.map { Log.timestamp(unixMillis: $0) })
    }
}

/// Lease reads and renewals of the control plane (workers.md §5, api.md §8.4).
public struct LeaseService: Sendable {
    private let store: any Store
    private let graceMs: Int64

    public init(store: any Store, settings: WorkerSettings) {
        self.store = store
        self.graceMs = settings.leaseGraceMs
    }

    /// workers.md §5: renews only for the holder (nil = the admin repair route), with a matching
    /// generation when given, while unexpired; never past the sandbox's expiry + `leases.grace`.
    public func renew(resourceID: String, holderID: String?, _ request: LeaseRenewRequest) throws(APIError) -> LeaseRenewResponse {
        var ttlMs: Int64?
        if let text = request.ttl {
            guard let ttl = try? GoDuration.parse(text), ttl.nanoseconds > 0 else {
                throw APIError.badRequest("ttl must be a positive duration, got \"\(text)\"")
            }
            ttlMs = ttl.nanoseconds / 1_000_000
        }
        if let generation = request.generation, generation < 1 { throw APIError.badRequest("generation must be at least 1") }
        guard let lease = try storeCall({ try store.getLease(resourceID: resourceID) }) else {
            throw APIError.notFound("lease not found")
        }
        var capAt: Int64?
        if lease.resourceType == "sandbox" {
            guard let sandbox = try storeCall({ try store.getSandbox(resourceID) }),
                  sandbox.state != "destroyed", sandbox.state != "expired", let expiresAt = sandbox.expiresAt else {
                throw APIError(status: 409, code: "CONFLICT", message: "sandbox \(resourceID) is no longer live")
            }
            capAt = expiresAt + graceMs
        } else if ttlMs == nil {
            throw APIError.badRequest("ttl is required for a \(lease.resourceType) lease")
        }
        let renewed = try storeCall(notFound: "lease not found") {
            try store.renewLease(resourceID: resourceID, holderID: holderID, generation: request.generation,
                                 ttlMs: ttlMs, capAt: capAt)
        }
        return LeaseRenewResponse(lease: LeaseToken(resourceID: renewed.resourceID, holderID: renewed.holderID,
                                                    generation: renewed.generation,
                                                    expiresAt: Log.timestamp(unixMillis: renewed.expiresAt)))
    }

    public func list(holderID: String?, resourceType: String?, limit: Int, after: String?) throws(APIError) -> [LeaseInfo] {
        if let resourceType, !["sandbox", "leader"].contains(resourceType) {
            throw APIError.badRequest("resource_type must be sandbox or leader")
        }
        return try storeCall {
            try store.listLeases(holderID: holderID, resourceType: resourceType, limit: limit, afterResourceID: after)
        }.map {
            LeaseInfo(resourceID: $0.resourceID, resourceType: $0.resourceType, holderID: $0.holderID,
                      holderEpoch: $0.holderEpoch, generation: $0.generation,
                      expiresAt: Log.timestamp(unixMillis: $0.expiresAt), createdAt: Log.timestamp(unixMillis: $0.createdAt),
                      updatedAt: Log.timestamp(unixMillis: $0.updatedAt))
        }
    }
}
