#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CSQLite

/// Extended result codes (macros that do not import into Swift).
private let sqliteConstraintPrimaryKey: Int32 = 1555  // SQLITE_CONSTRAINT | (6 << 8)
private let sqliteConstraintUnique: Int32 = 2067      // SQLITE_CONSTRAINT | (8 << 8)

/// Maps an sqlite3 result code to the store's error. Driver text goes only into `.internal`'s
/// log detail; conflicts get a neutral message the domain layer may refine.
func sqliteError(_ rc: Int32, _ db: OpaquePointer?) -> StoreError {
    let primary = rc & 0xff
    if primary == SQLITE_BUSY || primary == SQLITE_LOCKED { return .busy }
    if rc == sqliteConstraintPrimaryKey || rc == sqliteConstraintUnique { return .conflict("already exists") }
    let text = db.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) } ?? "unknown"
    return .internal("sqlite error \(rc): \(text)")
}

/// One sqlite3 database handle and its prepared-statement cache.
///
/// Not thread-safe by design (opened with SQLITE_OPEN_NOMUTEX): every connection lives inside a
/// `Mutex` owned by `SQLiteStore`, which guarantees one thread at a time. This class is the single
/// owner of the handle and closes it in `deinit`, after finalizing its statements.
final class SQLiteConnection {
    private let db: OpaquePointer
    private var statements: [String: SQLiteStatement] = [:]
    /// Dynamic SQL (list filters) could grow the cache; past this size it is simply flushed.
    private let statementCacheLimit = 64

    enum Role {
        /// The single writer: creates the file and switches it to WAL.
        case writer
        /// Pool member: refuses writes so a misrouted write fails loudly instead of racing the writer.
        case reader
    }

    init(path: String, role: Role, busyTimeoutMs: Int32 = 5000) throws(StoreError) {
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &handle, flags, nil)
        guard rc == SQLITE_OK, let opened = handle else {
            let error = sqliteError(rc, handle)
            sqlite3_close_v2(handle)  // open may hand back a handle even on failure; we still own it
            throw error
        }
        db = opened
        sqlite3_extended_result_codes(db, 1)
        // On throw below, deinit closes the handle.
        try execute("PRAGMA busy_timeout=\(busyTimeoutMs); PRAGMA foreign_keys=ON")
        switch role {
        case .writer:
            try switchToWAL(retryForMs: Int(busyTimeoutMs))
            try execute("PRAGMA synchronous=NORMAL")
        case .reader:
            try execute("PRAGMA query_only=ON")
        }
    }

    /// Changing the journal mode can return SQLITE_BUSY *without* consulting the busy handler
    /// (seen when several processes open a new file at once), so it gets its own bounded retry.
    private func switchToWAL(retryForMs: Int) throws(StoreError) {
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .milliseconds(retryForMs))
        var pauseMicros: UInt32 = 200
        while true {
            do throws(StoreError) {
                let mode = try queryFirst("PRAGMA journal_mode=WAL") { $0.string(0) }
                // SQLite answers with the mode now in force; anything else (e.g. a filesystem
                // without shared memory) must not silently run without WAL.
                guard mode?.lowercased() == "wal" else {
                    throw StoreError.internal("could not enable WAL journal mode (got \(mode ?? "nothing"))")
                }
                return
            } catch .busy where clock.now < deadline {
                usleep(pauseMicros)
                pauseMicros = min(pauseMicros * 2, 20_000)
            }
        }
    }

    deinit {
        statements.removeAll()  // finalize before close, or close_v2 would defer it
        sqlite3_close_v2(db)
    }

    /// Runs one or more statements without parameters (migrations, pragmas, BEGIN/COMMIT).
    func execute(_ script: String) throws(StoreError) {
        var message: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(db, script, nil, nil, &message)
        defer { sqlite3_free(message) }
        guard rc == SQLITE_OK else {
            if rc & 0xff == SQLITE_BUSY || rc & 0xff == SQLITE_LOCKED { throw .busy }
            if rc == sqliteConstraintPrimaryKey || rc == sqliteConstraintUnique { throw .conflict("already exists") }
            let text = message.map { String(cString: $0) } ?? "unknown"
            throw .internal("sqlite error \(rc): \(text)")
        }
    }

    /// Lends the cached prepared statement for `sql`, bound to `values`, and resets it afterwards
    /// whatever happens, so the next user starts clean and no read snapshot stays open.
    func withStatement<T>(
        _ sql: String, _ values: [SQLValue],
        _ body: (SQLiteStatement) throws(StoreError) -> T
    ) throws(StoreError) -> T {
        let statement = try prepared(sql)
        defer { statement.reset() }
        try statement.bind(values)
        return try body(statement)
    }

    /// Executes a statement that returns no rows; returns the number of rows changed.
    @discardableResult
    func run(_ sql: String, _ values: [SQLValue] = []) throws(StoreError) -> Int {
        try withStatement(sql, values) { statement throws(StoreError) in
            while try statement.step() {}
            return Int(sqlite3_changes(db))
        }
    }

    /// Collects every row through `row`.
    func query<T>(
        _ sql: String, _ values: [SQLValue] = [],
        row: (SQLiteStatement) throws(StoreError) -> T
    ) throws(StoreError) -> [T] {
        try withStatement(sql, values) { statement throws(StoreError) in
            var rows: [T] = []
            while try statement.step() { rows.append(try row(statement)) }
            return rows
        }
    }

    /// The first row, if any.
    func queryFirst<T>(
        _ sql: String, _ values: [SQLValue] = [],
        row: (SQLiteStatement) throws(StoreError) -> T
    ) throws(StoreError) -> T? {
        try withStatement(sql, values) { statement throws(StoreError) in
            try statement.step() ? try row(statement) : nil
        }
    }

    /// Runs `body` in a transaction. `immediate` takes the write lock up front (BEGIN IMMEDIATE), so
    /// a read-then-write inside never fails half way with SQLITE_BUSY on lock upgrade.
    func transaction<T>(immediate: Bool, _ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try execute(immediate ? "BEGIN IMMEDIATE" : "BEGIN")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            // A failed COMMIT may already have rolled back; ignore the follow-up error.
            try? execute("ROLLBACK")
            throw error
        }
    }

    private func prepared(_ sql: String) throws(StoreError) -> SQLiteStatement {
        if let cached = statements[sql] { return cached }
        var handle: OpaquePointer?
        let rc = sqlite3_prepare_v2(db, sql, -1, &handle, nil)
        guard rc == SQLITE_OK, let prepared = handle else {
            sqlite3_finalize(handle)
            throw sqliteError(rc, db)
        }
        if statements.count >= statementCacheLimit { statements.removeAll() }
        let statement = SQLiteStatement(handle: prepared, db: db)
        statements[sql] = statement
        return statement
    }
}
