// Worker credentials (workers.md §3.1, api.md §8.8). Only the secret's SHA-256 is stored; `id` and
// `secret_sha256` are unique in the schema, so duplicates are rejected by the database itself.
// Scopes are stored as a JSON array of strings.
extension SQLiteStore {
    private static let workerCredentialColumns = """
    id, worker_id, kind, secret_sha256, scopes, description, created_at, expires_at, revoked_at, last_used_at
    """

    /// Decodes a row selected with `workerCredentialColumns`. Scopes that are not a JSON array of
    /// strings (written by something other than this store) are an error, never guessed at: a
    /// credential's scopes decide what it may do.
    private static func workerCredential(_ row: SQLiteStatement) throws(StoreError) -> WorkerCredentialRecord {
        let id = row.string(0)
        guard let scopes = JSONText.stringArray(row.string(4)) else {
            throw .internal("worker credential \(id): scopes column is not a JSON array of strings")
        }
        return WorkerCredentialRecord(
            id: id, workerID: row.string(1), kind: row.string(2), secretSHA256: row.optionalString(3),
            scopes: scopes, description: row.string(5), createdAt: row.int64(6), expiresAt: row.optionalInt64(7),
            revokedAt: row.optionalInt64(8), lastUsedAt: row.optionalInt64(9))
    }

    @discardableResult
    public func insertWorkerCredential(_ credential: WorkerCredentialRecord) throws(StoreError) -> WorkerCredentialRecord {
        let values: [SQLValue] = [
            .text(credential.id), .text(credential.workerID), .text(credential.kind), .text(credential.secretSHA256),
            .text(JSONText.array(of: credential.scopes)), .text(credential.description), .int(credential.createdAt),
            .int(credential.expiresAt), .int(credential.revokedAt), .int(credential.lastUsedAt),
        ]
        let stored = try write { connection throws(StoreError) in
            do throws(StoreError) {
                return try connection.queryFirst(
                    """
                    INSERT INTO worker_credentials (\(Self.workerCredentialColumns))
                    VALUES (?, ?, ?, ?, ?, ?, COALESCE(NULLIF(?, 0), \(Self.nowSQL)), ?, ?, ?)
                    RETURNING \(Self.workerCredentialColumns)
                    """, values, row: Self.workerCredential)
            } catch .conflict {
                // Writes are serialized on this connection, so the row that caused the conflict is
                // still there: say which uniqueness was hit, never echoing the hash.
                let idTaken = try connection.queryFirst(
                    "SELECT 1 FROM worker_credentials WHERE id = ?", [.text(credential.id)], row: { $0.int64(0) }) != nil
                throw .conflict(idTaken
                    ? "worker credential \(credential.id) already exists"
                    : "a worker credential with this secret already exists")
            }
        }
        guard let stored else { throw .internal("worker credential insert returned no row") }
        return stored
    }

    public func getWorkerCredential(id: String) throws(StoreError) -> WorkerCredentialRecord? {
        try read { connection throws(StoreError) in
            try connection.queryFirst(
                "SELECT \(Self.workerCredentialColumns) FROM worker_credentials WHERE id = ?", [.text(id)],
                row: Self.workerCredential)
        }
    }

    public func listWorkerCredentials(workerID: String) throws(StoreError) -> [WorkerCredentialRecord] {
        try read { connection throws(StoreError) in
            try connection.query(
                """
                SELECT \(Self.workerCredentialColumns) FROM worker_credentials
                WHERE worker_id = ? ORDER BY created_at, id
                """, [.text(workerID)], row: Self.workerCredential)
        }
    }

    public func workerHasCredentials(workerID: String) throws(StoreError) -> Bool {
        try read { connection throws(StoreError) in
            try connection.queryFirst(
                "SELECT EXISTS (SELECT 1 FROM worker_credentials WHERE worker_id = ?)", [.text(workerID)],
                row: { $0.bool(0) }) ?? false
        }
    }

    public func countWorkerCredentials() throws(StoreError) -> Int {
        try read { connection throws(StoreError) in
            try connection.queryFirst(
                """
                SELECT COUNT(*) FROM worker_credentials
                WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > \(Self.nowSQL))
                """, row: { $0.int(0) }) ?? 0
        }
    }

    @discardableResult
    public func revokeWorkerCredential(id: String, workerID: String) throws(StoreError) -> Bool {
        try write { connection throws(StoreError) in
            try connection.run(
                """
                UPDATE worker_credentials SET revoked_at = \(Self.nowSQL)
                WHERE id = ? AND worker_id = ? AND revoked_at IS NULL
                """, [.text(id), .text(workerID)]) > 0
        }
    }

    @discardableResult
    public func revokeWorkerCredentials(workerID: String) throws(StoreError) -> Int {
        try write { connection throws(StoreError) in
            try connection.run(
                "UPDATE worker_credentials SET revoked_at = \(Self.nowSQL) WHERE worker_id = ? AND revoked_at IS NULL",
                [.text(workerID)])
        }
    }

    @discardableResult
    public func setWorkerCredentialExpiry(
        id: String, workerID: String, expiresAt: Int64?
    ) throws(StoreError) -> WorkerCredentialRecord {
        let row = try write { connection throws(StoreError) in
            try connection.queryFirst(
                """
                UPDATE worker_credentials SET expires_at = ? WHERE id = ? AND worker_id = ?
                RETURNING \(Self.workerCredentialColumns)
                """, [.int(expiresAt), .text(id), .text(workerID)], row: Self.workerCredential)
        }
        guard let row else { throw .notFound }
        return row
    }

    public func touchWorkerCredential(id: String) throws(StoreError) {
        let changed = try write { connection throws(StoreError) in
            try connection.run("UPDATE worker_credentials SET last_used_at = \(Self.nowSQL) WHERE id = ?", [.text(id)])
        }
        if changed == 0 { throw .notFound }
    }
}
