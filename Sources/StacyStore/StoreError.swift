/// The one error type of the store boundary.
///
/// `message` is safe to show to API callers: it never contains SQL, table internals or driver text.
/// `detail` carries the driver's wording for logs only.
public enum StoreError: Error, Sendable, Equatable {
    /// The addressed row does not exist.
    case notFound
    /// A unique or primary-key constraint rejected the write. The text is caller-safe
    /// (e.g. "sandbox sb-… already exists"), never driver output.
    case conflict(String)
    /// The database stayed locked past the busy timeout, or a connection could not be obtained in time.
    case busy
    /// An applied migration's stored checksum differs from the SQL embedded in this binary.
    case migrationChecksumMismatch(Int)
    /// Anything else. The text is driver/log detail and is never shown to callers.
    case `internal`(String)

    /// Caller-facing text (safe for `{"code","message"}` envelopes).
    public var message: String {
        switch self {
        case .notFound: return "not found"
        case .conflict(let what): return what
        case .busy: return "store is busy, retry later"
        case .migrationChecksumMismatch(let version):
            return "applied migration \(version) does not match this binary (checksum mismatch)"
        case .internal: return "internal store error"
        }
    }

    /// Log-only detail, possibly including driver text.
    public var detail: String {
        switch self {
        case .internal(let text): return text
        default: return message
        }
    }
}

extension StoreError: CustomStringConvertible {
    public var description: String { detail }
}
