// Idempotency keys (api.md §1). A row is (principal, key) → the request's SHA-256 and, once the
// request finished with a non-5xx result, its status and body. Rows older than
// `IdempotencyReservation.windowMs` by database time no longer count and are replaced on reservation.
extension SQLiteStore {
    /// One stored row as the reservation sees it: the hash, the state, the result, and whether the
    /// row has outlived the window.
    private struct IdempotencyRow: Sendable {
        var requestSHA256: String
        var done: Bool
        var status: Int
        var response: String
        var expired: Bool
    }

    public func reserveIdempotencyKey(
        principal: String, key: String, requestSHA256: String
    ) throws(StoreError) -> IdempotencyReservation {
        try write { connection throws(StoreError) in
            // BEGIN IMMEDIATE takes the database write lock before the read, so two store instances
            // (two processes) reserving one key are serialized and only the first sees no row.
            try connection.transaction(immediate: true) { () throws(StoreError) -> IdempotencyReservation in
                let row = try connection.queryFirst(
                    """
                    SELECT request_sha256, state = 'done', COALESCE(status, 0), COALESCE(response, ''),
                           created_at < \(Self.nowSQL) - ?
                    FROM idempotency_keys WHERE principal = ? AND key = ?
                    """, [.int(IdempotencyReservation.windowMs), .text(principal), .text(key)],
                    row: { IdempotencyRow(
                        requestSHA256: $0.string(0), done: $0.bool(1), status: $0.int(2), response: $0.string(3),
                        expired: $0.bool(4)) })
                if let row, !row.expired {
                    if row.requestSHA256 != requestSHA256 { return .mismatch }
                    return row.done ? .done(status: row.status, response: row.response) : .inProgress
                }
                // No row, or an expired one: (re)start the window for this request.
                try connection.run(
                    """
                    INSERT INTO idempotency_keys (principal, key, request_sha256, state, status, response, created_at)
                    VALUES (?, ?, ?, 'in_progress', NULL, NULL, \(Self.nowSQL))
                    ON CONFLICT (principal, key) DO UPDATE SET
                        request_sha256 = excluded.request_sha256, state = 'in_progress', status = NULL,
                        response = NULL, created_at = excluded.created_at
                    """, [.text(principal), .text(key), .text(requestSHA256)])
                return .reserved
            }
        }
    }

    public func completeIdempotencyKey(principal: String, key: String, status: Int, response: String) throws(StoreError) {
        let changed = try write { connection throws(StoreError) in
            try connection.run(
                """
                UPDATE idempotency_keys SET state = 'done', status = ?, response = ?
                WHERE principal = ? AND key = ?
                """, [.int(status), .text(response), .text(principal), .text(key)])
        }
        if changed == 0 { throw .notFound }
    }

    public func releaseIdempotencyKey(principal: String, key: String) throws(StoreError) {
        try write { connection throws(StoreError) in
            _ = try connection.run(
                "DELETE FROM idempotency_keys WHERE principal = ? AND key = ?", [.text(principal), .text(key)])
        }
    }

    @discardableResult
    public func pruneIdempotencyKeys(olderThanMs: Int64) throws(StoreError) -> Int {
        guard olderThanMs > 0 else { return 0 }
        return try write { connection throws(StoreError) in
            try connection.run(
                "DELETE FROM idempotency_keys WHERE created_at < \(Self.nowSQL) - ?", [.int(olderThanMs)])
        }
    }
}
