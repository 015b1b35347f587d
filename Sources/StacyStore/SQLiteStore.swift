import Synchronization

/// The embedded store: one SQLite file, ONE writer connection through which every write is
/// serialized (SQLite allows one writer anyway; queuing here avoids busy-lock storms), plus a
/// small pool of query-only readers that WAL lets run beside the writer.
///
/// Use a file path; ":memory:" would give every connection its own empty database.
public final class SQLiteStore: Store {
    public var driver: String { "sqlite" }
    public let path: String

    private let writer: ConnectionSlot
    private let readers: [ConnectionSlot]
    private let nextReader = Atomic<Int>(0)
    private let acquireTimeout: Duration

    /// Database time in Unix ms. `unixepoch('subsec')` needs SQLite 3.42; 3.40 has julianday,
    /// which is millisecond-resolved. ROUND guards against 0.999… truncation of the float.
    static let nowSQL = "CAST(ROUND((julianday('now') - 2440587.5) * 86400000.0) AS INTEGER)"

    /// - Parameters:
    ///   - readerCount: connections in the read pool (at least 1).
    ///   - acquireTimeout: longest wait for a free connection before `.busy`.
    ///   - busyTimeoutMs: SQLite's own wait for a file lock held by another process (spec: 5000).
    public init(
        path: String, readerCount: Int = 4, acquireTimeout: Duration = .seconds(10), busyTimeoutMs: Int32 = 5000
    ) throws(StoreError) {
        self.path = path
        self.acquireTimeout = acquireTimeout
        // Writer first: it creates the file and switches it to WAL before readers attach.
        writer = ConnectionSlot(try SQLiteConnection(path: path, role: .writer, busyTimeoutMs: busyTimeoutMs))
        var pool: [ConnectionSlot] = []
        for _ in 0..<max(1, readerCount) {
            pool.append(ConnectionSlot(try SQLiteConnection(path: path, role: .reader, busyTimeoutMs: busyTimeoutMs)))
        }
        readers = pool
    }

    public func close() {
        writer.close()
        for reader in readers { reader.close() }
    }

    public func ping() throws(StoreError) {
        _ = try read { connection throws(StoreError) in
            try connection.queryFirst("SELECT 1") { $0.int64(0) }
        }
    }

    public func now() throws(StoreError) -> Int64 {
        try read { connection throws(StoreError) in
            try connection.queryFirst("SELECT \(Self.nowSQL)") { $0.int64(0) } ?? 0
        }
    }

    // MARK: Connection access (used by the domain extensions)

    /// Runs `body` on the single writer connection; writes are serialized here.
    func write<T: Sendable>(_ body: (SQLiteConnection) throws(StoreError) -> T) throws(StoreError) -> T {
        try withAnyConnection([writer], start: 0, timeout: acquireTimeout, body)
    }

    /// Runs `body` on a pooled reader. Readers are query_only, so a write routed here fails.
    func read<T: Sendable>(_ body: (SQLiteConnection) throws(StoreError) -> T) throws(StoreError) -> T {
        let start = nextReader.wrappingAdd(1, ordering: .relaxed).oldValue
        return try withAnyConnection(readers, start: abs(start % readers.count), timeout: acquireTimeout, body)
    }
}
