extension SQLiteStore {
    private static let sandboxColumns = """
    id, state, state_reason, provider, image, memory_mb, vcpus, network, metadata, env, template,
    owner_id, tenant_id, worker_id, vm_id, preview_domain, preview_token_hash, created_at, updated_at,
    expires_at, original_expires_at, reap_pending, next_attempt_at, last_refresh_at
    """

    /// Decodes a row selected with `sandboxColumns`, in that order.
    private static func sandbox(_ row: SQLiteStatement) -> SandboxRecord {
        SandboxRecord(
            id: row.string(0), state: row.string(1), stateReason: row.optionalString(2),
            provider: row.string(3), image: row.string(4), memoryMB: row.int(5), vcpus: row.int(6),
            network: row.optionalString(7), metadataJSON: row.string(8), envJSON: row.string(9),
            template: row.optionalString(10), ownerID: row.optionalString(11),
            tenantID: row.optionalString(12), workerID: row.optionalString(13),
            vmID: row.optionalString(14), previewDomain: row.optionalString(15),
            previewTokenHash: row.optionalString(16), createdAt: row.int64(17),
            updatedAt: row.int64(18), expiresAt: row.optionalInt64(19),
            originalExpiresAt: row.optionalInt64(20), reapPending: row.bool(21),
            nextAttemptAt: row.optionalInt64(22), lastRefreshAt: row.optionalInt64(23))
    }

    @discardableResult
    public func insertSandbox(_ sandbox: SandboxRecord) throws(StoreError) -> SandboxRecord {
        do {
            return try write { connection throws(StoreError) in try Self.insertRow(sandbox, on: connection) }
        } catch .conflict {
            throw .conflict("sandbox \(sandbox.id) already exists")
        }
    }

    /// The INSERT … RETURNING of one sandbox row, on a connection the caller holds.
    private static func insertRow(_ s: SandboxRecord, on connection: SQLiteConnection) throws(StoreError) -> SandboxRecord {
        let values: [SQLValue] = [
            .text(s.id), .text(s.state), .text(s.stateReason), .text(s.provider), .text(s.image),
            .int(s.memoryMB), .int(s.vcpus), .text(s.network), .text(s.metadataJSON), .text(s.envJSON),
            .text(s.template), .text(s.ownerID), .text(s.tenantID), .text(s.workerID), .text(s.vmID),
            .text(s.previewDomain), .text(s.previewTokenHash), .int(s.createdAt), .int(s.updatedAt),
            .int(s.expiresAt), .int(s.originalExpiresAt), .bool(s.reapPending), .int(s.nextAttemptAt),
            .int(s.lastRefreshAt),
        ]
        return try connection.queryFirst(
            """
            INSERT INTO sandboxes (\(Self.sandboxColumns))
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
                    COALESCE(NULLIF(?, 0), \(Self.nowSQL)), COALESCE(NULLIF(?, 0), \(Self.nowSQL)),
                    ?, ?, ?, ?, ?)
            RETURNING \(Self.sandboxColumns)
            """, values, row: Self.sandbox) ?? s
    }

    public func getSandbox(_ id: String) throws(StoreError) -> SandboxRecord? {
        try read { connection throws(StoreError) in
            try connection.queryFirst(
                "SELECT \(Self.sandboxColumns) FROM sandboxes WHERE id = ?", [.text(id)], row: Self.sandbox)
        }
    }

    public func listSandboxes(filter: SandboxFilter) throws(StoreError) -> [SandboxRecord] {
        guard filter.limit > 0 else { return [] }
        if let states = filter.states, states.isEmpty { return [] }

        // Only present filters enter the SQL, so indexes stay usable; the handful of shapes this
        // yields each get one cached statement.
        var clauses: [String] = []
        var values: [SQLValue] = []
        if let tenantID = filter.tenantID { clauses.append("tenant_id = ?"); values.append(.text(tenantID)) }
        if let ownerID = filter.ownerID { clauses.append("owner_id = ?"); values.append(.text(ownerID)) }
        if let states = filter.states {
            // One bound JSON array instead of a variable-length IN list keeps the SQL text fixed.
            clauses.append("state IN (SELECT value FROM json_each(?))")
            values.append(.text(JSONText.array(of: states)))
        }
        let afterID = filter.afterID
        return try read { connection throws(StoreError) in
            var clauses = clauses
            var values = values
            if let afterID {
                // created_at never changes, so reading the cursor row separately is race-free.
                guard let cursorCreatedAt = try connection.queryFirst(
                    "SELECT created_at FROM sandboxes WHERE id = ?", [.text(afterID)], row: { $0.int64(0) })
                else { throw .notFound }
                clauses.append("(created_at, id) > (?, ?)")
                values += [.int(cursorCreatedAt), .text(afterID)]
            }
            let whereSQL = clauses.isEmpty ? "" : "WHERE " + clauses.joined(separator: " AND ")
            values.append(.int(filter.limit))
            return try connection.query(
                "SELECT \(Self.sandboxColumns) FROM sandboxes \(whereSQL) ORDER BY created_at, id LIMIT ?",
                values, row: Self.sandbox)
        }
    }

    public func updateSandboxState(id: String, state: String, reason: String?) throws(StoreError) {
        let changed = try write { connection throws(StoreError) in
            try connection.run(
                "UPDATE sandboxes SET state = ?, state_reason = ?, updated_at = \(Self.nowSQL) WHERE id = ?",
                [.text(state), .text(reason), .text(id)])
        }
        if changed == 0 { throw .notFound }
    }

    public func markSandboxRunning(id: String, vmID: String?, workerID: String, previewDomain: String?) throws(StoreError) -> SandboxRecord {
        let row = try write { connection throws(StoreError) in
            try connection.queryFirst(
                """
                UPDATE sandboxes SET state = 'running', state_reason = NULL, vm_id = ?, worker_id = ?,
                    preview_domain = ?, updated_at = \(Self.nowSQL)
                WHERE id = ? AND state = 'creating'
                RETURNING \(Self.sandboxColumns)
                """, [.text(vmID), .text(workerID), .text(previewDomain), .text(id)], row: Self.sandbox)
        }
        guard let row else { throw .notFound }
        return row
    }

    public func setSandboxExpiry(id: String, expiresAt: Int64) throws(StoreError) -> SandboxRecord {
        let row = try write { connection throws(StoreError) in
            try connection.queryFirst(
                """
                UPDATE sandboxes SET expires_at = ?, updated_at = \(Self.nowSQL)
                WHERE id = ? AND state NOT IN ('destroyed', 'expired')
                RETURNING \(Self.sandboxColumns)
                """, [.int(expiresAt), .text(id)], row: Self.sandbox)
        }
        guard let row else { throw .notFound }
        return row
    }

    @discardableResult
    public func deleteSandbox(_ id: String) throws(StoreError) -> Bool {
        try write { connection throws(StoreError) in
            try connection.run("DELETE FROM sandboxes WHERE id = ?", [.text(id)]) > 0
        }
    }

    // MARK: Admission

    public func countActiveSandboxes(tenantID: String?, ownerID: String?) throws(StoreError) -> Int {
        // Only present filters enter the SQL (as in listSandboxes), so each shape is one cached statement.
        var clauses = ["state <> 'destroyed'"]
        var values: [SQLValue] = []
        if let tenantID { clauses.append("tenant_id = ?"); values.append(.text(tenantID)) }
        if let ownerID { clauses.append("owner_id = ?"); values.append(.text(ownerID)) }
        let sql = "SELECT COUNT(*) FROM sandboxes WHERE " + clauses.joined(separator: " AND ")
        return try read { connection throws(StoreError) in
            try connection.queryFirst(sql, values, row: { $0.int(0) }) ?? 0
        }
    }

    public func reserveSandbox(_ sandbox: SandboxRecord, maxActive: Int, maxActiveForOwner: Int) throws(StoreError) -> SandboxRecord? {
        do {
            return try write { connection throws(StoreError) -> SandboxRecord? in
                // Count and insert in one BEGIN IMMEDIATE transaction: no other writer, in this
                // process or another, can slip a sandbox in between.
                try connection.transaction(immediate: true) { () throws(StoreError) -> SandboxRecord? in
                    if maxActive > 0 {
                        let active = try connection.queryFirst(
                            "SELECT COUNT(*) FROM sandboxes WHERE state <> 'destroyed'", [], row: { $0.int(0) }) ?? 0
                        if active >= maxActive { return nil }
                    }
                    if maxActiveForOwner > 0 {
                        let owned = try connection.queryFirst(
                            "SELECT COUNT(*) FROM sandboxes WHERE state <> 'destroyed' AND tenant_id IS ? AND owner_id IS ?",
                            [.text(sandbox.tenantID), .text(sandbox.ownerID)], row: { $0.int(0) }) ?? 0
                        if owned >= maxActiveForOwner { return nil }
                    }
                    return try Self.insertRow(sandbox, on: connection)
                }
            }
        } catch .conflict {
            throw .conflict("sandbox \(sandbox.id) already exists")
        }
    }

    // MARK: Reaper and metrics

    public func listExpiredSandboxes(limit: Int) throws(StoreError) -> [SandboxRecord] {
        guard limit > 0 else { return [] }
        return try read { connection throws(StoreError) in
            // expires_at first so sandboxes_expires_idx drives the scan; database now is read once.
            try connection.query(
                """
                WITH clock(now) AS (SELECT \(Self.nowSQL))
                SELECT \(Self.sandboxColumns) FROM sandboxes, clock
                WHERE expires_at < clock.now
                  AND state NOT IN ('destroyed', 'creating')
                  AND (next_attempt_at IS NULL OR next_attempt_at <= clock.now)
                ORDER BY expires_at, id LIMIT ?
                """, [.int(limit)], row: Self.sandbox)
        }
    }

    public func scheduleSandboxRetry(id: String, afterMs: Int64) throws(StoreError) {
        let changed = try write { connection throws(StoreError) in
            try connection.run(
                "UPDATE sandboxes SET next_attempt_at = \(Self.nowSQL) + ? WHERE id = ?", [.int(afterMs), .text(id)])
        }
        if changed == 0 { throw .notFound }
    }

    @discardableResult
    public func purgeDestroyedSandboxes(olderThanMs: Int64) throws(StoreError) -> Int {
        guard olderThanMs > 0 else { return 0 }
        return try write { connection throws(StoreError) in
            try connection.run(
                "DELETE FROM sandboxes WHERE state = 'destroyed' AND updated_at < \(Self.nowSQL) - ?",
                [.int(olderThanMs)])
        }
    }

    public func sandboxCounts() throws(StoreError) -> [SandboxCount] {
        try read { connection throws(StoreError) in
            try connection.query(
                """
                SELECT state, provider, worker_id, COUNT(*) FROM sandboxes
                GROUP BY state, provider, worker_id
                ORDER BY state, provider, worker_id IS NOT NULL, worker_id
                """
            ) { row in
                SandboxCount(state: row.string(0), provider: row.string(1), workerID: row.optionalString(2), count: row.int(3))
            }
        }
    }

    // MARK: Sandboxes by worker (workers.md §4.1, §10)

    public func sandboxesOnWorker(_ workerID: String, states: [String]?) throws(StoreError) -> [SandboxRecord] {
        try read { connection throws(StoreError) in
            if let states {
                guard !states.isEmpty else { return [] }
                let marks = Array(repeating: "?", count: states.count).joined(separator: ", ")
                return try connection.query(
                    "SELECT \(Self.sandboxColumns) FROM sandboxes WHERE worker_id = ? AND state IN (\(marks)) ORDER BY id",
                    [.text(workerID)] + states.map { .text($0) }, row: Self.sandbox)
            }
            return try connection.query(
                "SELECT \(Self.sandboxColumns) FROM sandboxes WHERE worker_id = ? AND state <> 'destroyed' ORDER BY id",
                [.text(workerID)], row: Self.sandbox)
        }
    }

    public func markWorkerSandboxes(_ workerID: String, fromStates: [String], state: String, reason: String?) throws(StoreError) -> [SandboxRecord] {
        guard !fromStates.isEmpty else { return [] }
        let marks = Array(repeating: "?", count: fromStates.count).joined(separator: ", ")
        return try write { connection throws(StoreError) in
            try connection.query(
                """
                UPDATE sandboxes SET state = ?, state_reason = ?, updated_at = \(Self.nowSQL)
                WHERE worker_id = ? AND state IN (\(marks))
                RETURNING \(Self.sandboxColumns)
                """, [.text(state), .text(reason), .text(workerID)] + fromStates.map { .text($0) }, row: Self.sandbox)
        }
    }

    public func clampWorkerSandboxExpiry(_ workerID: String, deadline: Int64) throws(StoreError) -> [SandboxRecord] {
        try write { connection throws(StoreError) in
            try connection.query(
                """
                UPDATE sandboxes SET original_expires_at = expires_at,
                    expires_at = MIN(COALESCE(expires_at, ?), ?), updated_at = \(Self.nowSQL)
                WHERE worker_id = ? AND state NOT IN ('destroyed', 'expired', 'creating')
                RETURNING \(Self.sandboxColumns)
                """, [.int(deadline), .int(deadline), .text(workerID)], row: Self.sandbox)
        }
    }

    public func restoreWorkerSandboxExpiry(_ workerID: String) throws(StoreError) -> [SandboxRecord] {
        try write { connection throws(StoreError) in
            try connection.query(
                """
                UPDATE sandboxes SET expires_at = original_expires_at, updated_at = \(Self.nowSQL)
                WHERE worker_id = ? AND state NOT IN ('destroyed', 'expired', 'creating')
                  AND original_expires_at IS NOT NULL AND original_expires_at > COALESCE(expires_at, 0)
                  AND original_expires_at > \(Self.nowSQL)
                RETURNING \(Self.sandboxColumns)
                """, [.text(workerID)], row: Self.sandbox)
        }
    }

    public func markSandboxDestroyPending(id: String) throws(StoreError) {
        let changed = try write { connection throws(StoreError) in
            try connection.run(
                """
                UPDATE sandboxes SET state = 'destroyed', state_reason = 'destroy_pending', reap_pending = 1,
                    updated_at = \(Self.nowSQL)
                WHERE id = ?
                """, [.text(id)])
        }
        if changed == 0 { throw .notFound }
    }

    public func revocations(workerID: String) throws(StoreError) -> [(sandboxID: String, generation: Int64)] {
        let rows: [Revocation] = try read { connection throws(StoreError) in
            try connection.query(
                """
                SELECT s.id, l.generation FROM sandboxes s JOIN leases l ON l.resource_id = s.id
                WHERE s.worker_id = ? AND s.state = 'destroyed' AND s.reap_pending = 1
                ORDER BY s.id
                """, [.text(workerID)], row: { Revocation(sandboxID: $0.string(0), generation: $0.int64(1)) })
        }
        return rows.map { ($0.sandboxID, $0.generation) }
    }

    public func clearReapPending(id: String) throws(StoreError) {
        let changed = try write { connection throws(StoreError) in
            try connection.run("UPDATE sandboxes SET reap_pending = 0, updated_at = \(Self.nowSQL) WHERE id = ?", [.text(id)])
        }
        if changed == 0 { throw .notFound }
    }
}

private struct Revocation: Sendable {
    let sandboxID: String
    let generation: Int64
}
