extension SQLiteStore {
    private static let eventColumns = "seq, type, sandbox_id, worker_id, tenant_id, owner_id, data, created_at"

    private static func event(_ row: SQLiteStatement) -> EventRecord {
        EventRecord(
            seq: row.int64(0), type: row.string(1), sandboxID: row.optionalString(2),
            workerID: row.optionalString(3), tenantID: row.optionalString(4),
            ownerID: row.optionalString(5), dataJSON: row.string(6), createdAt: row.int64(7))
    }

    /// One SQL text for single and batched appends, so both share a cached statement.
    /// AUTOINCREMENT: seq is never reused, even after pruning, so tailing by seq stays correct.
    private static let insertEventSQL = """
    INSERT INTO events (type, sandbox_id, worker_id, tenant_id, owner_id, data, created_at)
    VALUES (?, ?, ?, ?, ?, ?, COALESCE(NULLIF(?, 0), \(nowSQL))) RETURNING seq
    """

    private static func insertValues(_ event: EventRecord) -> [SQLValue] {
        [
            .text(event.type), .text(event.sandboxID), .text(event.workerID), .text(event.tenantID),
            .text(event.ownerID), .text(event.dataJSON), .int(event.createdAt),
        ]
    }

    private static func insertEvent(_ event: EventRecord, on connection: SQLiteConnection) throws(StoreError) -> Int64 {
        let seq = try connection.queryFirst(insertEventSQL, insertValues(event)) { $0.int64(0) }
        guard let seq else { throw .internal("event insert returned no sequence") }
        return seq
    }

    @discardableResult
    public func appendEvent(_ event: EventRecord) throws(StoreError) -> Int64 {
        try write { connection throws(StoreError) in try Self.insertEvent(event, on: connection) }
    }

    @discardableResult
    public func appendEvents(_ events: [EventRecord]) throws(StoreError) -> [Int64] {
        guard !events.isEmpty else { return [] }
        return try write { connection throws(StoreError) in
            try connection.transaction(immediate: true) { () throws(StoreError) -> [Int64] in
                var seqs: [Int64] = []
                seqs.reserveCapacity(events.count)
                for event in events { seqs.append(try Self.insertEvent(event, on: connection)) }
                return seqs
            }
        }
    }

    public func earliestEventSeq() throws(StoreError) -> Int64? {
        try read { connection throws(StoreError) in
            // MIN over the INTEGER PRIMARY KEY is a single b-tree seek; NULL on an empty table.
            try connection.queryFirst("SELECT MIN(seq) FROM events") { $0.optionalInt64(0) } ?? nil
        }
    }

    public func latestEventSeq() throws(StoreError) -> Int64? {
        try read { connection throws(StoreError) in
            try connection.queryFirst("SELECT MAX(seq) FROM events") { $0.optionalInt64(0) } ?? nil
        }
    }

    public func listEvents(afterSeq: Int64, limit: Int) throws(StoreError) -> [EventRecord] {
        guard limit > 0 else { return [] }
        return try read { connection throws(StoreError) in
            try connection.query(
                "SELECT \(Self.eventColumns) FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                [.int(afterSeq), .int(limit)], row: Self.event)
        }
    }

    /// `olderThanMs <= 0` disables the age rule, `maxRows <= 0` the row cap.
    @discardableResult
    public func pruneEvents(olderThanMs: Int64, maxRows: Int) throws(StoreError) -> Int {
        try write { connection throws(StoreError) in
            try connection.transaction(immediate: true) { () throws(StoreError) -> Int in
                var deleted = 0
                if olderThanMs > 0 {
                    deleted += try connection.run(
                        "DELETE FROM events WHERE created_at < \(Self.nowSQL) - ?", [.int(olderThanMs)])
                }
                if maxRows > 0 {
                    // The (maxRows+1)-th newest seq and everything older goes; NULL (fewer rows) deletes nothing.
                    deleted += try connection.run(
                        """
                        DELETE FROM events
                        WHERE seq <= (SELECT seq FROM events ORDER BY seq DESC LIMIT 1 OFFSET ?)
                        """, [.int(maxRows)])
                }
                return deleted
            }
        }
    }
}
