/// The one error type of the provider boundary (runtime.md §2.2). Every provider operation throws
/// only these, so the HTTP layer can map them in one place via `status` and `code`.
public enum ProviderError: Error, Sendable, Equatable {
    case invalidInput(String), invalidPath(String), notADirectory(String), isADirectory(String)
    case readOnlyPath(String), imageNotFound(String), unsupported(String)
    case sandboxNotFound, sandboxDestroyed, fileNotFound(String)
    case directoryNotEmpty(String), alreadyExists(String)
    case execTimeout
    case tooLarge(String)
    case resourceLimit(String)
    case portUnreachable
    case providerUnavailable(String)
    /// The detail is for logs only; `message` never exposes it (it may contain host paths).
    case `internal`(String)

    public var status: Int {
        switch self {
        case .invalidInput, .invalidPath, .notADirectory, .isADirectory, .readOnlyPath, .imageNotFound, .unsupported:
            return 400
        case .sandboxNotFound, .sandboxDestroyed, .fileNotFound: return 404
        case .directoryNotEmpty, .alreadyExists: return 409
        case .execTimeout: return 408
        case .tooLarge: return 413
        case .resourceLimit: return 429
        case .portUnreachable: return 502
        case .providerUnavailable: return 503
        case .internal: return 500
        }
    }

    public var code: String {
        switch status {
        case 400: return "BAD_REQUEST"
        case 404: return "NOT_FOUND"
        case 409: return "CONFLICT"
        case 408: return "TIMEOUT"
        case 413: return "PAYLOAD_TOO_LARGE"
        case 429: return "RESOURCE_LIMIT"
        case 502: return "PREVIEW_UNREACHABLE"
        case 503: return "UNAVAILABLE"
        default: return "INTERNAL_ERROR"
        }
    }

    /// Text safe for API callers. Providers only put sandbox-relative paths and user input into
    /// the associated strings of non-internal cases, so those are returned as they are.
    public var message: String {
        switch self {
        case .invalidInput(let m): return m
        case .invalidPath(let p): return "invalid path: \(p)"
        case .notADirectory(let p): return "not a directory: \(p)"
        case .isADirectory(let p): return "is a directory: \(p)"
        case .readOnlyPath(let p): return "read-only path: \(p)"
        case .imageNotFound(let m): return "image not found: \(m)"
        case .unsupported(let m): return "unsupported: \(m)"
        case .sandboxNotFound: return "sandbox not found"
        case .sandboxDestroyed: return "sandbox destroyed"
        case .fileNotFound(let p): return "file not found: \(p)"
        case .directoryNotEmpty(let p): return "directory not empty: \(p)"
        case .alreadyExists(let p): return "already exists: \(p)"
        case .execTimeout: return "exec timed out"
        case .tooLarge(let m): return "too large: \(m)"
        case .resourceLimit(let m): return "resource limit: \(m)"
        case .portUnreachable: return "preview port unreachable"
        case .providerUnavailable(let m): return "provider unavailable: \(m)"
        case .internal: return "internal error"
        }
    }
}
