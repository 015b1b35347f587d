import StacyAPI
import StacyHTTP
import StacyStore
import Synchronization

/// Who is calling a worker route (`/api/v1/worker/*`): the authenticated worker and the scopes
/// its credential carries.
public struct WorkerPrincipal: Sendable, Equatable {
    public let workerID: String
    public let scopes: Set<String>
    /// The per-worker credential used; nil for the shared `auth.worker_token`.
    public let credentialID: String?

    public func require(_ scope: String) throws(APIError) {
        guard scopes.contains(scope) else { throw APIError(status: 403, code: "FORBIDDEN", message: "missing scope \(scope)") }
    }
}

/// workers.md §3.1: `X-Worker-ID` plus a credential in `X-Worker-Token` (or `Authorization:
/// Bearer`). API keys are ignored here, so an API key alone is 401 like no credential at all.
public final class WorkerAuthenticator: Sendable {
    /// Per-worker secrets: `svmw_<16 hex credential ID>_<43 base64url characters>`.
    static let secretPrefix = "svmw_"

    private let store: any Store
    private let sharedTokenSHA256: [UInt8]?
    private let log: Log
    private let warnedSharedUse = Mutex<Set<String>>([])
    private let usage = UsageTouch()
    private let anyCredentialCache = Mutex<(exists: Bool, checkedAt: UInt64)?>(nil)
    /// Per worker: whether it ever had its own credential (so the shared token is refused), and
    /// per credential ID: the stored record. Both skip a read on every heartbeat; both are dropped
    /// whenever this control plane issues, changes or revokes a credential, and live at most 5 s.
    private let ownsCredential = Mutex<[String: (owned: Bool, checkedAt: UInt64)]>([:])
    private let credentialRecords = Mutex<[String: (record: WorkerCredentialRecord, checkedAt: UInt64)]>([:])
    private static let cacheNanos: UInt64 = 5_000_000_000

    public init(store: any Store, sharedToken: String?, log: Log) {
        self.store = store
        self.sharedTokenSHA256 = sharedToken.map { SHA256.digest(Array($0.utf8)) }
        self.log = log
        if sharedToken != nil {
            log.warn("auth.worker_token is set: any worker without its own credential can heartbeat with this shared token (staging only; issue per-worker credentials with `stacyvm token issue`)")
        }
    }

    /// Authenticates the caller, then checks that `pathWorkerID` is the caller (403) and that the
    /// credential carries `scope` (403).
    public func authorize(_ request: HTTPRequest, pathWorkerID: String, scope: String) throws(APIError) -> WorkerPrincipal {
        let principal = try authenticate(request)
        guard principal.workerID == pathWorkerID else {
            throw APIError(status: 403, code: "FORBIDDEN", message: "worker \(principal.workerID) may not act as worker \(pathWorkerID)")
        }
        try principal.require(scope)
        return principal
    }

    public func authenticate(_ request: HTTPRequest) throws(APIError) -> WorkerPrincipal {
        guard let workerID = request.header("X-Worker-ID"), !workerID.isEmpty,
              let token = presentedToken(request) else {
            try requireConfigured()
            throw APIError(status: 401, code: "UNAUTHORIZED", message: "worker routes need X-Worker-ID and X-Worker-Token")
        }
        if token.hasPrefix(Self.secretPrefix) {
            return try authenticateSecret(token, workerID: workerID)
        }
        if let shared = sharedTokenSHA256, constantTimeEqual(shared, SHA256.digest(Array(token.utf8))) {
            return try authenticateShared(workerID: workerID)
        }
        try requireConfigured()
        throw invalid
    }

    private var invalid: APIError { APIError(status: 401, code: "UNAUTHORIZED", message: "invalid or missing worker credential") }

    private func presentedToken(_ request: HTTPRequest) -> String? {
        if let token = request.header("X-Worker-Token"), !token.isEmpty { return token }
        if let authorization = request.header("Authorization"), authorization.lowercased().hasPrefix("bearer ") {
            let token = String(authorization.dropFirst(7)).trimmingCharacters(in: " ")
            return token.isEmpty ? nil : token
        }
        return nil
    }

    private func authenticateSecret(_ token: String, workerID: String) throws(APIError) -> WorkerPrincipal {
        let parts = token.dropFirst(Self.secretPrefix.count).split(separator: "_", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 16,
              let record = credentialRecord(String(parts[0])),
              record.kind == "secret", record.workerID == workerID, record.revokedAt == nil,
              let stored = record.secretSHA256.flatMap(Authenticator.decodeHex),
              constantTimeEqual(stored, SHA256.digest(Array(token.utf8))) else {
            throw invalid
        }
        if let expiresAt = record.expiresAt {
            guard let now = try? store.now(), now < expiresAt else { throw invalid }
        }
        // An unknown scope invalidates the credential; an empty list grants nothing (§3.1).
        guard record.scopes.allSatisfy(WorkerScopes.all.contains) else { throw invalid }
        usage.touch(record.id) { try? store.touchWorkerCredential(id: record.id) }
        return WorkerPrincipal(workerID: workerID, scopes: Set(record.scopes), credentialID: record.id)
    }

    /// The seed's staging flow: never for `local*` IDs, and never for a worker that has (or had)
    /// its own credential, so issuing one retires the shared token for that worker.
    private func authenticateShared(workerID: String) throws(APIError) -> WorkerPrincipal {
        guard !workerID.lowercased().hasPrefix("local") else { throw invalid }
        guard let owned = hasOwnCredential(workerID), !owned else { throw invalid }
        let first = warnedSharedUse.withLock { $0.insert(workerID).inserted }
        if first { log.warn("worker authenticated with the shared auth.worker_token", [("worker_id", .string(workerID))]) }
        return WorkerPrincipal(workerID: workerID, scopes: Set(WorkerScopes.all), credentialID: nil)
    }

    /// 503 when no worker credential of any kind exists (workers.md §4, errors).
    private func requireConfigured() throws(APIError) {
        guard sharedTokenSHA256 == nil else { return }
        let now = monotonicNanos()
        if let cached = anyCredentialCache.withLock({ $0 }), now - cached.checkedAt < 1_000_000_000 {
            if cached.exists { return }
        } else {
            let exists = ((try? store.countWorkerCredentials()) ?? 1) > 0
            anyCredentialCache.withLock { $0 = (exists, now) }
            if exists { return }
        }
        throw APIError(status: 503, code: "UNAVAILABLE", message: "worker authentication is not configured: set auth.worker_token or issue a worker credential")
    }

    /// Forget every cached answer after issuing, changing or revoking a credential.
    public func credentialsChanged() {
        anyCredentialCache.withLock { $0 = nil }
        ownsCredential.withLock { $0 = [:] }
        credentialRecords.withLock { $0 = [:] }
    }

    private func hasOwnCredential(_ workerID: String) -> Bool? {
        let now = monotonicNanos()
        if let cached = ownsCredential.withLock({ $0[workerID] }), now - cached.checkedAt < Self.cacheNanos { return cached.owned }
        guard let owned = try? store.workerHasCredentials(workerID: workerID) else { return nil }
        ownsCredential.withLock { table in
            if table.count > 100_000 { table = [:] }
            table[workerID] = (owned, now)
        }
        return owned
    }

    private func credentialRecord(_ id: String) -> WorkerCredentialRecord? {
        let now = monotonicNanos()
        if let cached = credentialRecords.withLock({ $0[id] }), now - cached.checkedAt < Self.cacheNanos { return cached.record }
        guard let record = try? store.getWorkerCredential(id: id) else { return nil }
        credentialRecords.withLock { table in
            if table.count > 100_000 { table = [:] }
            table[id] = (record, now)
        }
        return record
    }

}

extension String {
    fileprivate func trimmingCharacters(in set: Character) -> String {
        var text = Substring(self)
        while text.first == set { text.removeFirst() }
        while text.last == set { text.removeLast() }
        return String(text)
    }
}
