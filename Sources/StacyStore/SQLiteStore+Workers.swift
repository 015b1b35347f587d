// The worker registry (workers.md §4, §4.1, §10) and the per-worker usage the scheduler re-checks
// (workers.md §9). Every time is database time; the heartbeat's epoch rule is decided inside one
// BEGIN IMMEDIATE transaction, so two processes heartbeating under one ID are serialized.
extension SQLiteStore {
    static let workerColumns = """
    id, hostname, status, liveness, admin_state, epoch, started_at, protocol_version, version,
    heartbeat_interval_ms, providers, capabilities, capacity, usage, labels, last_heartbeat,
    drain_started_at, drain_deadline, drain_reason, created_at, updated_at
    """

    /// Decodes a row selected with `workerColumns`, in that order.
    static func worker(_ row: SQLiteStatement) -> WorkerRecord {
        WorkerRecord(
            id: row.string(0), hostname: row.string(1), status: row.string(2), liveness: row.string(3),
            adminState: row.string(4), epoch: row.string(5), startedAt: row.optionalInt64(6),
            protocolVersion: row.int(7), version: row.string(8), heartbeatIntervalMs: row.optionalInt64(9),
            providersJSON: row.string(10), capabilitiesJSON: row.string(11), capacityJSON: row.string(12),
            usageJSON: row.string(13), labelsJSON: row.string(14), lastHeartbeat: row.optionalInt64(15),
            drainStartedAt: row.optionalInt64(16), drainDeadline: row.optionalInt64(17),
            drainReason: row.optionalString(18), createdAt: row.int64(19), updatedAt: row.int64(20))
    }

    /// The stored row as the heartbeat sees it, plus whether its epoch has been silent long enough.
    private struct HeartbeatCurrent: Sendable {
        var worker: WorkerRecord
        var silent: Bool
    }

    public func recordHeartbeat(_ heartbeat: WorkerHeartbeat, staleAfterMs: Int64) throws(StoreError) -> HeartbeatOutcome {
        try write { connection throws(StoreError) in
            // BEGIN IMMEDIATE takes the file's write lock before the read, so the decision below is
            // made on the row no other process (or store instance) can change until COMMIT.
            try connection.transaction(immediate: true) { () throws(StoreError) -> HeartbeatOutcome in
                let current = try connection.queryFirst(
                    """
                    SELECT \(Self.workerColumns),
                           last_heartbeat IS NULL OR \(Self.nowSQL) - last_heartbeat >= ?
                    FROM workers WHERE id = ?
                    """, [.int(staleAfterMs), .text(heartbeat.workerID)],
                    row: { HeartbeatCurrent(worker: Self.worker($0), silent: $0.bool(21)) })

                // The epoch and started_at to store; a nil started_at means database now.
                let epoch: String
                let startedAt: Int64?
                if let previous = current?.worker {
                    if let reported = heartbeat.epoch, reported != previous.epoch {
                        // Another process under this ID: it replaces the stored epoch only if it
                        // started later, or if the stored epoch has stopped beating.
                        // A started_at the row never had counts as earlier than any reported one.
                        let later = heartbeat.startedAt.map { started in
                            previous.startedAt.map { started > $0 } ?? true
                        } ?? false
                        guard later || current?.silent == true else {
                            return .superseded(currentEpoch: previous.epoch)
                        }
                        epoch = reported
                        startedAt = heartbeat.startedAt
                    } else if let reported = heartbeat.epoch {
                        // The same process again.
                        epoch = reported
                        startedAt = heartbeat.startedAt ?? previous.startedAt ?? previous.createdAt
                    } else {
                        // A plain REST heartbeat keeps whatever the row has (first seen = created_at).
                        epoch = previous.epoch.isEmpty ? "legacy" : previous.epoch
                        startedAt = previous.startedAt ?? previous.createdAt
                    }
                } else {
                    epoch = heartbeat.epoch ?? "legacy"
                    startedAt = heartbeat.startedAt
                }

                let values: [SQLValue] = [
                    .text(heartbeat.workerID), .text(heartbeat.hostname), .text(heartbeat.status), .text(epoch),
                    .int(startedAt), .int(heartbeat.protocolVersion), .text(heartbeat.version),
                    .int(heartbeat.heartbeatIntervalMs), .text(heartbeat.providersJSON),
                    .text(heartbeat.capabilitiesJSON), .text(heartbeat.capacityJSON), .text(heartbeat.usageJSON),
                    .text(heartbeat.labelsJSON),
                ]
                // admin_state and the drain columns are left to their defaults on insert and are not
                // in the update list; created_at is never updated. 'now' is fixed within the statement.
                let stored = try connection.queryFirst(
                    """
                    INSERT INTO workers (
                        id, hostname, status, liveness, epoch, started_at, protocol_version, version,
                        heartbeat_interval_ms, providers, capabilities, capacity, usage, labels, last_heartbeat,
                        created_at, updated_at)
                    VALUES (?, ?, ?, 'alive', ?, COALESCE(?, \(Self.nowSQL)), ?, ?, ?, ?, ?, ?, ?, ?,
                            \(Self.nowSQL), \(Self.nowSQL), \(Self.nowSQL))
                    ON CONFLICT (id) DO UPDATE SET
                        hostname = excluded.hostname, status = excluded.status, liveness = 'alive',
                        epoch = excluded.epoch, started_at = excluded.started_at,
                        protocol_version = excluded.protocol_version, version = excluded.version,
                        heartbeat_interval_ms = excluded.heartbeat_interval_ms, providers = excluded.providers,
                        capabilities = excluded.capabilities, capacity = excluded.capacity, usage = excluded.usage,
                        labels = excluded.labels, last_heartbeat = excluded.last_heartbeat,
                        updated_at = excluded.updated_at
                    RETURNING \(Self.workerColumns)
                    """, values, row: Self.worker)
                guard let stored else { throw .internal("worker heartbeat upsert returned no row") }
                return .accepted(worker: stored, previous: current?.worker)
            }
        }
    }

    public func getWorker(_ id: String) throws(StoreError) -> WorkerRecord? {
        try read { connection throws(StoreError) in
            try connection.queryFirst("SELECT \(Self.workerColumns) FROM workers WHERE id = ?", [.text(id)], row: Self.worker)
        }
    }

    public func listWorkers(limit: Int, afterID: String?) throws(StoreError) -> [WorkerRecord] {
        guard limit > 0 else { return [] }
        return try read { connection throws(StoreError) in
            if let afterID {
                return try connection.query(
                    "SELECT \(Self.workerColumns) FROM workers WHERE id > ? ORDER BY id LIMIT ?",
                    [.text(afterID), .int(limit)], row: Self.worker)
            }
            return try connection.query(
                "SELECT \(Self.workerColumns) FROM workers ORDER BY id LIMIT ?", [.int(limit)], row: Self.worker)
        }
    }

    public func setWorkerLiveness(id: String, liveness: String) throws(StoreError) {
        let changed = try write { connection throws(StoreError) in
            try connection.run(
                "UPDATE workers SET liveness = ?, updated_at = \(Self.nowSQL) WHERE id = ?", [.text(liveness), .text(id)])
        }
        if changed == 0 { throw .notFound }
    }

    @discardableResult
    public func setWorkerAdminState(
        id: String, adminState: String, drainStartedAt: Int64?, drainDeadline: Int64?, drainReason: String?
    ) throws(StoreError) -> WorkerRecord {
        let row = try write { connection throws(StoreError) in
            try connection.queryFirst(
                """
                UPDATE workers SET admin_state = ?, drain_started_at = ?, drain_deadline = ?, drain_reason = ?,
                    updated_at = \(Self.nowSQL)
                WHERE id = ?
                RETURNING \(Self.workerColumns)
                """, [.text(adminState), .int(drainStartedAt), .int(drainDeadline), .text(drainReason), .text(id)],
                row: Self.worker)
        }
        guard let row else { throw .notFound }
        return row
    }

    @discardableResult
    public func deleteWorker(_ id: String) throws(StoreError) -> Bool {
        try write { connection throws(StoreError) in
            try connection.run("DELETE FROM workers WHERE id = ?", [.text(id)]) > 0
        }
    }

    public func workerUsage() throws(StoreError) -> [WorkerUsage] {
        try read { connection throws(StoreError) in
            try connection.query(
                """
                SELECT worker_id, COUNT(*), COALESCE(SUM(vcpus), 0), COALESCE(SUM(memory_mb), 0)
                FROM sandboxes
                WHERE worker_id IS NOT NULL AND (state <> 'destroyed' OR reap_pending <> 0)
                GROUP BY worker_id ORDER BY worker_id
                """
            ) { row in
                WorkerUsage(workerID: row.string(0), sandboxes: row.int(1), vcpus: row.int(2), memoryMB: row.int(3))
            }
        }
    }
}
