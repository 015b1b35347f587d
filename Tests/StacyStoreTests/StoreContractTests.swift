import StacyStore
import XCTest

/// The behaviour every `Store` implementation must show, written once. A driver's test class
/// subclasses this and overrides `makeStore()` / `openAnotherStore()`; run directly, the base class
/// skips every test.
class StoreContractTests: XCTestCase {
    /// A store on a fresh, empty (unmigrated) database, unique to the current test.
    func makeStore() throws -> any Store {
        throw XCTSkip("contract base class; run through a driver subclass")
    }

    /// A second, independent store instance on the database of the last `makeStore()`
    /// (a second process, as far as the database can tell).
    func openAnotherStore() throws -> any Store {
        throw XCTSkip("contract base class; run through a driver subclass")
    }

    private var opened: [any Store] = []

    override func tearDown() {
        for store in opened { store.close() }
        opened.removeAll()
        super.tearDown()
    }

    func freshStore() throws -> any Store {
        let store = try makeStore()
        opened.append(store)
        return store
    }

    func migratedStore() throws -> any Store {
        let store = try freshStore()
        _ = try store.migrate(to: nil)
        return store
    }

    func sandbox(
        _ id: String, tenant: String? = nil, owner: String? = nil, state: String = "running",
        createdAt: Int64 = 0
    ) -> SandboxRecord {
        SandboxRecord(
            id: id, state: state, provider: "mock", image: "ubuntu:24.04", memoryMB: 512, vcpus: 1,
            ownerID: owner, tenantID: tenant, createdAt: createdAt, updatedAt: createdAt)
    }

    func assertStoreError(
        _ expected: StoreError, file: StaticString = #filePath, line: UInt = #line,
        _ body: () throws -> Void
    ) {
        do {
            try body()
            XCTFail("expected \(expected), nothing thrown", file: file, line: line)
        } catch {
            XCTAssertEqual(error as? StoreError, expected, file: file, line: line)
        }
    }

    // MARK: Health and time

    func testPingAndCloseFailsLaterCalls() throws {
        let store = try freshStore()
        XCTAssertFalse(store.driver.isEmpty)
        try store.ping()
        store.close()
        XCTAssertThrowsError(try store.ping())
    }

    func testDatabaseTimeIsMillisecondsAndNonDecreasing() throws {
        let store = try freshStore()
        var previous = try store.now()
        XCTAssertGreaterThan(previous, 1_600_000_000_000, "Unix milliseconds expected")
        let wall = Int64(Date().timeIntervalSince1970 * 1000)
        XCTAssertLessThan(abs(previous - wall), 60_000, "database and host clocks should roughly agree")
        for _ in 0..<200 {
            let current = try store.now()
            XCTAssertGreaterThanOrEqual(current, previous)
            previous = current
        }
    }

    // MARK: Migrations

    func testStatusBeforeAndAfterMigrate() throws {
        let store = try freshStore()
        let before = try store.migrationStatus()
        XCTAssertEqual(before.currentVersion, 0)
        XCTAssertGreaterThanOrEqual(before.latestVersion, 2)
        XCTAssertTrue(before.applied.isEmpty)
        XCTAssertEqual(before.pending.map(\.version), Array(1...before.latestVersion))

        let applied = try store.migrate(to: nil)
        XCTAssertEqual(applied.map(\.version), Array(1...before.latestVersion))
        XCTAssertTrue(applied.allSatisfy { $0.checksum.count == 64 && $0.appliedAt > 0 })

        let after = try store.migrationStatus()
        XCTAssertEqual(after.currentVersion, before.latestVersion)
        XCTAssertEqual(after.applied, applied)
        XCTAssertTrue(after.pending.isEmpty)
        XCTAssertTrue(after.checksumMismatches.isEmpty)
    }

    func testMigrateIsIdempotent() throws {
        let store = try freshStore()
        XCTAssertFalse(try store.migrate(to: nil).isEmpty)
        XCTAssertEqual(try store.migrate(to: nil), [])
        XCTAssertEqual(try store.migrate(to: 1), [], "a target below current applies nothing (forward-only)")
    }

    func testMigrateStepwiseToTarget() throws {
        let store = try freshStore()
        XCTAssertEqual(try store.migrate(to: 0), [])
        XCTAssertEqual(try store.migrationStatus().currentVersion, 0)
        XCTAssertEqual(try store.migrate(to: 1).map(\.version), [1])
        let status = try store.migrationStatus()
        XCTAssertEqual(status.currentVersion, 1)
        XCTAssertEqual(status.pending.first?.version, 2)
        let rest = try store.migrate(to: nil)
        XCTAssertEqual(rest.map(\.version), Array(2...status.latestVersion))
        assertStoreError(.notFound) { _ = try store.migrate(to: status.latestVersion + 1) }
        assertStoreError(.notFound) { _ = try store.migrate(to: -1) }
    }

    /// Repeated on several fresh databases: one race is easily won by whoever starts first.
    func testConcurrentMigrationFromTwoInstancesAppliesEachVersionOnce() throws {
        for round in 0..<8 {
            let first = try freshStore()
            let second = try openAnotherStore()
            opened.append(second)
            let stores = [first, second]
            let results = Collector<[Int]>()
            let failures = Collector<String>()
            XCTAssertTrue(runOnThreads(2) { index in
                do { results.append(try stores[index].migrate(to: nil).map(\.version)) }
                catch { failures.append("\(error)") }
            })
            XCTAssertEqual(failures.all, [], "round \(round)")
            let latest = try first.migrationStatus().latestVersion
            XCTAssertEqual(results.all.flatMap { $0 }.sorted(), Array(1...latest), "round \(round): each version applied exactly once")
            XCTAssertEqual(try second.migrationStatus().applied.map(\.version), Array(1...latest))
        }
    }

    // MARK: Sandboxes

    func testSandboxInsertGetDelete() throws {
        let store = try migratedStore()
        var record = sandbox("sb-000000000000000000000001", tenant: "t1", owner: "alice")
        record.stateReason = "spawned"
        record.network = "none"
        record.metadataJSON = #"{"team":"core"}"#
        record.envJSON = #"{"A":"1"}"#
        record.template = "python"
        record.workerID = "local"
        record.vmID = "vm-1"
        record.previewDomain = "p.example.test"
        record.previewTokenHash = String(repeating: "a", count: 64)
        record.expiresAt = 1_900_000_000_000
        record.originalExpiresAt = 1_900_000_000_000
        record.reapPending = true
        record.nextAttemptAt = 1_900_000_000_500
        record.lastRefreshAt = 1_800_000_000_000

        let stored = try store.insertSandbox(record)
        XCTAssertGreaterThan(stored.createdAt, 0, "0 means database now")
        XCTAssertEqual(stored.createdAt, stored.updatedAt)
        var expected = record
        expected.createdAt = stored.createdAt
        expected.updatedAt = stored.updatedAt
        XCTAssertEqual(stored, expected)
        XCTAssertEqual(try store.getSandbox(record.id), expected)
        XCTAssertNil(try store.getSandbox("sb-ffffffffffffffffffffffff"))

        XCTAssertTrue(try store.deleteSandbox(record.id))
        XCTAssertFalse(try store.deleteSandbox(record.id))
        XCTAssertNil(try store.getSandbox(record.id))
    }

    func testDuplicateSandboxIsConflictWithoutSQLInMessage() throws {
        let store = try migratedStore()
        try store.insertSandbox(sandbox("sb-000000000000000000000002"))
        do {
            try store.insertSandbox(sandbox("sb-000000000000000000000002", owner: "someone-else"))
            XCTFail("duplicate insert succeeded")
        } catch {
            guard case .conflict = error else { return XCTFail("expected conflict, got \(error)") }
            for leak in ["INSERT", "UNIQUE", "constraint", "sandboxes.id", "sqlite"] {
                XCTAssertFalse(error.message.localizedCaseInsensitiveContains(leak), "message leaks \(leak): \(error.message)")
            }
        }
        XCTAssertNil(try store.getSandbox("sb-000000000000000000000002")?.ownerID, "first row kept")
    }

    func testUpdateSandboxState() throws {
        let store = try migratedStore()
        let stored = try store.insertSandbox(sandbox("sb-000000000000000000000003", state: "creating", createdAt: 1_000))
        try store.updateSandboxState(id: stored.id, state: "running", reason: "started")
        let updated = try XCTUnwrap(try store.getSandbox(stored.id))
        XCTAssertEqual(updated.state, "running")
        XCTAssertEqual(updated.stateReason, "started")
        XCTAssertEqual(updated.createdAt, 1_000, "explicit createdAt is kept")
        XCTAssertGreaterThan(updated.updatedAt, 1_000, "updated_at comes from database now")
        try store.updateSandboxState(id: stored.id, state: "stopped", reason: nil)
        XCTAssertNil(try store.getSandbox(stored.id)?.stateReason)
        assertStoreError(.notFound) { try store.updateSandboxState(id: "sb-ffffffffffffffffffffffff", state: "x", reason: nil) }
    }

    func testMarkRunningOnlyFromCreating() throws {
        let store = try migratedStore()
        let stored = try store.insertSandbox(sandbox("sb-000000000000000000000031", state: "creating"))
        let running = try store.markSandboxRunning(id: stored.id, vmID: "vm-1", workerID: "local", previewDomain: "localhost:7423")
        XCTAssertEqual(running.state, "running")
        XCTAssertEqual(running.vmID, "vm-1")
        XCTAssertEqual(running.workerID, "local")
        XCTAssertEqual(running.previewDomain, "localhost:7423")
        // A second call, or a destroy that won the race, leaves nothing to mark.
        assertStoreError(.notFound) { _ = try store.markSandboxRunning(id: stored.id, vmID: nil, workerID: "local", previewDomain: nil) }
        let other = try store.insertSandbox(sandbox("sb-000000000000000000000032", state: "creating"))
        try store.updateSandboxState(id: other.id, state: "destroyed", reason: "destroyed")
        assertStoreError(.notFound) { _ = try store.markSandboxRunning(id: other.id, vmID: nil, workerID: "local", previewDomain: nil) }
    }

    func testSetExpiryOnlyOnLiveSandboxes() throws {
        let store = try migratedStore()
        let stored = try store.insertSandbox(sandbox("sb-000000000000000000000033"))
        XCTAssertEqual(try store.setSandboxExpiry(id: stored.id, expiresAt: 9_000_000).expiresAt, 9_000_000)
        XCTAssertEqual(try store.getSandbox(stored.id)?.expiresAt, 9_000_000)
        try store.updateSandboxState(id: stored.id, state: "destroyed", reason: nil)
        assertStoreError(.notFound) { _ = try store.setSandboxExpiry(id: stored.id, expiresAt: 1) }
        assertStoreError(.notFound) { _ = try store.setSandboxExpiry(id: "sb-ffffffffffffffffffffffff", expiresAt: 1) }
    }

    func testListSandboxesFiltersAndPaging() throws {
        let store = try migratedStore()
        // Same created_at on some rows to prove the id tie-break in paging.
        let rows: [(String, String, String, String, Int64)] = [
            ("sb-000000000000000000000010", "t1", "alice", "running", 100),
            ("sb-000000000000000000000011", "t1", "bob", "stopped", 100),
            ("sb-000000000000000000000012", "t2", "alice", "running", 100),
            ("sb-000000000000000000000013", "t1", "alice", "error", 200),
            ("sb-000000000000000000000014", "t2", "carol", "running", 300),
            ("sb-000000000000000000000015", "t1", "alice", "running", 300),
            ("sb-000000000000000000000016", "t1", "alice", "stopped", 50),
        ]
        for (id, tenant, owner, state, created) in rows.shuffled() {
            try store.insertSandbox(sandbox(id, tenant: tenant, owner: owner, state: state, createdAt: created))
        }
        let ordered = rows.sorted { ($0.4, $0.0) < ($1.4, $1.0) }.map(\.0)
        XCTAssertEqual(try store.listSandboxes(filter: SandboxFilter(limit: 100)).map(\.id), ordered)

        XCTAssertEqual(
            try store.listSandboxes(filter: SandboxFilter(tenantID: "t1", ownerID: "alice", limit: 100)).map(\.id),
            ["sb-000000000000000000000016", "sb-000000000000000000000010", "sb-000000000000000000000013", "sb-000000000000000000000015"])
        XCTAssertEqual(
            try store.listSandboxes(filter: SandboxFilter(states: ["running", "error"], limit: 100)).map(\.id),
            ["sb-000000000000000000000010", "sb-000000000000000000000012", "sb-000000000000000000000013",
             "sb-000000000000000000000014", "sb-000000000000000000000015"])
        XCTAssertEqual(
            try store.listSandboxes(filter: SandboxFilter(tenantID: "t2", states: ["running"], limit: 100)).map(\.id),
            ["sb-000000000000000000000012", "sb-000000000000000000000014"])
        XCTAssertEqual(try store.listSandboxes(filter: SandboxFilter(states: [], limit: 100)), [])
        XCTAssertEqual(try store.listSandboxes(filter: SandboxFilter(ownerID: "nobody", limit: 100)), [])
        XCTAssertEqual(try store.listSandboxes(filter: SandboxFilter(limit: 0)), [])

        // Page through everything, 3 at a time.
        var seen: [String] = []
        var after: String? = nil
        while true {
            let page = try store.listSandboxes(filter: SandboxFilter(limit: 3, afterID: after))
            XCTAssertLessThanOrEqual(page.count, 3)
            seen += page.map(\.id)
            guard page.count == 3, let last = page.last else { break }
            after = last.id
        }
        XCTAssertEqual(seen, ordered)

        // Paging combined with a filter.
        let firstAlice = try store.listSandboxes(filter: SandboxFilter(ownerID: "alice", limit: 2))
        let nextAlice = try store.listSandboxes(filter: SandboxFilter(ownerID: "alice", limit: 10, afterID: firstAlice.last?.id))
        XCTAssertEqual((firstAlice + nextAlice).map(\.id),
            try store.listSandboxes(filter: SandboxFilter(ownerID: "alice", limit: 10)).map(\.id))

        assertStoreError(.notFound) { _ = try store.listSandboxes(filter: SandboxFilter(limit: 3, afterID: "sb-ffffffffffffffffffffffff")) }
    }

    // MARK: Reaper and metrics

    func testListExpiredSandboxes() throws {
        let store = try migratedStore()
        let now = try store.now()
        let hour: Int64 = 3_600_000
        // (id suffix, state, expires_at, next_attempt_at)
        let rows: [(String, String, Int64?, Int64?)] = [
            ("01", "running", now - 3 * hour, nil),        // due
            ("02", "running", now + hour, nil),            // not yet expired
            ("03", "running", nil, nil),                   // no TTL
            ("04", "destroyed", now - 4 * hour, nil),      // already gone
            ("05", "creating", now - 4 * hour, nil),       // spawn still owns it
            ("06", "expired", now - 2 * hour, nil),        // destroy pending: retried
            ("07", "error", now - 5 * hour, now + hour),   // backing off
            ("08", "unhealthy", now - hour, now - 1_000),  // backoff over
            ("09", "stopped", now - 6 * hour, nil),        // any other state counts
        ]
        for (suffix, state, expires, next) in rows.shuffled() {
            var record = sandbox("sb-0000000000000000000001\(suffix)", state: state)
            record.expiresAt = expires
            record.nextAttemptAt = next
            try store.insertSandbox(record)
        }
        let due = try store.listExpiredSandboxes(limit: 100)
        XCTAssertEqual(due.map(\.id), ["09", "01", "06", "08"].map { "sb-0000000000000000000001\($0)" }, "ordered by expires_at")
        XCTAssertEqual(due.first, try store.getSandbox("sb-000000000000000000000109"), "whole rows")
        XCTAssertEqual(try store.listExpiredSandboxes(limit: 2).map(\.id), ["sb-000000000000000000000109", "sb-000000000000000000000101"])
        XCTAssertEqual(try store.listExpiredSandboxes(limit: 0), [])

        // Same expires_at: id breaks the tie.
        for suffix in ["11", "10"] {
            var record = sandbox("sb-0000000000000000000001\(suffix)")
            record.expiresAt = now - 10 * hour
            try store.insertSandbox(record)
        }
        XCTAssertEqual(try store.listExpiredSandboxes(limit: 2).map(\.id), ["sb-000000000000000000000110", "sb-000000000000000000000111"])
    }

    func testScheduleSandboxRetry() throws {
        let store = try migratedStore()
        var record = sandbox("sb-000000000000000000000120")
        record.expiresAt = try store.now() - 60_000
        let stored = try store.insertSandbox(record)
        XCTAssertEqual(try store.listExpiredSandboxes(limit: 10).map(\.id), [stored.id])

        let before = try store.now()
        try store.scheduleSandboxRetry(id: stored.id, afterMs: 300_000)
        let after = try store.now()
        let scheduled = try XCTUnwrap(try store.getSandbox(stored.id))
        let next = try XCTUnwrap(scheduled.nextAttemptAt)
        XCTAssertGreaterThanOrEqual(next, before + 300_000, "database now + afterMs")
        XCTAssertLessThanOrEqual(next, after + 300_000)
        XCTAssertEqual(scheduled.state, stored.state)
        XCTAssertEqual(scheduled.updatedAt, stored.updatedAt, "bookkeeping, not a transition")
        XCTAssertEqual(try store.listExpiredSandboxes(limit: 10), [], "backing off")

        try store.scheduleSandboxRetry(id: stored.id, afterMs: -1_000)
        XCTAssertEqual(try store.listExpiredSandboxes(limit: 10).map(\.id), [stored.id], "due again")
        assertStoreError(.notFound) { try store.scheduleSandboxRetry(id: "sb-ffffffffffffffffffffffff", afterMs: 1_000) }
    }

    func testPurgeDestroyedSandboxes() throws {
        let store = try migratedStore()
        let hour: Int64 = 3_600_000
        let old = try store.now() - 2 * hour
        try store.insertSandbox(sandbox("sb-000000000000000000000130", state: "destroyed", createdAt: old))
        try store.insertSandbox(sandbox("sb-000000000000000000000131", state: "destroyed", createdAt: old))
        try store.insertSandbox(sandbox("sb-000000000000000000000132", state: "destroyed"))            // recent
        try store.insertSandbox(sandbox("sb-000000000000000000000133", state: "running", createdAt: old))
        try store.insertSandbox(sandbox("sb-000000000000000000000134", state: "expired", createdAt: old))
        // Destroyed long ago but touched since: updated_at, not created_at, decides.
        try store.insertSandbox(sandbox("sb-000000000000000000000135", state: "running", createdAt: old))
        try store.updateSandboxState(id: "sb-000000000000000000000135", state: "destroyed", reason: "destroyed")

        XCTAssertEqual(try store.purgeDestroyedSandboxes(olderThanMs: 0), 0, "<= 0 purges nothing")
        XCTAssertEqual(try store.purgeDestroyedSandboxes(olderThanMs: hour), 2)
        XCTAssertEqual(
            try store.listSandboxes(filter: SandboxFilter(limit: 100)).map(\.id).sorted(),
            ["sb-000000000000000000000132", "sb-000000000000000000000133", "sb-000000000000000000000134",
             "sb-000000000000000000000135"])
        XCTAssertEqual(try store.purgeDestroyedSandboxes(olderThanMs: hour), 0)
    }

    func testSandboxCounts() throws {
        let store = try migratedStore()
        XCTAssertEqual(try store.sandboxCounts(), [])
        let rows: [(String, String, String, String?)] = [
            ("01", "running", "mock", "w-2"), ("02", "running", "mock", "w-1"), ("03", "running", "mock", "w-1"),
            ("04", "running", "mock", nil), ("05", "running", "namespace", "w-1"), ("06", "error", "mock", "w-1"),
            ("07", "destroyed", "mock", nil), ("08", "destroyed", "mock", nil), ("09", "running", "mock", nil),
        ]
        for (suffix, state, provider, worker) in rows.shuffled() {
            var record = sandbox("sb-0000000000000000000002\(suffix)", state: state)
            record.provider = provider
            record.workerID = worker
            try store.insertSandbox(record)
        }
        XCTAssertEqual(try store.sandboxCounts(), [
            SandboxCount(state: "destroyed", provider: "mock", workerID: nil, count: 2),
            SandboxCount(state: "error", provider: "mock", workerID: "w-1", count: 1),
            SandboxCount(state: "running", provider: "mock", workerID: nil, count: 2),
            SandboxCount(state: "running", provider: "mock", workerID: "w-1", count: 2),
            SandboxCount(state: "running", provider: "mock", workerID: "w-2", count: 1),
            SandboxCount(state: "running", provider: "namespace", workerID: "w-1", count: 1),
        ])
    }

    // MARK: Settings

    func testSettingsUpsert() throws {
        let store = try migratedStore()
        XCTAssertNil(try store.getSetting("defaults.max_ttl"))
        let first = try store.putSetting(key: "defaults.max_ttl", valueJSON: #""12h""#, updatedBy: "admin-key-1")
        XCTAssertEqual(first.valueJSON, #""12h""#)
        XCTAssertGreaterThan(first.updatedAt, 0)
        let second = try store.putSetting(key: "defaults.max_ttl", valueJSON: #""24h""#, updatedBy: nil)
        XCTAssertEqual(try store.getSetting("defaults.max_ttl"), second)
        XCTAssertEqual(second.valueJSON, #""24h""#)
        XCTAssertNil(second.updatedBy)
        XCTAssertGreaterThanOrEqual(second.updatedAt, first.updatedAt)
        try store.putSetting(key: "auth.rate_limit", valueJSON: "100", updatedBy: "ops")
        XCTAssertEqual(try store.listSettings().map(\.key), ["auth.rate_limit", "defaults.max_ttl"])
    }

    // MARK: Control planes

    /// Decision: a re-registration is a restart of that instance, so hostname, version and
    /// started_at are replaced; touch only moves last_seen.
    func testControlPlaneRegisterTouchList() throws {
        let store = try migratedStore()
        let first = try store.registerControlPlane(instanceID: "cp-a", hostname: "host-1", version: "1.0.0")
        XCTAssertEqual(first.startedAt, first.lastSeen)
        usleep(5_000)
        try store.touchControlPlane(instanceID: "cp-a")
        let touched = try XCTUnwrap(try store.listControlPlanes().first)
        XCTAssertEqual(touched.startedAt, first.startedAt)
        XCTAssertGreaterThan(touched.lastSeen, first.lastSeen)

        usleep(5_000)
        let again = try store.registerControlPlane(instanceID: "cp-a", hostname: "host-2", version: "1.1.0")
        XCTAssertEqual(again.hostname, "host-2")
        XCTAssertEqual(again.version, "1.1.0")
        XCTAssertGreaterThan(again.startedAt, first.startedAt)
        try store.registerControlPlane(instanceID: "cp-b", hostname: "host-3", version: "1.1.0")
        XCTAssertEqual(try store.listControlPlanes().map(\.instanceID), ["cp-a", "cp-b"])
        XCTAssertEqual(try store.listControlPlanes().first, again)
        assertStoreError(.notFound) { try store.touchControlPlane(instanceID: "cp-missing") }
    }

    // MARK: Events

    func testEventsSequenceListAndPrune() throws {
        let store = try migratedStore()
        var seqs: [Int64] = []
        for index in 0..<10 {
            seqs.append(try store.appendEvent(EventRecord(
                type: "sandbox.created", sandboxID: "sb-\(index)", workerID: "local", tenantID: "t1",
                ownerID: "alice", dataJSON: #"{"i":\#(index)}"#)))
        }
        XCTAssertEqual(seqs, seqs.sorted())
        XCTAssertEqual(Set(seqs).count, 10)

        let all = try store.listEvents(afterSeq: 0, limit: 100)
        XCTAssertEqual(all.map(\.seq), seqs)
        XCTAssertEqual(all.first?.dataJSON, #"{"i":0}"#)
        XCTAssertEqual(all.first?.workerID, "local")
        XCTAssertTrue(all.allSatisfy { $0.createdAt > 0 })
        XCTAssertEqual(try store.listEvents(afterSeq: seqs[6], limit: 2).map(\.seq), [seqs[7], seqs[8]])
        XCTAssertEqual(try store.listEvents(afterSeq: seqs[9], limit: 10), [])

        // Row cap keeps the newest.
        XCTAssertEqual(try store.pruneEvents(olderThanMs: 0, maxRows: 4), 6)
        XCTAssertEqual(try store.listEvents(afterSeq: 0, limit: 100).map(\.seq), Array(seqs[6...]))
        XCTAssertEqual(try store.pruneEvents(olderThanMs: 0, maxRows: 4), 0)

        // Age rule uses database time: an event stamped long ago goes, fresh ones stay.
        try store.appendEvent(EventRecord(type: "sandbox.expired", createdAt: 1_000))
        XCTAssertEqual(try store.pruneEvents(olderThanMs: 3_600_000, maxRows: 0), 1)
        XCTAssertEqual(try store.listEvents(afterSeq: 0, limit: 100).count, 4)

        // Sequence numbers are never reused after pruning.
        let next = try store.appendEvent(EventRecord(type: "sandbox.destroyed"))
        XCTAssertGreaterThan(next, seqs[9] + 1)
    }

    /// One batch, seqs in input order; explicit created_at kept, 0 becomes database now.
    func testAppendEventsBatch() throws {
        let store = try migratedStore()
        XCTAssertEqual(try store.appendEvents([]), [])
        let before = try store.appendEvent(EventRecord(type: "sandbox.created"))
        let batch = (0..<5).map { index in
            EventRecord(
                type: "exec.completed", sandboxID: "sb-\(index)", workerID: index == 0 ? nil : "w-\(index)",
                tenantID: "t1", ownerID: "alice", dataJSON: #"{"i":\#(index)}"#,
                createdAt: index == 2 ? 1_234 : 0)
        }
        let startedAt = try store.now()
        let seqs = try store.appendEvents(batch)
        XCTAssertEqual(seqs.count, batch.count)
        XCTAssertEqual(seqs, seqs.sorted())
        XCTAssertEqual(Set(seqs).count, seqs.count, "strictly increasing")
        XCTAssertGreaterThan(seqs[0], before)

        let stored = try store.listEvents(afterSeq: before, limit: 100)
        XCTAssertEqual(stored.map(\.seq), seqs)
        XCTAssertEqual(stored.map(\.dataJSON), batch.map(\.dataJSON), "input order kept")
        XCTAssertEqual(stored[0].workerID, nil)
        XCTAssertEqual(stored[1].workerID, "w-1")
        XCTAssertEqual(stored[2].createdAt, 1_234, "explicit createdAt kept")
        for index in [0, 1, 3, 4] {
            XCTAssertGreaterThanOrEqual(stored[index].createdAt, startedAt, "0 means database now")
        }
        var expected = batch[4]
        expected.seq = seqs[4]
        expected.createdAt = stored[4].createdAt
        XCTAssertEqual(stored[4], expected)
        XCTAssertGreaterThan(try store.appendEvent(EventRecord(type: "sandbox.destroyed")), seqs[4])

        // An empty batch does not touch the database, so it works even on a closed store.
        store.close()
        XCTAssertEqual(try store.appendEvents([]), [])
        XCTAssertThrowsError(try store.appendEvents([EventRecord(type: "sandbox.created")]))
    }

    func testEarliestAndLatestEventSeq() throws {
        let store = try migratedStore()
        XCTAssertNil(try store.earliestEventSeq())
        XCTAssertNil(try store.latestEventSeq())
        let seqs = try store.appendEvents((0..<6).map { EventRecord(type: "e\($0)", createdAt: $0 < 2 ? 1_000 : 0) })
        XCTAssertEqual(try store.earliestEventSeq(), seqs.first)
        XCTAssertEqual(try store.latestEventSeq(), seqs.last)
        // Pruning the two old ones moves the earliest; a gap check against it now sees them gone.
        XCTAssertEqual(try store.pruneEvents(olderThanMs: 3_600_000, maxRows: 0), 2)
        XCTAssertEqual(try store.earliestEventSeq(), seqs[2])
        XCTAssertEqual(try store.latestEventSeq(), seqs.last)
        XCTAssertEqual(try store.pruneEvents(olderThanMs: 0, maxRows: 1), 3)
        XCTAssertEqual(try store.earliestEventSeq(), seqs.last)
        XCTAssertEqual(try store.latestEventSeq(), seqs.last)
        let next = try store.appendEvent(EventRecord(type: "later"))
        XCTAssertEqual(try store.latestEventSeq(), next)
        XCTAssertEqual(try store.earliestEventSeq(), seqs.last)
    }

    // MARK: Exec logs

    func testExecLogsAppendListPrune() throws {
        let store = try migratedStore()
        let sb = "sb-000000000000000000000050"
        let full = ExecLogRecord(
            sandboxID: sb, command: "echo 'hi' && false", argvJSON: #"["/bin/sh","-c","echo 'hi' && false"]"#,
            exitCode: 1, stdout: "hi\n🚀", stderr: "oops", durationMs: 42, createdAt: 5_000)
        let bare = ExecLogRecord(sandboxID: sb, command: "sleep", createdAt: 6_000)
        let other = ExecLogRecord(sandboxID: "sb-000000000000000000000051", command: "ls", exitCode: 0, createdAt: 7_000)
        try store.appendExecLogs([full, bare, other])
        try store.appendExecLogs([])

        let listed = try store.listExecLogs(sandboxID: sb, limit: 10)
        XCTAssertEqual(listed.map(\.command), ["sleep", "echo 'hi' && false"], "newest first, other sandbox excluded")
        XCTAssertTrue(listed.allSatisfy { $0.id > 0 })
        XCTAssertNotEqual(listed[0].id, listed[1].id)
        var expectedFull = full
        expectedFull.id = listed[1].id
        XCTAssertEqual(listed[1], expectedFull, "every field round-trips")
        var expectedBare = bare
        expectedBare.id = listed[0].id
        XCTAssertEqual(listed[0], expectedBare, "nil fields stay nil, argv defaults to []")
        XCTAssertEqual(listed[0].argvJSON, "[]")
        XCTAssertEqual(try store.listExecLogs(sandboxID: sb, limit: 1).map(\.command), ["sleep"])
        XCTAssertEqual(try store.listExecLogs(sandboxID: sb, limit: 0), [])
        XCTAssertEqual(try store.listExecLogs(sandboxID: "sb-ffffffffffffffffffffffff", limit: 10), [])

        // createdAt 0 = database now; rows sharing a timestamp come newest (highest id) first.
        let startedAt = try store.now()
        try store.appendExecLogs((0..<3).map { ExecLogRecord(sandboxID: sb, command: "n\($0)") })
        let recent = try store.listExecLogs(sandboxID: sb, limit: 10)
        XCTAssertEqual(recent.map(\.command), ["n2", "n1", "n0", "sleep", "echo 'hi' && false"])
        XCTAssertTrue(recent.prefix(3).allSatisfy { $0.createdAt >= startedAt })
        XCTAssertEqual(recent.prefix(3).map(\.id), recent.prefix(3).map(\.id).sorted(by: >))

        // Retention by database time; <= 0 keeps everything.
        XCTAssertEqual(try store.pruneExecLogs(olderThanMs: 0), 0)
        XCTAssertEqual(try store.pruneExecLogs(olderThanMs: 3_600_000), 3, "the three stamped in 1970 go")
        XCTAssertEqual(try store.listExecLogs(sandboxID: sb, limit: 10).map(\.command), ["n2", "n1", "n0"])
        XCTAssertEqual(try store.listExecLogs(sandboxID: "sb-000000000000000000000051", limit: 10), [])
        XCTAssertEqual(try store.pruneExecLogs(olderThanMs: 3_600_000), 0)

        store.close()
        XCTAssertNoThrow(try store.appendExecLogs([]), "an empty batch does not touch the database")
    }

    // MARK: Operation audit

    func testOperationAuditsAppendList() throws {
        let store = try migratedStore()
        let sb = "sb-000000000000000000000060"
        let spawn = OperationAuditRecord(
            actor: "key-1", onBehalfOf: "alice", tenantID: "t1", action: "sandbox.spawn", sandboxID: sb,
            resource: "ubuntu:24.04", provider: "mock", workerID: "local", status: "ok", detail: "spawned",
            createdAt: 1_000)
        let failed = OperationAuditRecord(actor: "key-2", action: "sandbox.spawn", status: "error", createdAt: 2_000)
        let exec = OperationAuditRecord(
            actor: "key-1", onBehalfOf: "alice", tenantID: "t1", action: "exec", sandboxID: sb,
            resource: "ls -la", status: "ok", createdAt: 3_000)
        try store.appendOperationAudits([spawn, failed, exec])
        try store.appendOperationAudits([])

        let all = try store.listOperationAudits(sandboxID: nil, limit: 10)
        XCTAssertEqual(all.map(\.createdAt), [3_000, 2_000, 1_000], "newest first")
        XCTAssertTrue(all.allSatisfy { $0.id > 0 })
        XCTAssertEqual(Set(all.map(\.id)).count, 3)
        var expectedSpawn = spawn
        expectedSpawn.id = all[2].id
        XCTAssertEqual(all[2], expectedSpawn, "every field round-trips")
        var expectedFailed = failed
        expectedFailed.id = all[1].id
        XCTAssertEqual(all[1], expectedFailed, "nil fields stay nil")
        XCTAssertEqual(try store.listOperationAudits(sandboxID: sb, limit: 10).map(\.action), ["exec", "sandbox.spawn"])
        XCTAssertEqual(try store.listOperationAudits(sandboxID: sb, limit: 1).map(\.action), ["exec"])
        XCTAssertEqual(try store.listOperationAudits(sandboxID: nil, limit: 2).map(\.createdAt), [3_000, 2_000])
        XCTAssertEqual(try store.listOperationAudits(sandboxID: "sb-ffffffffffffffffffffffff", limit: 10), [])
        XCTAssertEqual(try store.listOperationAudits(sandboxID: nil, limit: 0), [])

        // createdAt 0 = database now; a detail over 2048 characters is cut, never rejected, so the
        // rest of the batch still lands. 🚀 is one Unicode scalar (4 UTF-8 bytes): characters, not bytes.
        let startedAt = try store.now()
        let exact = String(repeating: "é", count: OperationAuditRecord.maxDetailLength)
        try store.appendOperationAudits([
            OperationAuditRecord(actor: "key-3", action: "file.write", sandboxID: sb, status: "error",
                                 detail: String(repeating: "🚀", count: 3_000)),
            OperationAuditRecord(actor: "key-3", action: "file.read", sandboxID: sb, status: "ok", detail: exact),
        ])
        let newest = try store.listOperationAudits(sandboxID: sb, limit: 2)
        XCTAssertEqual(newest.map(\.action), ["file.read", "file.write"], "same timestamp: higher id first")
        XCTAssertTrue(newest.allSatisfy { $0.createdAt >= startedAt })
        XCTAssertEqual(newest[0].detail, exact, "exactly 2048 characters is kept whole")
        XCTAssertEqual(newest[1].detail, String(repeating: "🚀", count: OperationAuditRecord.maxDetailLength))

        store.close()
        XCTAssertNoThrow(try store.appendOperationAudits([]), "an empty batch does not touch the database")
    }

    // MARK: API keys

    /// A distinct 64-hex-digit stand-in for a key's SHA-256.
    func keyHash(_ n: Int) -> String {
        let digits = String(n, radix: 16)
        return String(repeating: "0", count: 64 - digits.count) + digits
    }

    func testAPIKeyInsertRoundTripAndConflicts() throws {
        let store = try migratedStore()
        let full = APIKeyRecord(
            id: "key-full", keySHA256: keyHash(1), role: "operator", tenantID: "t1", ownerID: "alice",
            description: "ci 'deploy' key 🚀", createdAt: 1_000, expiresAt: 9_000_000_000_000, revokedAt: 2_000,
            lastUsedAt: 1_500)
        XCTAssertEqual(try store.insertAPIKey(full), full, "every field round-trips")

        let before = try store.now()
        let bare = try store.insertAPIKey(APIKeyRecord(id: "key-bare", keySHA256: keyHash(2), role: "api"))
        let after = try store.now()
        XCTAssertGreaterThanOrEqual(bare.createdAt, before, "0 means database now")
        XCTAssertLessThanOrEqual(bare.createdAt, after)
        XCTAssertEqual(bare, APIKeyRecord(id: "key-bare", keySHA256: keyHash(2), role: "api", createdAt: bare.createdAt),
                       "nil fields stay nil, description defaults to empty")

        // Duplicate ID, then duplicate hash under a new ID: both conflicts, neither leaks SQL or the hash.
        let duplicates = [
            APIKeyRecord(id: "key-full", keySHA256: keyHash(3), role: "admin"),
            APIKeyRecord(id: "key-other", keySHA256: keyHash(1), role: "admin"),
        ]
        for duplicate in duplicates {
            do {
                try store.insertAPIKey(duplicate)
                XCTFail("duplicate \(duplicate.id) inserted")
            } catch {
                guard case .conflict = error else { XCTFail("expected conflict, got \(error)"); continue }
                for leak in ["INSERT", "UNIQUE", "constraint", "api_keys.", "sqlite", keyHash(1), keyHash(3)] {
                    XCTAssertFalse(error.message.localizedCaseInsensitiveContains(leak), "message leaks \(leak): \(error.message)")
                }
            }
        }
        XCTAssertEqual(try store.listAPIKeys(tenantID: nil), [full, bare], "first rows kept, nothing added")
    }

    func testFindActiveAPIKey() throws {
        let store = try migratedStore()
        let now = try store.now()
        let hour: Int64 = 3_600_000
        let active = try store.insertAPIKey(APIKeyRecord(id: "key-1", keySHA256: keyHash(1), role: "api", tenantID: "t1"))
        let future = try store.insertAPIKey(APIKeyRecord(id: "key-2", keySHA256: keyHash(2), role: "viewer", expiresAt: now + hour))
        try store.insertAPIKey(APIKeyRecord(id: "key-3", keySHA256: keyHash(3), role: "api", expiresAt: now - 1_000))
        try store.insertAPIKey(APIKeyRecord(id: "key-4", keySHA256: keyHash(4), role: "api", revokedAt: now - hour))
        try store.insertAPIKey(APIKeyRecord(id: "key-5", keySHA256: keyHash(5), role: "api", expiresAt: now + hour, revokedAt: now))

        XCTAssertEqual(try store.findActiveAPIKey(sha256: keyHash(1)), active, "no expiry: whole row")
        XCTAssertEqual(try store.findActiveAPIKey(sha256: keyHash(2)), future, "expires later")
        XCTAssertNil(try store.findActiveAPIKey(sha256: keyHash(3)), "expired")
        XCTAssertNil(try store.findActiveAPIKey(sha256: keyHash(4)), "revoked")
        XCTAssertNil(try store.findActiveAPIKey(sha256: keyHash(5)), "revoked beats a future expiry")
        XCTAssertNil(try store.findActiveAPIKey(sha256: keyHash(99)), "unknown")
        XCTAssertNil(try store.findActiveAPIKey(sha256: "key-1"), "looked up by hash, not id")
    }

    func testListAPIKeys() throws {
        let store = try migratedStore()
        XCTAssertEqual(try store.listAPIKeys(tenantID: nil), [])
        // (id, tenant, created_at); equal created_at on some rows proves the id tie-break.
        let rows: [(String, String?, Int64)] = [
            ("key-b", "t1", 200), ("key-a", "t1", 200), ("key-c", nil, 100), ("key-d", "t2", 300),
            ("key-e", "t1", 50),
        ]
        for (index, (id, tenant, created)) in rows.enumerated().shuffled() {
            try store.insertAPIKey(APIKeyRecord(id: id, keySHA256: keyHash(index + 1), role: "api", tenantID: tenant, createdAt: created))
        }
        XCTAssertTrue(try store.revokeAPIKey(id: "key-a"))

        let all = try store.listAPIKeys(tenantID: nil)
        XCTAssertEqual(all.map(\.id), ["key-e", "key-c", "key-a", "key-b", "key-d"], "ordered by created_at, id; revoked included")
        XCTAssertNotNil(all.first { $0.id == "key-a" }?.revokedAt)
        XCTAssertEqual(try store.listAPIKeys(tenantID: "t1").map(\.id), ["key-e", "key-a", "key-b"])
        XCTAssertEqual(try store.listAPIKeys(tenantID: "t2").map(\.id), ["key-d"])
        XCTAssertEqual(try store.listAPIKeys(tenantID: "t9"), [])
        XCTAssertEqual(try store.listAPIKeys(tenantID: "t1"), all.filter { $0.tenantID == "t1" }, "whole rows")
    }

    func testRevokeAPIKey() throws {
        let store = try migratedStore()
        let key = try store.insertAPIKey(APIKeyRecord(id: "key-1", keySHA256: keyHash(1), role: "api"))
        try store.insertAPIKey(APIKeyRecord(id: "key-2", keySHA256: keyHash(2), role: "api"))
        let before = try store.now()
        XCTAssertTrue(try store.revokeAPIKey(id: key.id))
        let after = try store.now()
        let revokedAt = try XCTUnwrap(try store.listAPIKeys(tenantID: nil).first { $0.id == key.id }?.revokedAt)
        XCTAssertGreaterThanOrEqual(revokedAt, before, "database now")
        XCTAssertLessThanOrEqual(revokedAt, after)
        XCTAssertNil(try store.findActiveAPIKey(sha256: keyHash(1)))
        XCTAssertNotNil(try store.findActiveAPIKey(sha256: keyHash(2)), "other keys untouched")

        usleep(5_000)
        XCTAssertFalse(try store.revokeAPIKey(id: key.id), "already revoked")
        XCTAssertEqual(try store.listAPIKeys(tenantID: nil).first { $0.id == key.id }?.revokedAt, revokedAt, "first revocation kept")
        XCTAssertFalse(try store.revokeAPIKey(id: "key-unknown"))
        XCTAssertNil(try store.listAPIKeys(tenantID: nil).first { $0.id == "key-2" }?.revokedAt)
    }

    func testTouchAPIKey() throws {
        let store = try migratedStore()
        let key = try store.insertAPIKey(APIKeyRecord(id: "key-1", keySHA256: keyHash(1), role: "api", lastUsedAt: 1_000))
        try store.insertAPIKey(APIKeyRecord(id: "key-2", keySHA256: keyHash(2), role: "api"))
        let before = try store.now()
        try store.touchAPIKey(id: key.id)
        let after = try store.now()
        let touched = try XCTUnwrap(try store.findActiveAPIKey(sha256: keyHash(1)))
        let lastUsed = try XCTUnwrap(touched.lastUsedAt)
        XCTAssertGreaterThanOrEqual(lastUsed, before, "database now")
        XCTAssertLessThanOrEqual(lastUsed, after)
        var expected = key
        expected.lastUsedAt = lastUsed
        XCTAssertEqual(touched, expected, "only last_used_at changes")
        XCTAssertNil(try store.findActiveAPIKey(sha256: keyHash(2))?.lastUsedAt, "other keys untouched")
        assertStoreError(.notFound) { try store.touchAPIKey(id: "key-unknown") }
    }

    func testCountActiveAPIKeys() throws {
        let store = try migratedStore()
        XCTAssertEqual(try store.countActiveAPIKeys(), 0)
        let now = try store.now()
        try store.insertAPIKey(APIKeyRecord(id: "key-1", keySHA256: keyHash(1), role: "api"))
        try store.insertAPIKey(APIKeyRecord(id: "key-2", keySHA256: keyHash(2), role: "api", expiresAt: now + 3_600_000))
        try store.insertAPIKey(APIKeyRecord(id: "key-3", keySHA256: keyHash(3), role: "api", expiresAt: now - 1_000))
        try store.insertAPIKey(APIKeyRecord(id: "key-4", keySHA256: keyHash(4), role: "api", revokedAt: now))
        XCTAssertEqual(try store.countActiveAPIKeys(), 2, "expired and revoked keys do not count")
        XCTAssertTrue(try store.revokeAPIKey(id: "key-1"))
        XCTAssertEqual(try store.countActiveAPIKeys(), 1)
    }

    // MARK: Owner quotas and admission

    /// [total, withMaxSandboxes, withMaxTTL, withMaxExecTimeout], for readable failures.
    func quotaSummary(_ store: any Store) throws -> [Int] {
        let summary = try store.ownerQuotaSummary()
        return [summary.total, summary.withMaxSandboxes, summary.withMaxTTL, summary.withMaxExecTimeout]
    }

    func testOwnerQuotaPutGetDelete() throws {
        let store = try migratedStore()
        XCTAssertNil(try store.getOwnerQuota("alice"))

        let before = try store.now()
        // The record's own times are ignored: both come from the database.
        let first = try store.putOwnerQuota(OwnerQuotaRecord(
            ownerID: "alice", maxSandboxes: 5, maxTTLSeconds: 86_400, maxExecTimeoutSeconds: 600,
            createdAt: 1_000, updatedAt: 2_000))
        let after = try store.now()
        XCTAssertGreaterThanOrEqual(first.createdAt, before, "database now")
        XCTAssertLessThanOrEqual(first.createdAt, after)
        XCTAssertEqual(first.updatedAt, first.createdAt, "an insert sets both to the same now")
        XCTAssertEqual(first, OwnerQuotaRecord(
            ownerID: "alice", maxSandboxes: 5, maxTTLSeconds: 86_400, maxExecTimeoutSeconds: 600,
            createdAt: first.createdAt, updatedAt: first.updatedAt))
        XCTAssertEqual(try store.getOwnerQuota("alice"), first, "returns the stored row")
        XCTAssertNil(try store.getOwnerQuota("Alice"), "owner IDs are exact")

        let bob = try store.putOwnerQuota(OwnerQuotaRecord(ownerID: "bob", maxTTLSeconds: 3_600))
        XCTAssertEqual([bob.maxSandboxes, Int(bob.maxTTLSeconds), Int(bob.maxExecTimeoutSeconds)], [0, 3_600, 0],
                       "0 = inherit round-trips")

        usleep(5_000)
        let beforeUpdate = try store.now()
        // Update: every cap replaced (0 clears one back to inherit), created_at kept.
        let second = try store.putOwnerQuota(OwnerQuotaRecord(
            ownerID: "alice", maxSandboxes: 0, maxTTLSeconds: 7_200, maxExecTimeoutSeconds: 30, createdAt: 1))
        let afterUpdate = try store.now()
        XCTAssertEqual(second.createdAt, first.createdAt, "created_at kept on update")
        XCTAssertGreaterThanOrEqual(second.updatedAt, beforeUpdate, "updated_at = database now")
        XCTAssertLessThanOrEqual(second.updatedAt, afterUpdate)
        XCTAssertGreaterThan(second.updatedAt, first.updatedAt)
        XCTAssertEqual(second, OwnerQuotaRecord(
            ownerID: "alice", maxSandboxes: 0, maxTTLSeconds: 7_200, maxExecTimeoutSeconds: 30,
            createdAt: first.createdAt, updatedAt: second.updatedAt))
        XCTAssertEqual(try store.getOwnerQuota("alice"), second)
        XCTAssertEqual(try store.getOwnerQuota("bob"), bob, "other owners untouched")

        XCTAssertTrue(try store.deleteOwnerQuota("alice"))
        XCTAssertFalse(try store.deleteOwnerQuota("alice"))
        XCTAssertFalse(try store.deleteOwnerQuota("nobody"))
        XCTAssertNil(try store.getOwnerQuota("alice"))
        XCTAssertEqual(try store.getOwnerQuota("bob"), bob)

        // A put after delete is a fresh insert: new created_at.
        usleep(5_000)
        let again = try store.putOwnerQuota(OwnerQuotaRecord(ownerID: "alice", maxSandboxes: 1))
        XCTAssertGreaterThan(again.createdAt, first.createdAt)
        XCTAssertEqual(again.createdAt, again.updatedAt)
    }

    func testListOwnerQuotasPaging() throws {
        let store = try migratedStore()
        XCTAssertEqual(try store.listOwnerQuotas(limit: 10, afterOwnerID: nil), [])
        // Byte order: uppercase before lowercase, non-ASCII last.
        let ordered = ["Bob", "alice", "bob", "bob-2", "o'brien", "zed", "ümit"]
        for (index, owner) in ordered.enumerated().shuffled() {
            try store.putOwnerQuota(OwnerQuotaRecord(ownerID: owner, maxSandboxes: index + 1))
        }
        let all = try store.listOwnerQuotas(limit: 100, afterOwnerID: nil)
        XCTAssertEqual(all.map(\.ownerID), ordered)
        XCTAssertEqual(all.map(\.maxSandboxes), Array(1...ordered.count), "whole rows")
        XCTAssertEqual(all.first, try store.getOwnerQuota("Bob"))

        var seen: [String] = []
        var after: String? = nil
        while true {
            let page = try store.listOwnerQuotas(limit: 3, afterOwnerID: after)
            XCTAssertLessThanOrEqual(page.count, 3)
            seen += page.map(\.ownerID)
            guard page.count == 3, let last = page.last else { break }
            after = last.ownerID
        }
        XCTAssertEqual(seen, ordered)

        XCTAssertEqual(try store.listOwnerQuotas(limit: 2, afterOwnerID: "alice").map(\.ownerID), ["bob", "bob-2"],
                       "strictly after the cursor")
        XCTAssertEqual(try store.listOwnerQuotas(limit: 10, afterOwnerID: "b").map(\.ownerID),
                       ["bob", "bob-2", "o'brien", "zed", "ümit"], "a cursor that is not stored still pages")
        XCTAssertEqual(try store.listOwnerQuotas(limit: 10, afterOwnerID: "ümit"), [])
        XCTAssertEqual(try store.listOwnerQuotas(limit: 0, afterOwnerID: nil), [])
        XCTAssertEqual(try store.listOwnerQuotas(limit: -1, afterOwnerID: "alice"), [])
    }

    func testOwnerQuotaSummary() throws {
        let store = try migratedStore()
        XCTAssertEqual(try quotaSummary(store), [0, 0, 0, 0])
        try store.putOwnerQuota(OwnerQuotaRecord(ownerID: "a", maxSandboxes: 3, maxTTLSeconds: 60, maxExecTimeoutSeconds: 10))
        try store.putOwnerQuota(OwnerQuotaRecord(ownerID: "b", maxSandboxes: 2))
        try store.putOwnerQuota(OwnerQuotaRecord(ownerID: "c", maxTTLSeconds: 120))
        try store.putOwnerQuota(OwnerQuotaRecord(ownerID: "d"))  // all inherit: counted in total only
        XCTAssertEqual(try quotaSummary(store), [4, 2, 2, 1])

        try store.putOwnerQuota(OwnerQuotaRecord(ownerID: "a", maxExecTimeoutSeconds: 10))  // clears two caps
        XCTAssertEqual(try quotaSummary(store), [4, 1, 1, 1])
        XCTAssertTrue(try store.deleteOwnerQuota("b"))
        XCTAssertEqual(try quotaSummary(store), [3, 0, 1, 1])
    }

    func testCountActiveSandboxes() throws {
        let store = try migratedStore()
        XCTAssertEqual(try store.countActiveSandboxes(tenantID: nil, ownerID: nil), 0)
        // (suffix, tenant, owner, state)
        let rows: [(String, String?, String?, String)] = [
            ("01", "t1", "alice", "running"),
            ("02", "t1", "alice", "creating"),   // a reservation counts
            ("03", "t1", "alice", "destroyed"),  // gone: does not count
            ("04", "t1", "alice", "expired"),    // destroy pending: still counts
            ("05", "t1", "bob", "stopped"),
            ("06", "t2", "alice", "error"),
            ("07", "t2", "carol", "destroyed"),
            ("08", nil, "alice", "running"),
            ("09", nil, nil, "unhealthy"),
        ]
        for (suffix, tenant, owner, state) in rows.shuffled() {
            try store.insertSandbox(sandbox("sb-0000000000000000000003\(suffix)", tenant: tenant, owner: owner, state: state))
        }
        XCTAssertEqual(try store.countActiveSandboxes(tenantID: nil, ownerID: nil), 7)
        XCTAssertEqual(try store.countActiveSandboxes(tenantID: "t1", ownerID: nil), 4)
        XCTAssertEqual(try store.countActiveSandboxes(tenantID: "t2", ownerID: nil), 1)
        XCTAssertEqual(try store.countActiveSandboxes(tenantID: nil, ownerID: "alice"), 5, "across tenants and none")
        XCTAssertEqual(try store.countActiveSandboxes(tenantID: "t1", ownerID: "alice"), 3)
        XCTAssertEqual(try store.countActiveSandboxes(tenantID: "t2", ownerID: "alice"), 1)
        XCTAssertEqual(try store.countActiveSandboxes(tenantID: "t1", ownerID: "carol"), 0)
        XCTAssertEqual(try store.countActiveSandboxes(tenantID: "t2", ownerID: "carol"), 0, "only destroyed rows")
        XCTAssertEqual(try store.countActiveSandboxes(tenantID: "t9", ownerID: nil), 0)
        XCTAssertEqual(try store.countActiveSandboxes(tenantID: nil, ownerID: "nobody"), 0)

        // Transitions move the count: creating → running keeps it, destroy releases a slot.
        _ = try store.markSandboxRunning(id: "sb-000000000000000000000302", vmID: nil, workerID: "local", previewDomain: nil)
        XCTAssertEqual(try store.countActiveSandboxes(tenantID: "t1", ownerID: "alice"), 3)
        try store.updateSandboxState(id: "sb-000000000000000000000301", state: "destroyed", reason: "destroyed")
        XCTAssertEqual(try store.countActiveSandboxes(tenantID: "t1", ownerID: "alice"), 2)
        XCTAssertEqual(try store.countActiveSandboxes(tenantID: nil, ownerID: nil), 6)
    }

    // MARK: Templates

    /// A template with every field set to something other than its default.
    func fullTemplate(_ name: String, tenant: String = "t1", version: Int = 1) -> TemplateRecord {
        TemplateRecord(
            name: name, tenantID: tenant, image: "python:3.12", ttl: "1h30m", provider: "firecracker",
            version: version, memoryMB: 2048, vcpus: 2, ttlMs: 5_400_000,
            metadataJSON: #"{"team":"ml","note":"o'brien \"q\" ü"}"#, envJSON: #"{"PYTHONUNBUFFERED":"1"}"#,
            setupJSON: #"["pip install numpy","echo 日本語"]"#, onDrain: "migrate", description: "ML sandbox 🚀",
            createdAt: 0, updatedAt: 0)
    }

    func testTemplateRecordDefaults() {
        let t = TemplateRecord(name: "x")
        XCTAssertEqual(
            [t.tenantID, t.image, t.ttl, t.provider, t.metadataJSON, t.envJSON, t.setupJSON, t.onDrain, t.description],
            ["", "", "", "", "{}", "{}", "[]", "expire", ""])
        XCTAssertEqual([t.version, t.memoryMB, t.vcpus], [1, 0, 0])
        XCTAssertEqual([t.ttlMs, t.createdAt, t.updatedAt], [0, 0, 0])
    }

    func testTemplateInsertGetDelete() throws {
        let store = try migratedStore()
        XCTAssertNil(try store.getTemplate("py"))

        var record = fullTemplate("py", version: 7)
        record.createdAt = 1_000  // ignored: both times come from the database
        record.updatedAt = 2_000
        let before = try store.now()
        let stored = try store.insertTemplate(record)
        let after = try store.now()
        XCTAssertGreaterThanOrEqual(stored.createdAt, before, "database now")
        XCTAssertLessThanOrEqual(stored.createdAt, after)
        XCTAssertEqual(stored.updatedAt, stored.createdAt, "an insert sets both to the same now")
        var expected = fullTemplate("py", version: 7)
        expected.createdAt = stored.createdAt
        expected.updatedAt = stored.updatedAt
        XCTAssertEqual(stored, expected, "every field stored as given, version included")
        XCTAssertEqual(try store.getTemplate("py"), stored)
        XCTAssertNil(try store.getTemplate("PY"), "names are exact")
        XCTAssertNil(try store.getTemplate("py "), "names are exact")

        // Defaults (global, every optional field unset) round-trip exactly.
        let bare = try store.insertTemplate(TemplateRecord(name: "bare"))
        XCTAssertEqual(bare, TemplateRecord(name: "bare", createdAt: bare.createdAt, updatedAt: bare.updatedAt))
        XCTAssertEqual(try store.getTemplate("bare"), bare)
        // ... and so do explicitly empty ones.
        let empty = try store.insertTemplate(TemplateRecord(
            name: "empty", version: 0, metadataJSON: "", envJSON: "", setupJSON: "", onDrain: ""))
        XCTAssertEqual(empty, TemplateRecord(
            name: "empty", version: 0, metadataJSON: "", envJSON: "", setupJSON: "", onDrain: "",
            createdAt: empty.createdAt, updatedAt: empty.updatedAt))

        XCTAssertTrue(try store.deleteTemplate("py"))
        XCTAssertFalse(try store.deleteTemplate("py"))
        XCTAssertFalse(try store.deleteTemplate("nobody"))
        XCTAssertNil(try store.getTemplate("py"))
        XCTAssertEqual(try store.getTemplate("bare"), bare, "other templates untouched")

        // An insert after delete is a fresh row.
        usleep(5_000)
        let again = try store.insertTemplate(TemplateRecord(name: "py", image: "python:3.13"))
        XCTAssertGreaterThan(again.createdAt, stored.createdAt)
        XCTAssertEqual(again.version, 1)
        XCTAssertEqual(again.image, "python:3.13")
        XCTAssertEqual(again.memoryMB, 0, "nothing left over from the deleted row")
    }

    func testDuplicateTemplateIsConflictAndKeepsTheOriginal() throws {
        let store = try migratedStore()
        let original = try store.insertTemplate(fullTemplate("py", tenant: "t1"))
        assertStoreError(.conflict("template py already exists")) {
            try store.insertTemplate(TemplateRecord(name: "py", tenantID: "t2", image: "other"))
        }
        // Names are unique across tenants and global.
        assertStoreError(.conflict("template py already exists")) {
            try store.insertTemplate(TemplateRecord(name: "py"))
        }
        XCTAssertEqual(try store.getTemplate("py"), original)
        // The writer is usable afterwards.
        XCTAssertEqual(try store.insertTemplate(TemplateRecord(name: "py2")).name, "py2")
    }

    func testReplaceTemplate() throws {
        let store = try migratedStore()
        assertStoreError(.notFound) { try store.replaceTemplate(TemplateRecord(name: "missing")) }
        XCTAssertNil(try store.getTemplate("missing"), "replace never inserts")

        let first = try store.insertTemplate(fullTemplate("py", version: 3))
        let other = try store.insertTemplate(fullTemplate("other"))
        usleep(5_000)
        let before = try store.now()
        // Every field replaced (tenant included, "" / 0 clearing optional ones); the record's
        // version and times are ignored.
        let replacement = TemplateRecord(
            name: "py", tenantID: "", image: "python:3.13", ttl: "", provider: "", version: 99, memoryMB: 0,
            vcpus: 4, ttlMs: 0, metadataJSON: #"{"v":"2"}"#, envJSON: "{}", setupJSON: "[]", onDrain: "expire",
            description: "", createdAt: 1, updatedAt: 2)
        let second = try store.replaceTemplate(replacement)
        let after = try store.now()
        XCTAssertEqual(second.createdAt, first.createdAt, "created_at kept")
        XCTAssertGreaterThanOrEqual(second.updatedAt, before, "updated_at = database now")
        XCTAssertLessThanOrEqual(second.updatedAt, after)
        XCTAssertGreaterThan(second.updatedAt, first.updatedAt)
        XCTAssertEqual(second, TemplateRecord(
            name: "py", tenantID: "", image: "python:3.13", ttl: "", provider: "", version: 4, memoryMB: 0,
            vcpus: 4, ttlMs: 0, metadataJSON: #"{"v":"2"}"#, envJSON: "{}", setupJSON: "[]", onDrain: "expire",
            description: "", createdAt: first.createdAt, updatedAt: second.updatedAt), "version = old + 1")
        XCTAssertEqual(try store.getTemplate("py"), second, "returns the stored row")
        XCTAssertEqual(try store.getTemplate("other"), other, "other templates untouched")

        // Back to the full record: every field replaced again, version counts on.
        let third = try store.replaceTemplate(fullTemplate("py", tenant: "t2", version: 1))
        var expected = fullTemplate("py", tenant: "t2", version: 5)
        expected.createdAt = first.createdAt
        expected.updatedAt = third.updatedAt
        XCTAssertEqual(third, expected)
        XCTAssertGreaterThanOrEqual(third.updatedAt, second.updatedAt)
        XCTAssertEqual(try store.listTemplates(tenantIDs: ["t2"], limit: 10, afterName: nil).map(\.name), ["py"],
                       "the new tenant is what lists see")
        XCTAssertEqual(try store.listTemplates(tenantIDs: [""], limit: 10, afterName: nil), [])

        XCTAssertTrue(try store.deleteTemplate("py"))
        assertStoreError(.notFound) { try store.replaceTemplate(self.fullTemplate("py")) }
    }

    /// The version bump is one statement: replaces from two store instances (two processes, as far
    /// as the database can tell) never lose one.
    func testConcurrentReplacesEachBumpTheVersion() throws {
        let store = try migratedStore()
        let another = try openAnotherStore()
        defer { another.close() }
        try store.insertTemplate(TemplateRecord(name: "hot"))
        let failures = Collector<String>()
        let versions = Collector<Int>()
        XCTAssertTrue(runOnThreads(8) { index in
            let target = index % 2 == 0 ? store : another
            for round in 0..<10 {
                do {
                    let row = try target.replaceTemplate(TemplateRecord(name: "hot", image: "img-\(index)-\(round)"))
                    versions.append(row.version)
                } catch {
                    failures.append("thread \(index): \(error)")
                }
            }
        })
        XCTAssertEqual(failures.all, [])
        XCTAssertEqual(versions.all.sorted(), Array(2...81), "each replace saw and bumped its own version")
        XCTAssertEqual(try store.getTemplate("hot")?.version, 81)
    }

    func testListTemplatesByTenantAndPaging() throws {
        let store = try migratedStore()
        XCTAssertEqual(try store.listTemplates(tenantIDs: ["t1", ""], limit: 10, afterName: nil), [])
        // (name, tenant); byte order: uppercase before lowercase, non-ASCII last.
        let rows: [(String, String)] = [
            ("Base", ""), ("alpine", "t1"), ("go", "t2"), ("node", ""), ("node-18", "t1"), ("o'py", "t1"),
            ("rust", "t2"), ("zig", ""), ("ümlaut", "t1"),
        ]
        var stored: [String: TemplateRecord] = [:]
        for (name, tenant) in rows.shuffled() {
            stored[name] = try store.insertTemplate(fullTemplate(name, tenant: tenant))
        }
        func names(_ tenants: [String], limit: Int = 100, after: String? = nil) throws -> [String] {
            try store.listTemplates(tenantIDs: tenants, limit: limit, afterName: after).map(\.name)
        }
        XCTAssertEqual(try names(["t1", ""]), ["Base", "alpine", "node", "node-18", "o'py", "zig", "ümlaut"])
        XCTAssertEqual(try names(["", "t1"]), ["Base", "alpine", "node", "node-18", "o'py", "zig", "ümlaut"],
                       "order of tenantIDs does not matter")
        XCTAssertEqual(try names(["t2", ""]), ["Base", "go", "node", "rust", "zig"])
        XCTAssertEqual(try names([""]), ["Base", "node", "zig"], "globals only")
        XCTAssertEqual(try names(["t1"]), ["alpine", "node-18", "o'py", "ümlaut"], "no globals unless asked")
        XCTAssertEqual(try names(["t1", "t2"]), ["alpine", "go", "node-18", "o'py", "rust", "ümlaut"])
        XCTAssertEqual(try names(["t1", "t1", "", ""]), try names(["t1", ""]), "duplicates are harmless")
        XCTAssertEqual(try names(["t9"]), [])
        XCTAssertEqual(try names(["T1"]), [], "tenant IDs are exact")
        XCTAssertEqual(try names([]), [], "an empty tenant list matches nothing")

        let whole = try store.listTemplates(tenantIDs: ["t1", ""], limit: 100, afterName: nil)
        XCTAssertEqual(whole, whole.map { stored[$0.name]! }, "whole rows")

        var seen: [String] = []
        var after: String? = nil
        while true {
            let page = try store.listTemplates(tenantIDs: ["t1", ""], limit: 3, afterName: after)
            XCTAssertLessThanOrEqual(page.count, 3)
            seen += page.map(\.name)
            guard page.count == 3, let last = page.last else { break }
            after = last.name
        }
        XCTAssertEqual(seen, ["Base", "alpine", "node", "node-18", "o'py", "zig", "ümlaut"])

        XCTAssertEqual(try names(["t1", ""], limit: 2, after: "alpine"), ["node", "node-18"], "strictly after the cursor")
        XCTAssertEqual(try names(["t1", ""], limit: 10, after: "go"), ["node", "node-18", "o'py", "zig", "ümlaut"],
                       "a cursor that is another tenant's still pages")
        XCTAssertEqual(try names(["t1", ""], limit: 10, after: "n"), ["node", "node-18", "o'py", "zig", "ümlaut"],
                       "a cursor that is not stored still pages")
        XCTAssertEqual(try names(["t1", ""], limit: 10, after: "ümlaut"), [])
        XCTAssertEqual(try names(["t1", ""], limit: 0), [])
        XCTAssertEqual(try names(["t1", ""], limit: -1, after: "alpine"), [])

        XCTAssertTrue(try store.deleteTemplate("node"))
        XCTAssertEqual(try names([""]), ["Base", "zig"])
    }

    // MARK: Idempotency keys

    func testIdempotencyReserveCompleteAndReplay() throws {
        let store = try migratedStore()
        let body = #"{"id":"sb-000000000000000000000001","note":"it's ✓ 🚀"}"#
        XCTAssertEqual(try store.reserveIdempotencyKey(principal: "alice", key: "k1", requestSHA256: "h1"), .reserved)
        XCTAssertEqual(try store.reserveIdempotencyKey(principal: "alice", key: "k1", requestSHA256: "h1"), .inProgress)
        XCTAssertEqual(try store.reserveIdempotencyKey(principal: "alice", key: "k1", requestSHA256: "h2"), .mismatch,
                       "another body is a mismatch even while the first is running")
        XCTAssertEqual(try store.reserveIdempotencyKey(principal: "bob", key: "k1", requestSHA256: "h2"), .reserved,
                       "keys are scoped by principal")
        XCTAssertEqual(try store.reserveIdempotencyKey(principal: "alice", key: "k2", requestSHA256: "h1"), .reserved)

        try store.completeIdempotencyKey(principal: "alice", key: "k1", status: 201, response: body)
        XCTAssertEqual(try store.reserveIdempotencyKey(principal: "alice", key: "k1", requestSHA256: "h1"),
                       .done(status: 201, response: body), "the stored status and body are replayed exactly")
        XCTAssertEqual(try store.reserveIdempotencyKey(principal: "alice", key: "k1", requestSHA256: "h2"), .mismatch)
        XCTAssertEqual(try store.reserveIdempotencyKey(principal: "bob", key: "k1", requestSHA256: "h2"), .inProgress,
                       "completing alice's key leaves bob's alone")
        XCTAssertEqual(try store.reserveIdempotencyKey(principal: "alice", key: "k2", requestSHA256: "h1"), .inProgress)

        // Another instance (another process) sees the same rows.
        let another = try openAnotherStore()
        defer { another.close() }
        XCTAssertEqual(try another.reserveIdempotencyKey(principal: "alice", key: "k1", requestSHA256: "h1"),
                       .done(status: 201, response: body))

        // An empty body and a 4xx status are stored like any other result.
        try store.completeIdempotencyKey(principal: "bob", key: "k1", status: 409, response: "")
        XCTAssertEqual(try store.reserveIdempotencyKey(principal: "bob", key: "k1", requestSHA256: "h2"),
                       .done(status: 409, response: ""))

        assertStoreError(.notFound) {
            try store.completeIdempotencyKey(principal: "alice", key: "unknown", status: 201, response: "{}")
        }
        XCTAssertEqual(try store.reserveIdempotencyKey(principal: "alice", key: "unknown", requestSHA256: "h1"), .reserved,
                       "a failed complete stores nothing")
    }

    func testReleaseIdempotencyKeyAllowsARetry() throws {
        let store = try migratedStore()
        XCTAssertEqual(try store.reserveIdempotencyKey(principal: "alice", key: "k", requestSHA256: "h1"), .reserved)
        XCTAssertEqual(try store.reserveIdempotencyKey(principal: "bob", key: "k", requestSHA256: "h1"), .reserved)
        try store.releaseIdempotencyKey(principal: "alice", key: "k")
        XCTAssertEqual(try store.reserveIdempotencyKey(principal: "alice", key: "k", requestSHA256: "h2"), .reserved,
                       "a released key is free again, for any body")
        XCTAssertEqual(try store.reserveIdempotencyKey(principal: "alice", key: "k", requestSHA256: "h2"), .inProgress)
        XCTAssertEqual(try store.reserveIdempotencyKey(principal: "bob", key: "k", requestSHA256: "h1"), .inProgress,
                       "only the released principal's row went")
        assertStoreError(.notFound) {
            try store.completeIdempotencyKey(principal: "carol", key: "k", status: 201, response: "{}")
        }
        try store.releaseIdempotencyKey(principal: "carol", key: "k")  // no row: not an error

        // A completed key released (by a caller that wants it gone) is free as well.
        try store.completeIdempotencyKey(principal: "bob", key: "k", status: 201, response: "{}")
        try store.releaseIdempotencyKey(principal: "bob", key: "k")
        XCTAssertEqual(try store.reserveIdempotencyKey(principal: "bob", key: "k", requestSHA256: "h3"), .reserved)
    }

    func testPruneIdempotencyKeysByDatabaseTime() throws {
        let store = try migratedStore()
        XCTAssertEqual(try store.reserveIdempotencyKey(principal: "p", key: "old-1", requestSHA256: "h"), .reserved)
        XCTAssertEqual(try store.reserveIdempotencyKey(principal: "p", key: "old-2", requestSHA256: "h"), .reserved)
        try store.completeIdempotencyKey(principal: "p", key: "old-2", status: 201, response: "{}")
        XCTAssertEqual(try store.pruneIdempotencyKeys(olderThanMs: 0), 0, "<= 0 deletes nothing")
        XCTAssertEqual(try store.pruneIdempotencyKeys(olderThanMs: -5), 0)
        XCTAssertEqual(try store.pruneIdempotencyKeys(olderThanMs: IdempotencyReservation.windowMs), 0, "all fresh")

        Thread.sleep(forTimeInterval: 1.0)
        XCTAssertEqual(try store.reserveIdempotencyKey(principal: "p", key: "fresh", requestSHA256: "h"), .reserved)
        XCTAssertEqual(try store.pruneIdempotencyKeys(olderThanMs: 500), 2, "both old rows go, in_progress and done")
        XCTAssertEqual(try store.reserveIdempotencyKey(principal: "p", key: "old-1", requestSHA256: "other"), .reserved)
        XCTAssertEqual(try store.reserveIdempotencyKey(principal: "p", key: "old-2", requestSHA256: "other"), .reserved)
        XCTAssertEqual(try store.reserveIdempotencyKey(principal: "p", key: "fresh", requestSHA256: "h"), .inProgress,
                       "the fresh row stays")
    }

    /// Two instances on one database (two processes), several threads each, reserving one key:
    /// exactly one wins, every other sees it in progress; nothing fails.
    func testConcurrentReservationsFromTwoInstancesReserveOnce() throws {
        for round in 0..<10 {
            let first = try migratedStore()
            let second = try openAnotherStore()
            opened.append(second)
            let stores = [first, second]
            let outcomes = Collector<IdempotencyReservation>()
            let failures = Collector<String>()
            XCTAssertTrue(runOnThreads(8) { index in
                do {
                    outcomes.append(try stores[index % 2].reserveIdempotencyKey(
                        principal: "alice", key: "race-\(round)", requestSHA256: "same"))
                } catch {
                    failures.append("thread \(index): \(error)")
                }
            })
            XCTAssertEqual(failures.all, [], "round \(round)")
            let results = outcomes.all
            XCTAssertEqual(results.count, 8, "round \(round)")
            XCTAssertEqual(results.filter { $0 == .reserved }.count, 1, "round \(round): exactly one reservation")
            XCTAssertEqual(results.filter { $0 == .inProgress }.count, 7, "round \(round)")
        }
    }

    // MARK: Text fidelity

    func testUnicodeAndQuotesSurvive() throws {
        let store = try migratedStore()
        let nasty = #"ünïcødé 🚀 日本語 'single' "double" \back\slash ; DROP TABLE sandboxes; --"#
        var record = sandbox("sb-000000000000000000000020", tenant: "tenant-ü", owner: "o'brien")
        record.stateReason = nasty
        record.metadataJSON = #"{"note":"\#(nasty.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\""))"}"#
        record.envJSON = #"{"EMOJI":"🙂"}"#
        let stored = try store.insertSandbox(record)
        let loaded = try XCTUnwrap(try store.getSandbox(record.id))
        XCTAssertEqual(loaded, stored)
        XCTAssertEqual(loaded.stateReason, nasty)
        XCTAssertEqual(loaded.ownerID, "o'brien")
        XCTAssertEqual(try store.listSandboxes(filter: SandboxFilter(tenantID: "tenant-ü", ownerID: "o'brien", limit: 5)).count, 1)

        try store.putSetting(key: "k'ey \"ü\"", valueJSON: #""\#(nasty.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\""))""#, updatedBy: "🚀")
        XCTAssertEqual(try store.getSetting("k'ey \"ü\"")?.updatedBy, "🚀")
        let seq = try store.appendEvent(EventRecord(type: "exec.completed", dataJSON: #"{"out":"日本語 \"q\""}"#))
        XCTAssertEqual(try store.listEvents(afterSeq: seq - 1, limit: 1).first?.dataJSON, #"{"out":"日本語 \"q\""}"#)
        try store.updateSandboxState(id: record.id, state: "error", reason: "exit 1: ‘smart quotes’\n\tand tabs")
        XCTAssertEqual(try store.getSandbox(record.id)?.stateReason, "exit 1: ‘smart quotes’\n\tand tabs")
    }

    // MARK: Concurrency

    func testReserveSandboxNeverOvershootsCapsUnderRace() throws {
        let store = try migratedStore()
        let reserved = Collector<String>()
        let failures = Collector<String>()
        XCTAssertTrue(runOnThreads(16) { index in
            let id = "sb-" + String(repeating: "a", count: 22) + String(format: "%02d", index)
            do {
                if let row = try store.reserveSandbox(SandboxRecord(id: id, state: "creating", provider: "mock", image: "img",
                                                                    memoryMB: 256, vcpus: 1, ownerID: "o", tenantID: ""),
                                                      maxActive: 5, maxActiveForOwner: 0) {
                    reserved.append(row.id)
                }
            } catch {
                failures.append("\(error)")
            }
        })
        XCTAssertEqual(failures.all, [])
        XCTAssertEqual(reserved.all.count, 5, "exactly the cap, however the threads interleave")
        XCTAssertEqual(try store.countActiveSandboxes(tenantID: nil, ownerID: nil), 5)
        // Destroyed rows do not count; the per-owner cap counts only that tenant and owner.
        try store.updateSandboxState(id: reserved.all[0], state: "destroyed", reason: nil)
        let mine = SandboxRecord(id: "sb-bbbbbbbbbbbbbbbbbbbbbbb1", state: "creating", provider: "mock", image: "img",
                                 memoryMB: 256, vcpus: 1, ownerID: "o", tenantID: "")
        XCTAssertNil(try store.reserveSandbox(mine, maxActive: 0, maxActiveForOwner: 4))
        XCTAssertNotNil(try store.reserveSandbox(mine, maxActive: 5, maxActiveForOwner: 5))
        let other = SandboxRecord(id: "sb-bbbbbbbbbbbbbbbbbbbbbbb2", state: "creating", provider: "mock", image: "img",
                                  memoryMB: 256, vcpus: 1, ownerID: "p", tenantID: "")
        XCTAssertNotNil(try store.reserveSandbox(other, maxActive: 0, maxActiveForOwner: 1))
        assertStoreError(.conflict("sandbox sb-bbbbbbbbbbbbbbbbbbbbbbb2 already exists")) {
            _ = try store.reserveSandbox(other, maxActive: 0, maxActiveForOwner: 0)
        }
    }

    func testHundredConcurrentWritersAllLand() throws {
        let store = try migratedStore()
        let failures = Collector<String>()
        let seqs = Collector<Int64>()
        XCTAssertTrue(runOnThreads(100) { index in
            do {
                let id = "sb-" + String(repeating: "0", count: 21) + String(format: "%03d", index)
                try store.insertSandbox(SandboxRecord(
                    id: id, state: "running", provider: "mock", image: "img", memoryMB: 256, vcpus: 1,
                    ownerID: "owner-\(index % 7)"))
                try store.updateSandboxState(id: id, state: "stopped", reason: "thread \(index)")
                seqs.append(try store.appendEvent(EventRecord(type: "sandbox.created", sandboxID: id)))
            } catch {
                failures.append("writer \(index): \(error)")
            }
        })
        XCTAssertEqual(failures.all, [])
        let listed = try store.listSandboxes(filter: SandboxFilter(limit: 1000))
        XCTAssertEqual(listed.count, 100)
        XCTAssertTrue(listed.allSatisfy { $0.state == "stopped" })
        XCTAssertEqual(Set(seqs.all).count, 100)
        XCTAssertEqual(try store.listEvents(afterSeq: 0, limit: 1000).count, 100)
    }

    func testReadersDuringWritesSeeConsistentRows() throws {
        let store = try migratedStore()
        let ids = (0..<5).map { "sb-00000000000000000000003\($0)" }
        for id in ids {
            try store.insertSandbox(sandbox(id, state: "s0"))
            try store.updateSandboxState(id: id, state: "s0", reason: "s0")
        }
        let failures = Collector<String>()
        // Thread 0 writes; state and reason are always written together, so a reader that ever
        // sees them differ has seen a torn row.
        XCTAssertTrue(runOnThreads(5) { index in
            do {
                if index == 0 {
                    for round in 1...150 {
                        for id in ids { try store.updateSandboxState(id: id, state: "s\(round)", reason: "s\(round)") }
                    }
                } else {
                    for _ in 0..<150 {
                        let rows = try store.listSandboxes(filter: SandboxFilter(limit: 10))
                        if rows.count != ids.count { failures.append("reader saw \(rows.count) rows") }
                        for row in rows where row.state != row.stateReason {
                            failures.append("torn row \(row.id): \(row.state) / \(row.stateReason ?? "nil")")
                        }
                        if let one = try store.getSandbox(ids[index % ids.count]), one.state != one.stateReason {
                            failures.append("torn get \(one.id)")
                        }
                    }
                }
            } catch {
                failures.append("thread \(index): \(error)")
            }
        })
        XCTAssertEqual(failures.all, [])
        XCTAssertEqual(try store.getSandbox(ids[0])?.state, "s150")
    }
}
