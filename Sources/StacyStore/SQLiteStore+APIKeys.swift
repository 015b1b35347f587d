// API keys (runtime.md §12). Only key hashes are stored; `id` and `key_sha256` are both unique in
// the schema of migration 1, so duplicates are rejected by the database itself.
extension SQLiteStore {
    private static let apiKeyColumns = """
    id, key_sha256, role, tenant_id, owner_id, description, created_at, expires_at, revoked_at, last_used_at
    """

    /// "Active": not revoked, and no expiry or one later than `now` (an SQL expression).
    private static func activeAPIKeySQL(now: String) -> String {
        "revoked_at IS NULL AND (expires_at IS NULL OR expires_at > \(now))"
    }

    private static func apiKey(_ row: SQLiteStatement) -> APIKeyRecord {
        APIKeyRecord(
            id: row.string(0), keySHA256: row.string(1), role: row.string(2), tenantID: row.optionalString(3),
            ownerID: row.optionalString(4), description: row.string(5), createdAt: row.int64(6),
            expiresAt: row.optionalInt64(7), revokedAt: row.optionalInt64(8), lastUsedAt: row.optionalInt64(9))
    }

    @discardableResult
    public func insertAPIKey(_ key: APIKeyRecord) throws(StoreError) -> APIKeyRecord {
        let values: [SQLValue] = [
            .text(key.id), .text(key.keySHA256), .text(key.role), .text(key.tenantID), .text(key.ownerID),
            .text(key.description), .int(key.createdAt), .int(key.expiresAt), .int(key.revokedAt),
            .int(key.lastUsedAt),
        ]
        let stored = try write { connection throws(StoreError) in
            do throws(StoreError) {
                return try connection.queryFirst(
                    """
                    INSERT INTO api_keys (\(Self.apiKeyColumns))
                    VALUES (?, ?, ?, ?, ?, ?, COALESCE(NULLIF(?, 0), \(Self.nowSQL)), ?, ?, ?)
                    RETURNING \(Self.apiKeyColumns)
                    """, values, row: Self.apiKey)
            } catch .conflict {
                // Writes are serialized on this connection, so the row that caused the conflict is
                // still there: say which uniqueness was hit, never echoing the hash.
                let idTaken = try connection.queryFirst(
                    "SELECT 1 FROM api_keys WHERE id = ?", [.text(key.id)], row: { $0.int64(0) }) != nil
                throw .conflict(idTaken ? "api key \(key.id) already exists" : "an api key with this hash already exists")
            }
        }
        guard let stored else { throw .internal("api key insert returned no row") }
        return stored
    }

    public func findActiveAPIKey(sha256: String) throws(StoreError) -> APIKeyRecord? {
        try read { connection throws(StoreError) in
            try connection.queryFirst(
                """
                SELECT \(Self.apiKeyColumns) FROM api_keys
                WHERE key_sha256 = ? AND \(Self.activeAPIKeySQL(now: Self.nowSQL))
                """, [.text(sha256)], row: Self.apiKey)
        }
    }

    public func listAPIKeys(tenantID: String?) throws(StoreError) -> [APIKeyRecord] {
        try read { connection throws(StoreError) in
            if let tenantID {
                return try connection.query(
                    "SELECT \(Self.apiKeyColumns) FROM api_keys WHERE tenant_id = ? ORDER BY created_at, id",
                    [.text(tenantID)], row: Self.apiKey)
            }
            return try connection.query(
                "SELECT \(Self.apiKeyColumns) FROM api_keys ORDER BY created_at, id", row: Self.apiKey)
        }
    }

    @discardableResult
    public func revokeAPIKey(id: String) throws(StoreError) -> Bool {
        try write { connection throws(StoreError) in
            try connection.run(
                "UPDATE api_keys SET revoked_at = \(Self.nowSQL) WHERE id = ? AND revoked_at IS NULL", [.text(id)]) > 0
        }
    }

    public func touchAPIKey(id: String) throws(StoreError) {
        let changed = try write { connection throws(StoreError) in
            try connection.run("UPDATE api_keys SET last_used_at = \(Self.nowSQL) WHERE id = ?", [.text(id)])
        }
        if changed == 0 { throw .notFound }
    }

    public func countActiveAPIKeys() throws(StoreError) -> Int {
        try read { connection throws(StoreError) in
            try connection.queryFirst(
                """
                WITH clock(now) AS (SELECT \(Self.nowSQL))
                SELECT COUNT(*) FROM api_keys, clock WHERE \(Self.activeAPIKeySQL(now: "clock.now"))
                """, row: { $0.int(0) }) ?? 0
        }
    }
}
