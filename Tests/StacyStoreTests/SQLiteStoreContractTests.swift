import Foundation
@testable import StacyStore
import XCTest

/// Runs the shared contract against SQLite files in a per-test temporary directory, plus the
/// checks that need raw SQL or SQLite internals.
final class SQLiteStoreContractTests: StoreContractTests {
    private var directory: URL?
    private var databasePath: String?

    override func setUpWithError() throws {
        try super.setUpWithError()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("stacystore-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        directory = dir
    }

    override func tearDown() {
        super.tearDown()  // closes stores before their files go
        if let directory { try? FileManager.default.removeItem(at: directory) }
    }

    override func makeStore() throws -> any Store {
        let path = try XCTUnwrap(directory).appendingPathComponent("stacyvm-\(UUID().uuidString).db").path
        databasePath = path
        return try SQLiteStore(path: path)
    }

    override func openAnotherStore() throws -> any Store {
        try SQLiteStore(path: try XCTUnwrap(databasePath))
    }

    // MARK: SQLite-specific

    func testChecksumMismatchIsDetected() throws {
        let store = try migratedStore()
        let raw = try SQLiteConnection(path: try XCTUnwrap(databasePath), role: .writer)
        try raw.run("UPDATE schema_migrations SET checksum = 'tampered' WHERE version = 1")
        let status = try store.migrationStatus()
        XCTAssertEqual(status.checksumMismatches, [1])
        assertStoreError(.migrationChecksumMismatch(1)) { _ = try store.migrate(to: nil) }
    }

    func testUnknownAppliedVersionRefusesMigrate() throws {
        let store = try migratedStore()
        let raw = try SQLiteConnection(path: try XCTUnwrap(databasePath), role: .writer)
        try raw.run("INSERT INTO schema_migrations VALUES (999, 'future', 'x', 0)")
        XCTAssertEqual(try store.migrationStatus().unknownApplied, [999])
        XCTAssertThrowsError(try store.migrate(to: nil))
    }

    func testPragmasAndSchema() throws {
        let store = try migratedStore()
        let sqlite = try XCTUnwrap(store as? SQLiteStore)
        let (journal, foreignKeys, busy) = try sqlite.read { c throws(StoreError) in
            (try c.queryFirst("PRAGMA journal_mode") { $0.string(0) },
             try c.queryFirst("PRAGMA foreign_keys") { $0.int(0) },
             try c.queryFirst("PRAGMA busy_timeout") { $0.int(0) })
        }
        XCTAssertEqual(journal, "wal")
        XCTAssertEqual(foreignKeys, 1)
        XCTAssertEqual(busy, 5000)
        XCTAssertEqual(try sqlite.write { c throws(StoreError) in try c.queryFirst("PRAGMA synchronous") { $0.int(0) } }, 1, "NORMAL")

        let tables = try sqlite.read { c throws(StoreError) in
            try c.query("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name") { $0.string(0) }
        }
        XCTAssertEqual(tables, [
            "admin_audit_logs", "api_keys", "control_planes", "event_tickets", "events", "exec_logs",
            "idempotency_keys", "leases", "operation_audit_logs", "owner_quotas", "policies",
            "sandboxes", "schema_migrations", "settings", "templates", "tenant_members", "tenants",
            "worker_credentials", "workers",
        ])
        let leaseColumns = try sqlite.read { c throws(StoreError) in
            try c.query("SELECT name FROM pragma_table_info('leases') ORDER BY cid") { $0.string(0) }
        }
        XCTAssertEqual(leaseColumns, ["resource_id", "resource_type", "holder_id", "holder_epoch", "generation", "expires_at", "created_at", "updated_at"])
        let sandboxIndexes = try sqlite.read { c throws(StoreError) in
            try c.query("SELECT name FROM pragma_index_list('sandboxes') WHERE origin = 'c' ORDER BY name") { $0.string(0) }
        }
        XCTAssertEqual(sandboxIndexes, ["sandboxes_created_idx", "sandboxes_expires_idx", "sandboxes_state_idx", "sandboxes_tenant_owner_idx", "sandboxes_worker_idx"])
    }

    /// Another process holding the write lock past busy_timeout surfaces as `.busy`, and reads
    /// keep working meanwhile (WAL).
    func testLockedDatabaseMapsToBusy() throws {
        _ = try migratedStore()
        let path = try XCTUnwrap(databasePath)
        let impatient = try SQLiteStore(path: path, busyTimeoutMs: 50)
        defer { impatient.close() }
        let blocker = try SQLiteConnection(path: path, role: .writer)
        try blocker.execute("BEGIN IMMEDIATE")
        assertStoreError(.busy) { try impatient.putSetting(key: "k", valueJSON: "1", updatedBy: nil) }
        XCTAssertEqual(try impatient.listSettings(), [])
        try blocker.execute("ROLLBACK")
        try impatient.putSetting(key: "k", valueJSON: "1", updatedBy: nil)
    }

    /// Several processes opening and migrating a brand-new file at once (WAL switch included).
    func testConcurrentOpenAndMigrateOnFreshFile() throws {
        let dir = try XCTUnwrap(directory)
        for round in 0..<6 {
            let path = dir.appendingPathComponent("race-\(round).db").path
            let applied = Collector<Int>()
            let failures = Collector<String>()
            XCTAssertTrue(runOnThreads(4) { _ in
                do {
                    let store = try SQLiteStore(path: path)
                    defer { store.close() }
                    for record in try store.migrate(to: nil) { applied.append(record.version) }
                } catch {
                    failures.append("\(error)")
                }
            })
            XCTAssertEqual(failures.all, [], "round \(round)")
            XCTAssertEqual(applied.all.sorted(), Array(1...SQLiteMigrations.all.count), "round \(round)")
        }
    }

    func testReadersAreQueryOnly() throws {
        let store = try XCTUnwrap(try migratedStore() as? SQLiteStore)
        XCTAssertThrowsError(try store.read { c throws(StoreError) in
            try c.run("DELETE FROM settings")
        })
    }

    func testStatementCacheSurvivesErrorsAndReuse() throws {
        let store = try migratedStore()
        // Same cached INSERT fails with a conflict, then must work again (reset + clear bindings).
        try store.insertSandbox(sandbox("sb-000000000000000000000040"))
        assertStoreError(.conflict("sandbox sb-000000000000000000000040 already exists")) {
            try store.insertSandbox(self.sandbox("sb-000000000000000000000040"))
        }
        try store.insertSandbox(sandbox("sb-000000000000000000000041"))
        XCTAssertNil(try store.getSandbox("sb-000000000000000000000041")?.ownerID, "no stale binding")
    }

    /// A batch is one transaction: a row the database rejects (here through a test trigger) in the
    /// middle of a batch leaves none of the batch behind, and the writer stays usable.
    func testBatchAppendsAreAllOrNothing() throws {
        let store = try migratedStore()
        let raw = try SQLiteConnection(path: try XCTUnwrap(databasePath), role: .writer)
        try raw.execute("""
            CREATE TRIGGER reject_event BEFORE INSERT ON events WHEN NEW.type = 'boom'
                BEGIN SELECT RAISE(ABORT, 'rejected'); END;
            CREATE TRIGGER reject_exec_log BEFORE INSERT ON exec_logs WHEN NEW.command = 'boom'
                BEGIN SELECT RAISE(ABORT, 'rejected'); END;
            CREATE TRIGGER reject_audit BEFORE INSERT ON operation_audit_logs WHEN NEW.action = 'boom'
                BEGIN SELECT RAISE(ABORT, 'rejected'); END;
            """)

        XCTAssertThrowsError(try store.appendEvents([
            EventRecord(type: "ok-1"), EventRecord(type: "boom"), EventRecord(type: "ok-2"),
        ]))
        XCTAssertNil(try store.latestEventSeq(), "first row of the failed batch rolled back")
        XCTAssertEqual(try store.appendEvents([EventRecord(type: "ok-3")]).count, 1)
        XCTAssertEqual(try store.listEvents(afterSeq: 0, limit: 10).map(\.type), ["ok-3"])

        let sb = "sb-000000000000000000000070"
        XCTAssertThrowsError(try store.appendExecLogs([
            ExecLogRecord(sandboxID: sb, command: "ok-1"), ExecLogRecord(sandboxID: sb, command: "boom"),
        ]))
        XCTAssertEqual(try store.listExecLogs(sandboxID: sb, limit: 10), [])
        try store.appendExecLogs([ExecLogRecord(sandboxID: sb, command: "ok-2")])
        XCTAssertEqual(try store.listExecLogs(sandboxID: sb, limit: 10).map(\.command), ["ok-2"])

        XCTAssertThrowsError(try store.appendOperationAudits([
            OperationAuditRecord(actor: "a", action: "ok-1", status: "ok"),
            OperationAuditRecord(actor: "a", action: "boom", status: "ok"),
        ]))
        XCTAssertEqual(try store.listOperationAudits(sandboxID: nil, limit: 10), [])
        try store.appendOperationAudits([OperationAuditRecord(actor: "a", action: "ok-2", status: "ok")])
        XCTAssertEqual(try store.listOperationAudits(sandboxID: nil, limit: 10).map(\.action), ["ok-2"])
    }

    /// The store keeps `detail` within the table's CHECK (length(detail) <= 2048), which counts
    /// characters the way `maxDetailLength` does.
    func testAuditDetailTruncationMatchesTheCheckConstraint() throws {
        let store = try XCTUnwrap(try migratedStore() as? SQLiteStore)
        try store.appendOperationAudits([
            OperationAuditRecord(actor: "a", action: "x", status: "ok", detail: String(repeating: "ü🚀", count: 1_500)),
        ])
        let length = try store.read { c throws(StoreError) in
            try c.queryFirst("SELECT length(detail) FROM operation_audit_logs") { $0.int(0) }
        }
        XCTAssertEqual(length, OperationAuditRecord.maxDetailLength)
        // Without truncation the database itself refuses the row.
        XCTAssertThrowsError(try store.write { c throws(StoreError) in
            try c.run(
                "INSERT INTO operation_audit_logs (actor, action, status, detail, created_at) VALUES ('a', 'x', 'ok', ?, 1)",
                [.text(String(repeating: "a", count: OperationAuditRecord.maxDetailLength + 1))])
        })
    }

    /// "Inherit" is stored as NULL; a 0 written by anything else must read and count the same way.
    func testOwnerQuotaInheritIsNullAndStrayZeroReadsAsInherit() throws {
        let store = try XCTUnwrap(try migratedStore() as? SQLiteStore)
        try store.putOwnerQuota(OwnerQuotaRecord(ownerID: "a", maxSandboxes: 0, maxTTLSeconds: 60))
        let raw = try store.read { c throws(StoreError) in
            try c.queryFirst("SELECT max_sandboxes IS NULL, max_ttl_seconds, max_exec_timeout_seconds IS NULL FROM owner_quotas") {
                [$0.int(0), $0.int(1), $0.int(2)]
            }
        }
        XCTAssertEqual(raw, [1, 60, 1])
        try store.write { c throws(StoreError) in
            _ = try c.run(
                """
                INSERT INTO owner_quotas (owner_id, max_sandboxes, max_ttl_seconds, max_exec_timeout_seconds, created_at, updated_at)
                VALUES ('z', 0, 0, 0, 5, 6)
                """)
        }
        XCTAssertEqual(try store.getOwnerQuota("z"), OwnerQuotaRecord(ownerID: "z", createdAt: 5, updatedAt: 6))
        XCTAssertEqual(try quotaSummary(store), [2, 0, 1, 0])
    }

    /// Unset template fields ("" / 0, a global tenant) are stored as NULL; NULL or a stray ""/0
    /// written by anything else reads, and lists, the same way.
    func testTemplateUnsetFieldsAreNullAndStrayEmptyReadsAsUnset() throws {
        let store = try XCTUnwrap(try migratedStore() as? SQLiteStore)
        try store.insertTemplate(TemplateRecord(name: "bare", onDrain: ""))
        let nulls = try store.read { c throws(StoreError) in
            try c.queryFirst(
                """
                SELECT tenant_id IS NULL, image IS NULL, memory_mb IS NULL, vcpus IS NULL, ttl IS NULL,
                       ttl_ms IS NULL, provider IS NULL, on_drain IS NULL, metadata, env, setup, version
                FROM templates WHERE name = 'bare'
                """) { [$0.string(0), $0.string(1), $0.string(2), $0.string(3), $0.string(4), $0.string(5),
                        $0.string(6), $0.string(7), $0.string(8), $0.string(9), $0.string(10), $0.string(11)] }
        }
        XCTAssertEqual(nulls, ["1", "1", "1", "1", "1", "1", "1", "1", "{}", "{}", "[]", "1"])
        try store.write { c throws(StoreError) in
            _ = try c.run(
                """
                INSERT INTO templates (name, tenant_id, image, memory_mb, vcpus, ttl, ttl_ms, provider, on_drain,
                                       created_at, updated_at)
                VALUES ('stray', '', '', 0, 0, '', 0, '', '', 5, 6), ('nulls', NULL, NULL, NULL, NULL, NULL, NULL,
                        NULL, NULL, 7, 8)
                """)
        }
        XCTAssertEqual(try store.getTemplate("stray"), TemplateRecord(name: "stray", onDrain: "", createdAt: 5, updatedAt: 6))
        XCTAssertEqual(try store.getTemplate("nulls"), TemplateRecord(name: "nulls", onDrain: "", createdAt: 7, updatedAt: 8))
        XCTAssertEqual(try store.listTemplates(tenantIDs: [""], limit: 10, afterName: nil).map(\.name),
                       ["bare", "nulls", "stray"], "NULL and '' tenants are both global")
        let replaced = try store.replaceTemplate(TemplateRecord(name: "stray", tenantID: "t1", image: "img"))
        XCTAssertEqual(replaced.version, 2, "a stored version of 1 from the column default")
        XCTAssertEqual(replaced.createdAt, 5)
    }

    /// The stored columns, and the 24 h window by database time: a row just inside it still counts,
    /// a row just outside it is replaced by the next reservation, whatever its hash or state.
    func testIdempotencyRowsAndTheDayWindow() throws {
        let store = try XCTUnwrap(try migratedStore() as? SQLiteStore)
        func row(_ key: String) throws -> [String]? {
            try store.read { c throws(StoreError) in
                try c.queryFirst(
                    """
                    SELECT request_sha256, state, COALESCE(status, 'NULL'), COALESCE(response, 'NULL'),
                           \(SQLiteStore.nowSQL) - created_at < 60000
                    FROM idempotency_keys WHERE principal = 'p' AND key = ?
                    """, [.text(key)]) { [$0.string(0), $0.string(1), $0.string(2), $0.string(3), $0.string(4)] }
            }
        }
        func age(_ key: String, byMs ms: Int64) throws {
            try store.write { c throws(StoreError) in
                _ = try c.run(
                    "UPDATE idempotency_keys SET created_at = \(SQLiteStore.nowSQL) - ? WHERE principal = 'p' AND key = ?",
                    [.int(ms), .text(key)])
            }
        }

        XCTAssertEqual(IdempotencyReservation.windowMs, 86_400_000)
        XCTAssertEqual(try store.reserveIdempotencyKey(principal: "p", key: "a", requestSHA256: "h1"), .reserved)
        XCTAssertEqual(try row("a"), ["h1", "in_progress", "NULL", "NULL", "1"])
        try store.completeIdempotencyKey(principal: "p", key: "a", status: 201, response: #"{"id":"x"}"#)
        XCTAssertEqual(try row("a"), ["h1", "done", "201", #"{"id":"x"}"#, "1"])

        // Just inside the window (a minute to spare): still the stored result.
        try age("a", byMs: IdempotencyReservation.windowMs - 60_000)
        XCTAssertEqual(try store.reserveIdempotencyKey(principal: "p", key: "a", requestSHA256: "h1"),
                       .done(status: 201, response: #"{"id":"x"}"#))
        XCTAssertEqual(try store.reserveIdempotencyKey(principal: "p", key: "a", requestSHA256: "h2"), .mismatch)

        // Past the window: replaced, even by another body, with a fresh created_at and no result.
        try age("a", byMs: IdempotencyReservation.windowMs + 1_000)
        XCTAssertEqual(try store.reserveIdempotencyKey(principal: "p", key: "a", requestSHA256: "h2"), .reserved)
        XCTAssertEqual(try row("a"), ["h2", "in_progress", "NULL", "NULL", "1"])
        XCTAssertEqual(try store.reserveIdempotencyKey(principal: "p", key: "a", requestSHA256: "h2"), .inProgress)

        // A stale in_progress row (its request died) is replaced too.
        XCTAssertEqual(try store.reserveIdempotencyKey(principal: "p", key: "b", requestSHA256: "h1"), .reserved)
        try age("b", byMs: IdempotencyReservation.windowMs + 1_000)
        XCTAssertEqual(try store.reserveIdempotencyKey(principal: "p", key: "b", requestSHA256: "h1"), .reserved)
        XCTAssertEqual(try row("b"), ["h1", "in_progress", "NULL", "NULL", "1"])

        // Prune with the window removes exactly the stale rows.
        try age("b", byMs: IdempotencyReservation.windowMs + 1_000)
        XCTAssertEqual(try store.pruneIdempotencyKeys(olderThanMs: IdempotencyReservation.windowMs), 1)
        XCTAssertNil(try row("b"))
        XCTAssertNotNil(try row("a"))
    }

    /// Same race as the contract's, but on a row past the window: exactly one reservation replaces it.
    func testConcurrentReservationsReplaceAStaleRowOnce() throws {
        let store = try XCTUnwrap(try migratedStore() as? SQLiteStore)
        let another = try openAnotherStore()
        defer { another.close() }
        let stores: [any Store] = [store, another]
        for round in 0..<5 {
            let key = "stale-\(round)"
            XCTAssertEqual(try store.reserveIdempotencyKey(principal: "p", key: key, requestSHA256: "old"), .reserved)
            try store.completeIdempotencyKey(principal: "p", key: key, status: 201, response: "{}")
            try store.write { c throws(StoreError) in
                _ = try c.run(
                    "UPDATE idempotency_keys SET created_at = created_at - ? WHERE key = ?",
                    [.int(IdempotencyReservation.windowMs + 1_000), .text(key)])
            }
            let outcomes = Collector<IdempotencyReservation>()
            let failures = Collector<String>()
            XCTAssertTrue(runOnThreads(8) { index in
                do {
                    outcomes.append(try stores[index % 2].reserveIdempotencyKey(
                        principal: "p", key: key, requestSHA256: "new"))
                } catch {
                    failures.append("thread \(index): \(error)")
                }
            })
            XCTAssertEqual(failures.all, [], "round \(round)")
            XCTAssertEqual(outcomes.all.filter { $0 == .reserved }.count, 1, "round \(round)")
            XCTAssertEqual(outcomes.all.filter { $0 == .inProgress }.count, 7, "round \(round)")
        }
    }

    /// Migration 3: version 2 stored epochs in INTEGER columns, whose affinity turns an all-digit
    /// epoch into a number. The rebuilt tables keep every row, hold epochs as TEXT and default
    /// capabilities to a JSON array.
    func testMigration3RebuildsWorkersAndLeasesWithTextEpochs() throws {
        let store = try XCTUnwrap(try freshStore() as? SQLiteStore)
        XCTAssertEqual(try store.migrate(to: 2).map(\.version), [1, 2])
        try store.write { c throws(StoreError) in
            try c.execute("""
                INSERT INTO workers (id, status, liveness, created_at, updated_at) VALUES ('w-default', 'online', 'alive', 1, 2);
                INSERT INTO workers (id, status, liveness, epoch, started_at, capabilities, last_heartbeat, created_at, updated_at)
                VALUES ('w-hex', 'draining', 'stale', '9f2c4e1a0b3d5c7e8f9a0b1c2d3e4f50', 5, '["spawn"]', 7, 3, 4);
                INSERT INTO leases VALUES ('sb-1', 'sandbox', 'w-hex', '9f2c4e1a0b3d5c7e8f9a0b1c2d3e4f50', 4, 99, 1, 2);
                INSERT INTO leases VALUES ('leader', 'leader', 'cp-1', 0, 7, 98, 1, 2);
                INSERT INTO leases VALUES ('sb-digits', 'sandbox', 'w-hex', '0042', 1, 97, 1, 2);
                """)
        }
        XCTAssertEqual(try store.write { c throws(StoreError) in
            try c.queryFirst("SELECT typeof(holder_epoch) || ':' || holder_epoch FROM leases WHERE resource_id = 'sb-digits'") { $0.string(0) }
        }, "integer:42", "the version 2 bug this migration fixes")

        XCTAssertEqual(try store.migrate(to: nil).map(\.version), Array(3...SQLiteMigrations.all.count))
        XCTAssertEqual(try store.getWorker("w-default"), WorkerRecord(
            id: "w-default", status: "online", liveness: "alive", epoch: "legacy", protocolVersion: 1,
            capabilitiesJSON: "[]", createdAt: 1, updatedAt: 2))
        XCTAssertEqual(try store.getWorker("w-hex"), WorkerRecord(
            id: "w-hex", status: "draining", liveness: "stale", epoch: "9f2c4e1a0b3d5c7e8f9a0b1c2d3e4f50", startedAt: 5,
            protocolVersion: 1, capabilitiesJSON: #"["spawn"]"#, lastHeartbeat: 7, createdAt: 3, updatedAt: 4))
        XCTAssertEqual(try store.getLease(resourceID: "sb-1"), LeaseRecord(
            resourceID: "sb-1", resourceType: "sandbox", holderID: "w-hex", holderEpoch: "9f2c4e1a0b3d5c7e8f9a0b1c2d3e4f50",
            generation: 4, expiresAt: 99, createdAt: 1, updatedAt: 2))
        XCTAssertEqual(try store.getLease(resourceID: "leader")?.holderEpoch, "legacy")
        XCTAssertEqual(try store.getLease(resourceID: "sb-digits")?.holderEpoch, "42", "lost digits cannot come back")

        let columns = try store.read { c throws(StoreError) in
            try c.query(
                """
                SELECT m.name || '.' || p.name || ' ' || p.type || ' ' || p."notnull" || ' ' || COALESCE(p.dflt_value, 'NULL')
                FROM sqlite_master m, pragma_table_info(m.name) p
                WHERE m.name IN ('workers', 'leases') AND p.name IN ('epoch', 'capabilities', 'holder_epoch')
                ORDER BY m.name, p.cid
                """) { $0.string(0) }
        }
        XCTAssertEqual(columns, [
            "leases.holder_epoch TEXT 1 'legacy'", "workers.epoch TEXT 1 'legacy'", "workers.capabilities TEXT 1 '[]'",
        ])
        let indexes = try store.read { c throws(StoreError) in
            try c.query(
                """
                SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name IN ('workers', 'leases')
                  AND sql IS NOT NULL ORDER BY name
                """) { $0.string(0) }
        }
        XCTAssertEqual(indexes, ["leases_expires_idx", "leases_holder_idx", "workers_liveness_idx"])
        // The rebuilt tables work for the store: heartbeats and leases on the migrated rows.
        guard case .accepted(let worker, _) = try store.recordHeartbeat(
            WorkerHeartbeat(workerID: "w-hex", hostname: "h", status: "online", epoch: "9f2c4e1a0b3d5c7e8f9a0b1c2d3e4f50",
                            startedAt: 5, protocolVersion: 2, version: "1", heartbeatIntervalMs: 1_000, providersJSON: "[]",
                            capabilitiesJSON: "[]", capacityJSON: "{}", usageJSON: "{}", labelsJSON: "{}"),
            staleAfterMs: 60_000)
        else { return XCTFail("heartbeat of the stored epoch refused") }
        XCTAssertEqual(worker.createdAt, 3)
        XCTAssertEqual(try store.acquireLease(resourceID: "sb-1", resourceType: "sandbox", holderID: "w-new",
                                              holderEpoch: "e", expiry: .fromNow(1_000)).generation, 5, "expired: taken over")
    }

    /// Scopes are stored as a JSON array; a row whose scopes are anything else is reported, not guessed at.
    func testWorkerCredentialScopesAreAJSONArray() throws {
        let store = try XCTUnwrap(try migratedStore() as? SQLiteStore)
        try store.insertWorkerCredential(WorkerCredentialRecord(
            id: "wc-1", workerID: "w", secretSHA256: nil, scopes: ["worker:heartbeat", "quote\"d ü"]))
        XCTAssertEqual(try store.read { c throws(StoreError) in
            try c.queryFirst("SELECT scopes FROM worker_credentials") { $0.string(0) }
        }, #"["worker:heartbeat","quote\"d ü"]"#)
        try store.write { c throws(StoreError) in
            _ = try c.run("UPDATE worker_credentials SET scopes = '{\"worker:heartbeat\":true}'")
        }
        XCTAssertThrowsError(try store.getWorkerCredential(id: "wc-1")) { error in
            guard case .internal = error as? StoreError else { return XCTFail("expected internal, got \(error)") }
        }
    }

    func testJSONTextStringArrayParsesWhatArrayWrites() {
        let samples: [[String]] = [
            [], [""], ["a"], ["worker:heartbeat", "worker:lease"], ["quote\" back\\slash / ü 🚀 日本語"],
            ["\u{0}\u{1}\u{1f}\t\n\r"],
        ]
        for sample in samples {
            XCTAssertEqual(JSONText.stringArray(JSONText.array(of: sample)), sample)
        }
        XCTAssertEqual(JSONText.stringArray(#" [ "a" , "\u00fc\ud83d\ude80\/\b\f" ] "#), ["a", "ü🚀/\u{8}\u{c}"])
        for bad in ["", "{}", "[", "]", "[1]", #"["a",]"#, #"["a" "b"]"#, #"["a"] x"#, #"["\x"]"#, #"["\ud83d"]"#,
                    #"["\udc00"]"#, "[\"\u{1}\"]", #"["\u12"]"#, "null", #""a""#] {
            XCTAssertNil(JSONText.stringArray(bad), bad)
        }
    }

    func testMigrationListIsContiguousAndChecksummed() throws {
        XCTAssertNoThrow(try MigrationPlanner.checkSequence(SQLiteMigrations.all))
        XCTAssertEqual(SQLiteMigrations.all.map(\.version), Array(1...SQLiteMigrations.all.count))
        XCTAssertEqual(Set(SQLiteMigrations.all.map(\.checksum)).count, SQLiteMigrations.all.count)
    }
}

final class SHA256Tests: XCTestCase {
    func testKnownVectors() {
        XCTAssertEqual(SHA256.hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(
            SHA256.hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        XCTAssertEqual(SHA256.hex(String(repeating: "a", count: 1_000)), "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }
}
