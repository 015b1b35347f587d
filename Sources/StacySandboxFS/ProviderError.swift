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
    /// The worker that owns (or would run) the sandbox cannot be reached, or refused for a reason
    /// the caller cannot fix (workers.md §7.3): 503 `WORKER_UNAVAILABLE`.
    case workerUnavailable(String)
    /// A fencing or state conflict reported by a worker (stale lease, another holder): 409.
    case conflict(String)
    /// The detail is for logs only; `message` never exposes it (it may contain host paths).
    case `internal`(String)

    public var status: Int {
        switch self {
        case .invalidInput, .invalidPath, .notADirectory, .isADirectory, .readOnlyPath, .imageNotFound, .unsupported:
            return 400
        case .sandboxNotFound, .sandboxDestroyed, .fileNotFound: return 404
        case .directoryNotEmpty, .alreadyExists, .conflict: return 409
        case .execTimeout: return 408
        case .tooLarge: return 413
        case .resourceLimit: return 429
        case .portUnreachable: return 502
        case .providerUnavailable, .workerUnavailable: return 503
        case .internal: return 500
        }
    }

    public var code: String {
        if case .workerUnavailable = self { return "WORKER_UNAVAILABLE" }
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
        case .workerUnavailable(let m): return "worker unavailable: \(m)"
        case .conflict(let m): return m
        case .internal: return "internal error"
        }
    }
}

/// The error as it crosses a process boundary (the namespace agent's socket; worker RPC has its
/// own codes): a stable kind name plus the case's text.
extension ProviderError {
    public var wireKind: String {
        switch self {
        case .invalidInput: return "invalid_input"
        case .invalidPath: return "invalid_path"
        case .notADirectory: return "not_a_directory"
        case .isADirectory: return "is_a_directory"
        case .readOnlyPath: return "read_only_path"
        case .imageNotFound: return "image_not_found"
        case .unsupported: return "unsupported"
        case .sandboxNotFound: return "sandbox_not_found"
        case .sandboxDestroyed: return "sandbox_destroyed"
        case .fileNotFound: return "file_not_found"
        case .directoryNotEmpty: return "directory_not_empty"
        case .alreadyExists: return "already_exists"
        case .execTimeout: return "exec_timeout"
        case .tooLarge: return "too_large"
        case .resourceLimit: return "resource_limit"
        case .portUnreachable: return "port_unreachable"
        case .providerUnavailable: return "provider_unavailable"
        case .workerUnavailable: return "worker_unavailable"
        case .conflict: return "conflict"
        case .internal: return "internal"
        }
    }

    public var wireDetail: String {
        switch self {
        case .invalidInput(let s), .invalidPath(let s), .notADirectory(let s), .isADirectory(let s), .readOnlyPath(let s),
             .imageNotFound(let s), .unsupported(let s), .fileNotFound(let s), .directoryNotEmpty(let s),
             .alreadyExists(let s), .tooLarge(let s), .resourceLimit(let s), .providerUnavailable(let s),
             .workerUnavailable(let s), .conflict(let s), .internal(let s):
            return s
        case .sandboxNotFound, .sandboxDestroyed, .execTimeout, .portUnreachable:
            return ""
        }
    }

    /// An unknown kind (a newer agent) becomes `internal`, never a wrong client-facing error.
    public init(wireKind: String, detail: String) {
        switch wireKind {
        case "invalid_input": self = .invalidInput(detail)
        case "invalid_path": self = .invalidPath(detail)
        case "not_a_directory": self = .notADirectory(detail)
        case "is_a_directory": self = .isADirectory(detail)
        case "read_only_path": self = .readOnlyPath(detail)
        case "image_not_found": self = .imageNotFound(detail)
        case "unsupported": self = .unsupported(detail)
        case "sandbox_not_found": self = .sandboxNotFound
        case "sandbox_destroyed": self = .sandboxDestroyed
        case "file_not_found": self = .fileNotFound(detail)
        case "directory_not_empty": self = .directoryNotEmpty(detail)
        case "already_exists": self = .alreadyExists(detail)
        case "exec_timeout": self = .execTimeout
        case "too_large": self = .tooLarge(detail)
        case "resource_limit": self = .resourceLimit(detail)
        case "port_unreachable": self = .portUnreachable
        case "provider_unavailable": self = .providerUnavailable(detail)
        case "worker_unavailable": self = .workerUnavailable(detail)
        case "conflict": self = .conflict(detail)
        default: self = .internal(wireKind + ": " + detail)
        }
    }
}
