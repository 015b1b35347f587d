// Leases and fencing (workers.md §6). Every ownership decision is ONE statement with RETURNING whose
// WHERE clause is the rule itself, evaluated against database now ('now' is fixed within one
// statement step); nothing is read back to decide. Only when a statement returns no row is the lease
// read again, and only to word the refusal (`.notFound` or which `.conflict`).
//
// Expired means database now ≥ expires_at; unexpired means expires_at > database now.
extension SQLiteStore {
    private static let leaseColumns = """
    resource_id, resource_type, holder_id, holder_epoch, generation, expires_at, created_at, updated_at
    """

    private static func lease(_ row: SQLiteStatement) -> LeaseRecord {
        LeaseRecord(
            resourceID: row.string(0), resourceType: row.string(1), holderID: row.string(2),
            holderEpoch: row.string(3), generation: row.int64(4), expiresAt: row.int64(5), createdAt: row.int64(6),
            updatedAt: row.int64(7))
    }

    /// The two bound values of an expiry expression written as `COALESCE(?a, now + ?b)`: an absolute
    /// instant as `a`, or an offset from database now as `b` (with `a` NULL).
    private static func expiryValues(_ expiry: LeaseExpiry) -> [SQLValue] {
        switch expiry {
        case .at(let instant): return [.int(instant), .null]
        case .fromNow(let ms): return [.null, .int(ms)]
        }
    }

    /// What a refused operation found, read only to choose the error.
    private struct LeaseState: Sendable {
        var holderID: String
        var generation: Int64
        var expired: Bool
    }

    private static func leaseState(_ resourceID: String, on connection: SQLiteConnection) throws(StoreError) -> LeaseState? {
        try connection.queryFirst(
            "SELECT holder_id, generation, expires_at <= \(Self.nowSQL) FROM leases WHERE resource_id = ?",
            [.text(resourceID)], row: { LeaseState(holderID: $0.string(0), generation: $0.int64(1), expired: $0.bool(2)) })
    }

    public func acquireLease(
        resourceID: String, resourceType: String, holderID: String, holderEpoch: String, expiry: LeaseExpiry
    ) throws(StoreError) -> LeaseRecord {
        // ?1 resource, ?2 type, ?3 holder, ?4 epoch, ?5/?6 expiry. On conflict the row is taken over
        // only when expired; when the same holder holds it unexpired every column is written back
        // as it was (CASE … ELSE old value), so RETURNING hands back the unchanged row. SET
        // expressions all see the old row, so `expired` means the same in each of them.
        let expired = "leases.expires_at <= \(Self.nowSQL)"
        let row = try write { connection throws(StoreError) in
            try connection.queryFirst(
                """
                INSERT INTO leases (\(Self.leaseColumns))
                VALUES (?1, ?2, ?3, ?4, 1, COALESCE(?5, \(Self.nowSQL) + ?6), \(Self.nowSQL), \(Self.nowSQL))
                ON CONFLICT (resource_id) DO UPDATE SET
                    holder_id = CASE WHEN \(expired) THEN excluded.holder_id ELSE leases.holder_id END,
                    holder_epoch = CASE WHEN \(expired) THEN excluded.holder_epoch ELSE leases.holder_epoch END,
                    generation = CASE WHEN \(expired) THEN leases.generation + 1 ELSE leases.generation END,
                    expires_at = CASE WHEN \(expired) THEN excluded.expires_at ELSE leases.expires_at END,
                    updated_at = CASE WHEN \(expired) THEN excluded.updated_at ELSE leases.updated_at END
                WHERE \(expired) OR leases.holder_id = excluded.holder_id
                RETURNING \(Self.leaseColumns)
                """,
                [.text(resourceID), .text(resourceType), .text(holderID), .text(holderEpoch)] + Self.expiryValues(expiry),
                row: Self.lease)
        }
        guard let row else { throw .conflict("lease \(resourceID) is held by another holder") }
        return row
    }

    public func transferLease(
        resourceID: String, fromGeneration: Int64, newHolderID: String, newHolderEpoch: String, expiry: LeaseExpiry
    ) throws(StoreError) -> LeaseRecord {
        try write { connection throws(StoreError) in
            let row = try connection.queryFirst(
                """
                UPDATE leases SET holder_id = ?1, holder_epoch = ?2, generation = generation + 1,
                    expires_at = COALESCE(?3, \(Self.nowSQL) + ?4), updated_at = \(Self.nowSQL)
                WHERE resource_id = ?5 AND generation = ?6
                RETURNING \(Self.leaseColumns)
                """,
                [.text(newHolderID), .text(newHolderEpoch)] + Self.expiryValues(expiry)
                    + [.text(resourceID), .int(fromGeneration)],
                row: Self.lease)
            if let row { return row }
            guard let state = try Self.leaseState(resourceID, on: connection) else { throw .notFound }
            throw .conflict("lease \(resourceID) is at generation \(state.generation), not \(fromGeneration)")
        }
    }

    public func renewLease(
        resourceID: String, holderID: String?, generation: Int64?, ttlMs: Int64?, capAt: Int64?
    ) throws(StoreError) -> LeaseRecord {
        // ?1 ttl, ?2 cap, ?3 resource, ?4 holder, ?5 generation. Multi-argument MIN is NULL when
        // either side is, so the COALESCE chain yields min(now + ttl, cap), then whichever is given,
        // then (neither given) the current expiry.
        try write { connection throws(StoreError) in
            let row = try connection.queryFirst(
                """
                UPDATE leases SET
                    expires_at = COALESCE(MIN(\(Self.nowSQL) + ?1, ?2), \(Self.nowSQL) + ?1, ?2, expires_at),
                    updated_at = \(Self.nowSQL)
                WHERE resource_id = ?3 AND (?4 IS NULL OR holder_id = ?4) AND (?5 IS NULL OR generation = ?5)
                  AND expires_at > \(Self.nowSQL)
                RETURNING \(Self.leaseColumns)
                """,
                [.int(ttlMs), .int(capAt), .text(resourceID), .text(holderID), .int(generation)],
                row: Self.lease)
            if let row { return row }
            guard let state = try Self.leaseState(resourceID, on: connection) else { throw .notFound }
            if let holderID, state.holderID != holderID {
                throw .conflict("lease \(resourceID) is held by another holder")
            }
            if let generation, state.generation != generation {
                throw .conflict("lease \(resourceID) is at generation \(state.generation), not \(generation)")
            }
            throw .conflict("lease \(resourceID) has expired")
        }
    }

    public func setLeaseExpiry(resourceID: String, generation: Int64, expiry: LeaseExpiry) throws(StoreError) -> LeaseRecord {
        try write { connection throws(StoreError) in
            let row = try connection.queryFirst(
                """
                UPDATE leases SET expires_at = COALESCE(?1, \(Self.nowSQL) + ?2), updated_at = \(Self.nowSQL)
                WHERE resource_id = ?3 AND generation = ?4
                RETURNING \(Self.leaseColumns)
                """,
                Self.expiryValues(expiry) + [.text(resourceID), .int(generation)], row: Self.lease)
            if let row { return row }
            guard let state = try Self.leaseState(resourceID, on: connection) else { throw .notFound }
            throw .conflict("lease \(resourceID) is at generation \(state.generation), not \(generation)")
        }
    }

    public func releaseLease(resourceID: String, holderID: String, generation: Int64) throws(StoreError) {
        try write { connection throws(StoreError) in
            let deleted = try connection.queryFirst(
                "DELETE FROM leases WHERE resource_id = ? AND holder_id = ? AND generation = ? RETURNING resource_id",
                [.text(resourceID), .text(holderID), .int(generation)], row: { $0.string(0) })
            if deleted != nil { return }
            guard let state = try Self.leaseState(resourceID, on: connection) else { throw .notFound }
            if state.holderID != holderID { throw .conflict("lease \(resourceID) is held by another holder") }
            throw .conflict("lease \(resourceID) is at generation \(state.generation), not \(generation)")
        }
    }

    @discardableResult
    public func deleteLease(resourceID: String) throws(StoreError) -> Bool {
        try write { connection throws(StoreError) in
            try connection.run("DELETE FROM leases WHERE resource_id = ?", [.text(resourceID)]) > 0
        }
    }

    public func getLease(resourceID: String) throws(StoreError) -> LeaseRecord? {
        try read { connection throws(StoreError) in
            try connection.queryFirst(
                "SELECT \(Self.leaseColumns) FROM leases WHERE resource_id = ?", [.text(resourceID)], row: Self.lease)
        }
    }

    public func listLeases(
        holderID: String?, resourceType: String?, limit: Int, afterResourceID: String?
    ) throws(StoreError) -> [LeaseRecord] {
        guard limit > 0 else { return [] }
        // Only present filters enter the SQL, so each shape is one cached statement.
        var clauses: [String] = []
        var values: [SQLValue] = []
        if let holderID { clauses.append("holder_id = ?"); values.append(.text(holderID)) }
        if let resourceType { clauses.append("resource_type = ?"); values.append(.text(resourceType)) }
        if let afterResourceID { clauses.append("resource_id > ?"); values.append(.text(afterResourceID)) }
        values.append(.int(limit))
        let whereSQL = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
        let sql = "SELECT \(Self.leaseColumns) FROM leases \(whereSQL) ORDER BY resource_id LIMIT ?"
        return try read { connection throws(StoreError) in
            try connection.query(sql, values, row: Self.lease)
        }
    }

    public func activeLeases(holderID: String) throws(StoreError) -> [LeaseRecord] {
        try read { connection throws(StoreError) in
            try connection.query(
                """
                SELECT \(Self.leaseColumns) FROM leases
                WHERE holder_id = ? AND expires_at > \(Self.nowSQL)
                ORDER BY resource_id
                """, [.text(holderID)], row: Self.lease)
        }
    }
}
