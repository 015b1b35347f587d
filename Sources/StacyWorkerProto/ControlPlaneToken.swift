import Crypto
import Foundation
import Synchronization

/// The claims of a control-plane RPC token (workers.md §3.2).
public struct ControlPlaneClaims: Codable, Sendable, Equatable {
    public var iss: String
    public var aud: String
    public var workerID: String
    public var scopes: [String]
    public var iat: Int64
    public var exp: Int64
    public var jti: String
    /// The envelope `id` this token was minted for.
    public var req: String

    enum CodingKeys: String, CodingKey {
        case iss, aud
        case workerID = "worker_id"
        case scopes, iat, exp, jti, req
    }

    public init(iss: String, aud: String = ControlPlaneToken.audience, workerID: String, scopes: [String], iat: Int64,
                exp: Int64, jti: String, req: String) {
        self.iss = iss
        self.aud = aud
        self.workerID = workerID
        self.scopes = scopes
        self.iat = iat
        self.exp = exp
        self.jti = jti
        self.req = req
    }
}

/// `stacyvm-cp-v1.<base64url(claims)>.<base64url(Ed25519 signature)>`: minted by the control plane
/// per call, single-use, at most 60 s long, bound to one request envelope.
public enum ControlPlaneToken {
    public static let prefix = "stacyvm-cp-v1"
    public static let audience = "worker:rpc"
    public static let maxLifetimeSeconds: Int64 = 60

    public static func mint(_ claims: ControlPlaneClaims, sign: ([UInt8]) throws -> [UInt8]) throws -> String {
        let payload = base64url(Array(try JSONEncoder().encode(claims)))
        let signed = prefix + "." + payload
        return signed + "." + base64url(try sign(Array(signed.utf8)))
    }

    public enum Failure: Error, Equatable, CustomStringConvertible {
        /// 401: malformed, badly signed, expired, replayed, or not for this worker or request.
        case invalid(String)
        /// 403: valid, but without the method's scope.
        case missingScope(String)

        public var description: String {
            switch self {
            case .invalid(let why): return why
            case .missingScope(let scope): return "token lacks scope \(scope)"
            }
        }
    }

    /// Checks signature (against any of `publicKeys`, `ed25519:<base64>`), audience, worker, request
    /// binding, lifetime (with `skewSeconds` of clock tolerance) and scope. Replay is the caller's
    /// `ReplayGuard`.
    public static func verify(_ token: String, publicKeys: [String], workerID: String, requestID: String, scope: String,
                              now: Int64, skewSeconds: Int64 = 5) throws(Failure) -> ControlPlaneClaims {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == prefix, let payload = unbase64url(String(parts[1])),
              let signature = unbase64url(String(parts[2])) else {
            throw .invalid("malformed control-plane token")
        }
        let signed = Array((parts[0] + "." + parts[1]).utf8)
        let verified = publicKeys.contains { text in
            guard let key = ParsedKeys.shared.key(text) else { return false }
            return key.isValidSignature(signature, for: signed)
        }
        guard verified else { throw .invalid("control-plane token signature does not verify") }
        guard let claims = try? JSONDecoder().decode(ControlPlaneClaims.self, from: Data(payload)) else {
            throw .invalid("malformed control-plane token claims")
        }
        guard claims.aud == audience else { throw .invalid("token audience is not \(audience)") }
        guard claims.workerID == workerID else { throw .invalid("token is for worker \(claims.workerID)") }
        guard claims.req == requestID else { throw .invalid("token is bound to another request") }
        guard claims.exp > claims.iat, claims.exp - claims.iat <= maxLifetimeSeconds else {
            throw .invalid("token lifetime exceeds \(maxLifetimeSeconds) s")
        }
        guard claims.iat <= now + skewSeconds, claims.exp + skewSeconds > now else { throw .invalid("token expired") }
        guard !claims.jti.isEmpty else { throw .invalid("token has no jti") }
        guard claims.scopes.contains(scope) else { throw .missingScope(scope) }
        return claims
    }

    static func base64url(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func unbase64url(_ text: String) -> [UInt8]? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64).map(Array.init)
    }
}

/// Remembers every accepted `jti` until its token expires, so a token is accepted once
/// (workers.md §3.2). Bounded by the tokens' 60 s lifetime.
public final class ReplayGuard: Sendable {
    private let seen = Mutex<[String: Int64]>([:])

    public init() {}

    /// True the first time a `jti` is offered before `expiresAt` (Unix seconds); false on a replay.
    public func accept(jti: String, expiresAt: Int64, now: Int64) -> Bool {
        seen.withLock { table in
            if table.count > 4096 { table = table.filter { $0.value > now } }
            if let known = table[jti], known > now - 10 { return false }
            table[jti] = expiresAt + 10
            return true
        }
    }
}

/// Public keys parsed once per text (base64 and point decoding per call showed in profiles).
final class ParsedKeys: @unchecked Sendable {
    static let shared = ParsedKeys()
    private let lock = NSLock()
    private var keys: [String: Curve25519.Signing.PublicKey] = [:]

    func key(_ text: String) -> Curve25519.Signing.PublicKey? {
        lock.lock()
        defer { lock.unlock() }
        if let key = keys[text] { return key }
        guard text.hasPrefix("ed25519:"), let raw = Data(base64Encoded: String(text.dropFirst(8))),
              let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) else { return nil }
        if keys.count > 64 { keys = [:] }
        keys[text] = key
        return key
    }
}
