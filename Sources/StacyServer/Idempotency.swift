import StacyConfig
import StacyHTTP
import StacyOrchestrator
import StacyStore

/// `Idempotency-Key` on spawns (api.md §1): the same key, principal and body within 24 h gets the
/// stored status and body; another body gets 409; a duplicate arriving while the first still
/// runs waits for it (up to the spawn deadline) and replays its result. 5xx results are not
/// stored, so the key can be retried.
enum Idempotency {
    static func run(_ request: HTTPRequest, principal: Principal, store: any Store, deadline: GoDuration,
                    _ body: () async throws -> HTTPResponse) async throws -> HTTPResponse {
        guard let key = request.header("Idempotency-Key") else { return try await body() }
        guard (1...128).contains(key.utf8.count) else { throw APIError.badRequest("Idempotency-Key must be 1 to 128 characters") }
        let who = [principal.actor, principal.tenantID, principal.ownerID].joined(separator: "\u{1F}")
        let fingerprint = SHA256.hex(Array((request.method + " " + request.rawPath + "\n").utf8) + request.body)
        let waitUntil = monotonicNanos() + UInt64(max(0, deadline.nanoseconds))
        while true {
            let reservation: IdempotencyReservation
            do {
                reservation = try store.reserveIdempotencyKey(principal: who, key: key, requestSHA256: fingerprint)
            } catch {
                throw APIError.unavailable("idempotency store unavailable, retry")
            }
            switch reservation {
            case .reserved:
                let response: HTTPResponse
                do { response = try await body() } catch let error as APIError { response = error.response }
                let bytes: [UInt8]
                switch response.body {
                case .bytes(let raw): bytes = raw
                case .malloced(let buffer): bytes = buffer.bytes
                default: bytes = []
                }
                if response.status >= 500 {
                    try? store.releaseIdempotencyKey(principal: who, key: key)
                } else {
                    try? store.completeIdempotencyKey(principal: who, key: key, status: response.status,
                                                      response: String(decoding: bytes, as: UTF8.self))
                }
                return response
            case .done(let status, let stored):
                return HTTPResponse(status: status, headers: [("Content-Type", "application/json"), ("Idempotent-Replayed", "true")],
                                    body: .bytes(Array(stored.utf8)))
            case .mismatch:
                throw APIError(status: 409, code: "CONFLICT", message: "Idempotency-Key was used with a different request")
            case .inProgress:
                guard monotonicNanos() < waitUntil else {
                    throw APIError(status: 409, code: "CONFLICT", message: "a request with this Idempotency-Key is still running")
                }
                try? await Task.sleep(nanoseconds: 100_000_000)
            }
        }
    }
}
