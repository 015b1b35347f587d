// Owner quotas (admission caps) and the live-sandbox count they are checked against. In the table a
// cap of NULL means "inherit"; the record carries that as 0, so 0 is written as NULL and NULL (or a
// stray 0) reads back as 0.
extension SQLiteStore {
    private static let ownerQuotaColumns = """
    owner_id, COALESCE(max_sandboxes, 0), COALESCE(max_ttl_seconds, 0), COALESCE(max_exec_timeout_seconds, 0),
    created_at, updated_at
    """

    private static func ownerQuota(_ row: SQLiteStatement) -> OwnerQuotaRecord {
        OwnerQuotaRecord(
            ownerID: row.string(0), maxSandboxes: row.int(1), maxTTLSeconds: row.int64(2),
            maxExecTimeoutSeconds: row.int64(3), createdAt: row.int64(4), updatedAt: row.int64(5))
    }

    public func getOwnerQuota(_ ownerID: String) throws(StoreError) -> OwnerQuotaRecord? {
        try read { connection throws(StoreError) in
            try connection.queryFirst(
                "SELECT \(Self.ownerQuotaColumns) FROM owner_quotas WHERE owner_id = ?", [.text(ownerID)],
                row: Self.ownerQuota)
        }
    }

    @discardableResult
    public func putOwnerQuota(_ quota: OwnerQuotaRecord) throws(StoreError) -> OwnerQuotaRecord {
        let values: [SQLValue] = [
            .text(quota.ownerID), .int(quota.maxSandboxes), .int(quota.maxTTLSeconds), .int(quota.maxExecTimeoutSeconds),
        ]
        // 'now' is fixed for one statement step, so an insert gets created_at == updated_at.
        let stored = try write { connection throws(StoreError) in
            try connection.queryFirst(
                """
                INSERT INTO owner_quotas
                    (owner_id, max_sandboxes, max_ttl_seconds, max_exec_timeout_seconds, created_at, updated_at)
                VALUES (?, NULLIF(?, 0), NULLIF(?, 0), NULLIF(?, 0), \(Self.nowSQL), \(Self.nowSQL))
                ON CONFLICT (owner_id) DO UPDATE SET
                    max_sandboxes = excluded.max_sandboxes, max_ttl_seconds = excluded.max_ttl_seconds,
                    max_exec_timeout_seconds = excluded.max_exec_timeout_seconds, updated_at = excluded.updated_at
                RETURNING \(Self.ownerQuotaColumns)
                """, values, row: Self.ownerQuota)
        }
        guard let stored else { throw .internal("owner quota upsert returned no row") }
        return stored
    }

    @discardableResult
    public func deleteOwnerQuota(_ ownerID: String) throws(StoreError) -> Bool {
        try write { connection throws(StoreError) in
            try connection.run("DELETE FROM owner_quotas WHERE owner_id = ?", [.text(ownerID)]) > 0
        }
    }

    public func listOwnerQuotas(limit: Int, afterOwnerID: String?) throws(StoreError) -> [OwnerQuotaRecord] {
        guard limit > 0 else { return [] }
        return try read { connection throws(StoreError) in
            if let afterOwnerID {
                return try connection.query(
                    "SELECT \(Self.ownerQuotaColumns) FROM owner_quotas WHERE owner_id > ? ORDER BY owner_id LIMIT ?",
                    [.text(afterOwnerID), .int(limit)], row: Self.ownerQuota)
            }
            return try connection.query(
                "SELECT \(Self.ownerQuotaColumns) FROM owner_quotas ORDER BY owner_id LIMIT ?", [.int(limit)],
                row: Self.ownerQuota)
        }
    }

    public func ownerQuotaSummary() throws(StoreError) -> (total: Int, withMaxSandboxes: Int, withMaxTTL: Int, withMaxExecTimeout: Int) {
        // COUNT skips NULLs, and NULLIF turns a stored 0 into one: both mean "inherit".
        let counts = try read { connection throws(StoreError) in
            try connection.queryFirst(
                """
                SELECT COUNT(*), COUNT(NULLIF(max_sandboxes, 0)), COUNT(NULLIF(max_ttl_seconds, 0)),
                       COUNT(NULLIF(max_exec_timeout_seconds, 0))
                FROM owner_quotas
                """, row: { [$0.int(0), $0.int(1), $0.int(2), $0.int(3)] })
        }
        guard let counts, counts.count == 4 else { throw .internal("owner quota summary returned no row") }
        return (total: counts[0], withMaxSandboxes: counts[1], withMaxTTL: counts[2], withMaxExecTimeout: counts[3])
    }
}
