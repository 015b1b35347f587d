import StacyHTTP
import StacyProviders
import StacyStore

extension ProviderError {
    /// runtime.md §2.2 → api.md §2. `internal` details stay in the log.
    var apiError: APIError { APIError(status: status, code: code, message: message) }
}

extension StoreError {
    var apiError: APIError {
        switch self {
        case .notFound: return .notFound("sandbox not found")
        case .conflict: return APIError(status: 409, code: "CONFLICT", message: message)
        case .busy: return .unavailable("store busy, retry")
        default: return .internalError
        }
    }
}

extension APIError {
    static let sandboxNotFound = APIError.notFound("sandbox not found")
    static func resourceLimit(_ message: String) -> APIError {
        APIError(status: 429, code: "RESOURCE_LIMIT", message: message)
    }
}

/// Store calls outside the sandbox manager (workers, leases, credentials): `.notFound` becomes a
/// 404 with `notFound` as its message, a conflict 409 with the store's caller-safe reason.
func storeCall<T>(notFound: String = "not found", _ body: () throws -> T) throws(APIError) -> T {
    do { return try body() } catch let error as StoreError {
        if case .notFound = error { throw .notFound(notFound) }
        throw error.apiError
    } catch {
        throw .internalError
    }
}
