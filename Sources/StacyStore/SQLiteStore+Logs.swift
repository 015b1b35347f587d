// Exec logs (runtime.md §4) and operation audit rows (runtime.md §8), both written in batches by
// the asynchronous batched writer.
extension SQLiteStore {
    // MARK: Exec logs

    private static let execLogColumns = "id, sandbox_id, command, argv, exit_code, stdout, stderr, duration_ms, created_at"

    private static func execLog(_ row: SQLiteStatement) -> ExecLogRecord {
        ExecLogRecord(
            id: row.int64(0), sandboxID: row.string(1), command: row.string(2), argvJSON: row.string(3),
            exitCode: row.optionalInt64(4).map { Int($0) }, stdout: row.optionalString(5),
            stderr: row.optionalString(6), durationMs: row.optionalInt64(7), createdAt: row.int64(8))
    }

    public func appendExecLogs(_ logs: [ExecLogRecord]) throws(StoreError) {
        guard !logs.isEmpty else { return }
        try write { connection throws(StoreError) in
            try connection.transaction(immediate: true) { () throws(StoreError) in
                for log in logs {
                    try connection.run(
                        """
                        INSERT INTO exec_logs (sandbox_id, command, argv, exit_code, stdout, stderr, duration_ms, created_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, COALESCE(NULLIF(?, 0), \(Self.nowSQL)))
                        """,
                        [
                            .text(log.sandboxID), .text(log.command), .text(log.argvJSON),
                            .int(log.exitCode.map { Int64($0) }), .text(log.stdout), .text(log.stderr),
                            .int(log.durationMs), .int(log.createdAt),
                        ])
                }
            }
        }
    }

    public func listExecLogs(sandboxID: String, limit: Int) throws(StoreError) -> [ExecLogRecord] {
        guard limit > 0 else { return [] }
        return try read { connection throws(StoreError) in
            try connection.query(
                """
                SELECT \(Self.execLogColumns) FROM exec_logs WHERE sandbox_id = ?
                ORDER BY created_at DESC, id DESC LIMIT ?
                """, [.text(sandboxID), .int(limit)], row: Self.execLog)
        }
    }

    @discardableResult
    public func pruneExecLogs(olderThanMs: Int64) throws(StoreError) -> Int {
        guard olderThanMs > 0 else { return 0 }
        return try write { connection throws(StoreError) in
            try connection.run("DELETE FROM exec_logs WHERE created_at < \(Self.nowSQL) - ?", [.int(olderThanMs)])
        }
    }

    // MARK: Operation audit

    private static let operationAuditColumns = """
    id, actor, on_behalf_of, tenant_id, action, sandbox_id, resource, provider, worker_id, status, detail, created_at
    """

    private static func operationAudit(_ row: SQLiteStatement) -> OperationAuditRecord {
        OperationAuditRecord(
            id: row.int64(0), actor: row.string(1), onBehalfOf: row.optionalString(2),
            tenantID: row.optionalString(3), action: row.string(4), sandboxID: row.optionalString(5),
            resource: row.optionalString(6), provider: row.optionalString(7), workerID: row.optionalString(8),
            status: row.string(9), detail: row.optionalString(10), createdAt: row.int64(11))
    }

    public func appendOperationAudits(_ audits: [OperationAuditRecord]) throws(StoreError) {
        guard !audits.isEmpty else { return }
        try write { connection throws(StoreError) in
            try connection.transaction(immediate: true) { () throws(StoreError) in
                for audit in audits {
                    try connection.run(
                        """
                        INSERT INTO operation_audit_logs (actor, on_behalf_of, tenant_id, action, sandbox_id,
                            resource, provider, worker_id, status, detail, created_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, COALESCE(NULLIF(?, 0), \(Self.nowSQL)))
                        """,
                        [
                            .text(audit.actor), .text(audit.onBehalfOf), .text(audit.tenantID),
                            .text(audit.action), .text(audit.sandboxID), .text(audit.resource),
                            .text(audit.provider), .text(audit.workerID), .text(audit.status),
                            .text(audit.storedDetail), .int(audit.createdAt),
                        ])
                }
            }
        }
    }

    public func listOperationAudits(sandboxID: String?, limit: Int) throws(StoreError) -> [OperationAuditRecord] {
        guard limit > 0 else { return [] }
        return try read { connection throws(StoreError) in
            // Two fixed texts rather than `(? IS NULL OR sandbox_id = ?)`, which would defeat the index.
            if let sandboxID {
                return try connection.query(
                    """
                    SELECT \(Self.operationAuditColumns) FROM operation_audit_logs WHERE sandbox_id = ?
                    ORDER BY created_at DESC, id DESC LIMIT ?
                    """, [.text(sandboxID), .int(limit)], row: Self.operationAudit)
            }
            return try connection.query(
                """
                SELECT \(Self.operationAuditColumns) FROM operation_audit_logs
                ORDER BY created_at DESC, id DESC LIMIT ?
                """, [.int(limit)], row: Self.operationAudit)
        }
    }
}
