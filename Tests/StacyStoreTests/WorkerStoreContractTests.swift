import Foundation
import StacyStore
import XCTest

struct HeartbeatNotAccepted: Error {}

/// The `WorkerStore` part of the contract (workers.md §3–6, §9–10): the worker registry and its
/// heartbeat epoch rule, worker credentials, and fencing leases. Written once in the base class,
/// run by every driver subclass (see the override list in each subclass).
extension StoreContractTests {
    // MARK: Helpers

    func heartbeat(
        _ workerID: String, epoch: String?, startedAt: Int64?, status: String = "online", hostname: String = "host-a",
        version: String = "1.0.0", intervalMs: Int64 = 10_000, providers: String = #"["mock"]"#,
        capabilities: String = #"["spawn","exec"]"#, capacity: String = #"{"max_sandboxes":4}"#,
        usage: String = #"{"sandboxes":0}"#, labels: String = #"{"zone":"a"}"#
    ) -> WorkerHeartbeat {
        WorkerHeartbeat(
            workerID: workerID, hostname: hostname, status: status, epoch: epoch, startedAt: startedAt,
            protocolVersion: epoch == nil ? 1 : 2, version: version, heartbeatIntervalMs: intervalMs,
            providersJSON: providers, capabilitiesJSON: capabilities, capacityJSON: capacity, usageJSON: usage,
            labelsJSON: labels)
    }

    /// The stored row and the previous one of an accepted heartbeat; fails the test on `.superseded`.
    func accepted(
        _ outcome: HeartbeatOutcome, file: StaticString = #filePath, line: UInt = #line
    ) throws -> (worker: WorkerRecord, previous: WorkerRecord?) {
        guard case .accepted(let worker, let previous) = outcome else {
            XCTFail("expected an accepted heartbeat, got \(outcome)", file: file, line: line)
            throw HeartbeatNotAccepted()
        }
        return (worker, previous)
    }

    /// Expects `.conflict` with any (non-empty, SQL-free) reason.
    func assertConflict(file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
        do {
            try body()
            XCTFail("expected a conflict, nothing thrown", file: file, line: line)
        } catch let error as StoreError {
            guard case .conflict(let reason) = error else {
                return XCTFail("expected a conflict, got \(error)", file: file, line: line)
            }
            XCTAssertFalse(reason.isEmpty, file: file, line: line)
            for leak in ["UPDATE", "INSERT", "constraint", "sqlite", "leases."] {
                XCTAssertFalse(reason.localizedCaseInsensitiveContains(leak), "reason leaks \(leak): \(reason)", file: file, line: line)
            }
        } catch {
            XCTFail("expected a conflict, got \(error)", file: file, line: line)
        }
    }

    func assertBetween(
        _ value: Int64?, _ low: Int64, _ high: Int64, _ message: String = "", file: StaticString = #filePath,
        line: UInt = #line
    ) {
        guard let value else { return XCTFail("nil, expected \(low)...\(high) \(message)", file: file, line: line) }
        XCTAssertGreaterThanOrEqual(value, low, message, file: file, line: line)
        XCTAssertLessThanOrEqual(value, high, message, file: file, line: line)
    }

    static let epochA = "9f2c4e1a0b3d5c7e8f9a0b1c2d3e4f50"
    static let epochB = "a0b1c2d3e4f5061728394a5b6c7d8e9f"
    static let epochC = "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3"

    // MARK: Worker registry

    func testHeartbeatInsertsANewWorkerWithDatabaseTime() throws {
        let store = try migratedStore()
        let before = try store.now()
        let (worker, previous) = try accepted(try store.recordHeartbeat(
            heartbeat("worker-a", epoch: Self.epochA, startedAt: 1_778_320_000_000), staleAfterMs: 30_000))
        let after = try store.now()
        XCTAssertNil(previous, "a new worker has no previous row")
        assertBetween(worker.lastHeartbeat, before, after, "last_heartbeat is database now")
        XCTAssertEqual(worker.createdAt, worker.lastHeartbeat)
        XCTAssertEqual(worker.updatedAt, worker.lastHeartbeat)
        XCTAssertEqual(worker, WorkerRecord(
            id: "worker-a", hostname: "host-a", status: "online", liveness: "alive", adminState: "active",
            epoch: Self.epochA, startedAt: 1_778_320_000_000, protocolVersion: 2, version: "1.0.0",
            heartbeatIntervalMs: 10_000, providersJSON: #"["mock"]"#, capabilitiesJSON: #"["spawn","exec"]"#,
            capacityJSON: #"{"max_sandboxes":4}"#, usageJSON: #"{"sandboxes":0}"#, labelsJSON: #"{"zone":"a"}"#,
            lastHeartbeat: worker.lastHeartbeat, createdAt: worker.createdAt, updatedAt: worker.updatedAt))
        XCTAssertEqual(try store.getWorker("worker-a"), worker)
        XCTAssertNil(try store.getWorker("worker-b"))

        // A plain REST heartbeat on a new row: epoch `legacy`, started_at = first seen (database now).
        let (rest, _) = try accepted(try store.recordHeartbeat(heartbeat("worker-rest", epoch: nil, startedAt: nil), staleAfterMs: 30_000))
        XCTAssertEqual(rest.epoch, "legacy")
        XCTAssertEqual(rest.startedAt, rest.createdAt)
        XCTAssertEqual(rest.protocolVersion, 1)
        XCTAssertGreaterThanOrEqual(rest.createdAt, after)
    }

    /// Epochs are opaque text: all-digit, leading-zero or exponent-looking hex survives byte for byte.
    func testEpochTextRoundTripsExactly() throws {
        let store = try migratedStore()
        for (index, epoch) in ["00000000000000000000000000001234", "12e45678901234567890123456789012", "0x10", "legacy"].enumerated() {
            let (worker, _) = try accepted(try store.recordHeartbeat(heartbeat("w-\(index)", epoch: epoch, startedAt: 1), staleAfterMs: 30_000))
            XCTAssertEqual(worker.epoch, epoch)
            XCTAssertEqual(try store.getWorker("w-\(index)")?.epoch, epoch)
            let lease = try store.acquireLease(resourceID: "sb-\(index)", resourceType: "sandbox", holderID: "w-\(index)",
                                               holderEpoch: epoch, expiry: .fromNow(60_000))
            XCTAssertEqual(lease.holderEpoch, epoch)
            XCTAssertEqual(try store.getLease(resourceID: "sb-\(index)")?.holderEpoch, epoch)
        }
    }

    /// Same epoch again: every reported field is replaced, liveness becomes alive, and admin state,
    /// drain fields and created_at are never touched.
    func testHeartbeatOfTheSameEpochUpdatesReportedFieldsOnly() throws {
        let store = try migratedStore()
        let (first, _) = try accepted(try store.recordHeartbeat(heartbeat("worker-a", epoch: Self.epochA, startedAt: 5_000), staleAfterMs: 30_000))
        let drained = try store.setWorkerAdminState(
            id: "worker-a", adminState: "draining", drainStartedAt: 7_000, drainDeadline: 9_000, drainReason: "maintenance ü")
        try store.setWorkerLiveness(id: "worker-a", liveness: "lost")
        let lost = try XCTUnwrap(try store.getWorker("worker-a"))
        usleep(5_000)

        let (second, previous) = try accepted(try store.recordHeartbeat(
            heartbeat("worker-a", epoch: Self.epochA, startedAt: 5_000, status: "draining", hostname: "host-b",
                      version: "1.1.0", intervalMs: 5_000, providers: "[]", capabilities: #"["spawn"]"#,
                      capacity: #"{"vcpus":8}"#, usage: #"{"sandboxes":2}"#, labels: "{}"),
            staleAfterMs: 30_000))
        XCTAssertEqual(previous, lost, "previous is the row before this heartbeat")
        XCTAssertEqual(previous?.liveness, "lost", "the caller can tell a recovery")
        XCTAssertEqual(second.liveness, "alive")
        XCTAssertEqual(second.status, "draining")
        XCTAssertEqual(second.hostname, "host-b")
        XCTAssertEqual(second.version, "1.1.0")
        XCTAssertEqual(second.heartbeatIntervalMs, 5_000)
        XCTAssertEqual(second.providersJSON, "[]")
        XCTAssertEqual(second.capabilitiesJSON, #"["spawn"]"#)
        XCTAssertEqual(second.capacityJSON, #"{"vcpus":8}"#)
        XCTAssertEqual(second.usageJSON, #"{"sandboxes":2}"#)
        XCTAssertEqual(second.labelsJSON, "{}")
        XCTAssertEqual(second.epoch, Self.epochA)
        XCTAssertEqual(second.startedAt, 5_000)
        XCTAssertEqual(second.adminState, "draining", "admin_state untouched")
        XCTAssertEqual(second.drainStartedAt, 7_000)
        XCTAssertEqual(second.drainDeadline, 9_000)
        XCTAssertEqual(second.drainReason, "maintenance ü")
        XCTAssertEqual(second.createdAt, first.createdAt, "created_at untouched")
        XCTAssertGreaterThan(try XCTUnwrap(second.lastHeartbeat), try XCTUnwrap(first.lastHeartbeat))
        XCTAssertEqual(second.updatedAt, second.lastHeartbeat)
        XCTAssertGreaterThanOrEqual(second.updatedAt, drained.updatedAt)
        XCTAssertEqual(try store.getWorker("worker-a"), second)
    }

    /// workers.md §4: a different epoch replaces the stored one only with a later started_at or
    /// after the stored epoch has been silent for staleAfterMs; otherwise `.superseded` and nothing
    /// changes (not even last_heartbeat).
    func testHeartbeatEpochRule() throws {
        let store = try migratedStore()
        let (a, _) = try accepted(try store.recordHeartbeat(heartbeat("worker-a", epoch: Self.epochA, startedAt: 10_000), staleAfterMs: 30_000))

        // Older and equal started_at while A still beats: superseded, row unchanged.
        for started in [9_999, 10_000] as [Int64] {
            XCTAssertEqual(
                try store.recordHeartbeat(heartbeat("worker-a", epoch: Self.epochB, startedAt: started, hostname: "intruder"),
                                          staleAfterMs: 30_000),
                .superseded(currentEpoch: Self.epochA), "started_at \(started)")
            XCTAssertEqual(try store.getWorker("worker-a"), a, "a superseded heartbeat changes nothing")
        }
        // An epoch without started_at cannot be later than anything.
        XCTAssertEqual(
            try store.recordHeartbeat(heartbeat("worker-a", epoch: Self.epochB, startedAt: nil), staleAfterMs: 30_000),
            .superseded(currentEpoch: Self.epochA))
        XCTAssertEqual(try store.getWorker("worker-a"), a)

        // Later started_at: B replaces A; the caller sees the change through `previous`.
        usleep(2_000)
        let (b, previous) = try accepted(try store.recordHeartbeat(
            heartbeat("worker-a", epoch: Self.epochB, startedAt: 10_001, hostname: "host-b"), staleAfterMs: 30_000))
        XCTAssertEqual(previous, a)
        XCTAssertEqual(b.epoch, Self.epochB)
        XCTAssertEqual(b.startedAt, 10_001)
        XCTAssertEqual(b.hostname, "host-b")
        XCTAssertEqual(b.createdAt, a.createdAt)

        // The replaced epoch now gets superseded, however often it retries.
        XCTAssertEqual(
            try store.recordHeartbeat(heartbeat("worker-a", epoch: Self.epochA, startedAt: 10_000), staleAfterMs: 30_000),
            .superseded(currentEpoch: Self.epochB))
        XCTAssertEqual(try store.getWorker("worker-a"), b)

        // Silence: an older started_at is still refused while B beats within staleAfterMs ...
        XCTAssertEqual(
            try store.recordHeartbeat(heartbeat("worker-a", epoch: Self.epochC, startedAt: 1), staleAfterMs: 5_000),
            .superseded(currentEpoch: Self.epochB))
        // ... and replaces B once B has been silent (by database time) for at least staleAfterMs.
        Thread.sleep(forTimeInterval: 0.3)
        let (c, cPrevious) = try accepted(try store.recordHeartbeat(
            heartbeat("worker-a", epoch: Self.epochC, startedAt: 1), staleAfterMs: 250))
        XCTAssertEqual(cPrevious, b)
        XCTAssertEqual(c.epoch, Self.epochC)
        XCTAssertEqual(c.startedAt, 1, "the new epoch's own started_at, even if older")
        XCTAssertGreaterThanOrEqual(try XCTUnwrap(c.lastHeartbeat) - (try XCTUnwrap(b.lastHeartbeat)), 250)

        // A replacement without started_at gets database now.
        Thread.sleep(forTimeInterval: 0.05)
        let before = try store.now()
        let (d, _) = try accepted(try store.recordHeartbeat(heartbeat("worker-a", epoch: Self.epochA, startedAt: nil), staleAfterMs: 20))
        XCTAssertEqual(d.epoch, Self.epochA)
        assertBetween(d.startedAt, before, try store.now())
    }

    /// A plain REST heartbeat (no epoch) never supersedes anything and is never superseded: it keeps
    /// the stored epoch and started_at.
    func testLegacyHeartbeatKeepsTheStoredEpoch() throws {
        let store = try migratedStore()
        let (a, _) = try accepted(try store.recordHeartbeat(heartbeat("worker-a", epoch: Self.epochA, startedAt: 10_000), staleAfterMs: 30_000))
        usleep(2_000)
        let (rest, previous) = try accepted(try store.recordHeartbeat(
            heartbeat("worker-a", epoch: nil, startedAt: nil, hostname: "rest-host"), staleAfterMs: 30_000))
        XCTAssertEqual(previous, a)
        XCTAssertEqual(rest.epoch, Self.epochA, "legacy heartbeat keeps the epoch")
        XCTAssertEqual(rest.startedAt, 10_000, "and started_at")
        XCTAssertEqual(rest.hostname, "rest-host", "reported fields are still updated")
        XCTAssertEqual(rest.protocolVersion, 1)
        XCTAssertGreaterThan(try XCTUnwrap(rest.lastHeartbeat), try XCTUnwrap(a.lastHeartbeat))
        // Even long silence does not let a REST heartbeat take anything over.
        let (silent, _) = try accepted(try store.recordHeartbeat(heartbeat("worker-a", epoch: nil, startedAt: nil), staleAfterMs: 0))
        XCTAssertEqual(silent.epoch, Self.epochA)

        // A REST-only worker stays `legacy` with its first-seen started_at.
        let (first, _) = try accepted(try store.recordHeartbeat(heartbeat("worker-r", epoch: nil, startedAt: nil), staleAfterMs: 30_000))
        usleep(5_000)
        let (again, _) = try accepted(try store.recordHeartbeat(heartbeat("worker-r", epoch: nil, startedAt: nil), staleAfterMs: 30_000))
        XCTAssertEqual(again.epoch, "legacy")
        XCTAssertEqual(again.startedAt, first.startedAt, "first time seen is kept")
        XCTAssertGreaterThan(try XCTUnwrap(again.lastHeartbeat), try XCTUnwrap(first.lastHeartbeat))

        // A versioned worker under that ID follows the epoch rule against `legacy`.
        let firstSeen = try XCTUnwrap(first.startedAt)
        XCTAssertEqual(
            try store.recordHeartbeat(heartbeat("worker-r", epoch: Self.epochB, startedAt: firstSeen - 1), staleAfterMs: 30_000),
            .superseded(currentEpoch: "legacy"))
        let (upgraded, _) = try accepted(try store.recordHeartbeat(
            heartbeat("worker-r", epoch: Self.epochB, startedAt: firstSeen + 1), staleAfterMs: 30_000))
        XCTAssertEqual(upgraded.epoch, Self.epochB)
        XCTAssertEqual(upgraded.startedAt, firstSeen + 1)
    }

    /// Several processes heartbeating one new ID at once with different epochs and the same
    /// started_at, through two store instances: exactly one epoch wins, the rest are superseded by it.
    func testConcurrentHeartbeatsOfDifferentEpochsAcceptExactlyOne() throws {
        let store = try migratedStore()
        let another = try openAnotherStore()
        defer { another.close() }
        let stores = [store, another]
        for round in 0..<4 {
            let id = "worker-race-\(round)"
            let outcomes = Collector<(String, HeartbeatOutcome)>()
            let failures = Collector<String>()
            let beats = (0..<8).map { index in
                heartbeat(id, epoch: String(repeating: String(index, radix: 16), count: 32), startedAt: 1_000)
            }
            XCTAssertTrue(runOnThreads(8) { index in
                do {
                    let outcome = try stores[index % 2].recordHeartbeat(beats[index], staleAfterMs: 60_000)
                    outcomes.append((beats[index].epoch ?? "", outcome))
                } catch {
                    failures.append("thread \(index): \(error)")
                }
            })
            XCTAssertEqual(failures.all, [], "round \(round)")
            let winners = outcomes.all.filter { if case .accepted = $0.1 { return true } else { return false } }
            XCTAssertEqual(winners.count, 1, "round \(round): exactly one epoch accepted")
            let stored = try XCTUnwrap(try store.getWorker(id))
            XCTAssertEqual(winners.first?.0, stored.epoch, "round \(round)")
            for (epoch, outcome) in outcomes.all where epoch != stored.epoch {
                XCTAssertEqual(outcome, .superseded(currentEpoch: stored.epoch), "round \(round)")
            }
        }
    }

    func testListWorkersInByteOrderWithPaging() throws {
        let store = try migratedStore()
        let ids = ["b-2", "a", "B", "b-10", "é", "a-1"]
        for id in ids.shuffled() {
            _ = try accepted(try store.recordHeartbeat(heartbeat(id, epoch: Self.epochA, startedAt: 1), staleAfterMs: 30_000))
        }
        let ordered = ["B", "a", "a-1", "b-10", "b-2", "é"]
        XCTAssertEqual(try store.listWorkers(limit: 100, afterID: nil).map(\.id), ordered)
        XCTAssertEqual(try store.listWorkers(limit: 0, afterID: nil), [])
        XCTAssertEqual(try store.listWorkers(limit: -1, afterID: nil), [])
        XCTAssertEqual(try store.listWorkers(limit: 2, afterID: nil).map(\.id), ["B", "a"])
        XCTAssertEqual(try store.listWorkers(limit: 2, afterID: "a").map(\.id), ["a-1", "b-10"])
        XCTAssertEqual(try store.listWorkers(limit: 10, afterID: "a-0").map(\.id), ["a-1", "b-10", "b-2", "é"],
                       "the cursor need not exist")
        XCTAssertEqual(try store.listWorkers(limit: 10, afterID: "é"), [])
        XCTAssertEqual(try store.listWorkers(limit: 1, afterID: "b-2").first, try store.getWorker("é"), "whole rows")

        var seen: [String] = []
        var after: String? = nil
        while true {
            let page = try store.listWorkers(limit: 4, afterID: after)
            seen += page.map(\.id)
            guard page.count == 4, let last = page.last else { break }
            after = last.id
        }
        XCTAssertEqual(seen, ordered)
    }

    func testSetWorkerLivenessAndAdminState() throws {
        let store = try migratedStore()
        let (worker, _) = try accepted(try store.recordHeartbeat(heartbeat("worker-a", epoch: Self.epochA, startedAt: 1), staleAfterMs: 30_000))
        usleep(5_000)
        try store.setWorkerLiveness(id: "worker-a", liveness: "stale")
        let stale = try XCTUnwrap(try store.getWorker("worker-a"))
        XCTAssertEqual(stale.liveness, "stale")
        XCTAssertGreaterThan(stale.updatedAt, worker.updatedAt, "updated_at is database now")
        var expected = worker
        expected.liveness = "stale"
        expected.updatedAt = stale.updatedAt
        XCTAssertEqual(stale, expected, "only liveness and updated_at change")
        assertStoreError(.notFound) { try store.setWorkerLiveness(id: "worker-missing", liveness: "lost") }

        let draining = try store.setWorkerAdminState(
            id: "worker-a", adminState: "draining", drainStartedAt: 1_000, drainDeadline: 61_000, drainReason: "kernel update")
        XCTAssertEqual(draining.adminState, "draining")
        XCTAssertEqual(draining.drainStartedAt, 1_000)
        XCTAssertEqual(draining.drainDeadline, 61_000)
        XCTAssertEqual(draining.drainReason, "kernel update")
        XCTAssertEqual(draining.liveness, "stale", "liveness untouched")
        XCTAssertEqual(draining.epoch, Self.epochA)
        XCTAssertGreaterThanOrEqual(draining.updatedAt, stale.updatedAt)
        XCTAssertEqual(try store.getWorker("worker-a"), draining, "returns the stored row")

        let active = try store.setWorkerAdminState(id: "worker-a", adminState: "active", drainStartedAt: nil, drainDeadline: nil, drainReason: nil)
        XCTAssertEqual(active.adminState, "active")
        XCTAssertNil(active.drainStartedAt, "nil clears")
        XCTAssertNil(active.drainDeadline)
        XCTAssertNil(active.drainReason)
        assertStoreError(.notFound) {
            try store.setWorkerAdminState(id: "worker-missing", adminState: "drained", drainStartedAt: nil, drainDeadline: nil, drainReason: nil)
        }
    }

    func testDeleteWorker() throws {
        let store = try migratedStore()
        _ = try accepted(try store.recordHeartbeat(heartbeat("worker-a", epoch: Self.epochA, startedAt: 1), staleAfterMs: 30_000))
        _ = try accepted(try store.recordHeartbeat(heartbeat("worker-b", epoch: Self.epochB, startedAt: 1), staleAfterMs: 30_000))
        XCTAssertTrue(try store.deleteWorker("worker-a"))
        XCTAssertFalse(try store.deleteWorker("worker-a"))
        XCTAssertFalse(try store.deleteWorker("worker-missing"))
        XCTAssertNil(try store.getWorker("worker-a"))
        XCTAssertEqual(try store.listWorkers(limit: 10, afterID: nil).map(\.id), ["worker-b"])
        // A deleted worker that beats again is a new row.
        let (back, previous) = try accepted(try store.recordHeartbeat(heartbeat("worker-a", epoch: Self.epochC, startedAt: 1), staleAfterMs: 30_000))
        XCTAssertNil(previous)
        XCTAssertEqual(back.epoch, Self.epochC)
    }

    func testWorkerUsageCountsLiveAndReapPendingSandboxes() throws {
        let store = try migratedStore()
        XCTAssertEqual(try store.workerUsage(), [])
        // (suffix, worker, state, vcpus, memory, reap_pending)
        let rows: [(String, String?, String, Int, Int, Bool)] = [
            ("01", "w-b", "running", 2, 1024, false),
            ("02", "w-b", "creating", 1, 512, false),     // a reservation counts
            ("03", "w-b", "destroyed", 4, 4096, false),   // gone
            ("04", "w-b", "destroyed", 1, 256, true),     // destroyed but not yet reaped: counts
            ("05", "w-a", "unhealthy", 1, 128, false),
            ("06", nil, "running", 8, 8192, false),       // no worker: left out
            ("07", "w-c", "destroyed", 1, 128, false),    // only destroyed rows: w-c absent
            ("08", "w-a", "expired", 2, 256, false),
        ]
        for (suffix, worker, state, vcpus, memory, reap) in rows.shuffled() {
            var record = sandbox("sb-0000000000000000000005\(suffix)", state: state)
            record.workerID = worker
            record.vcpus = vcpus
            record.memoryMB = memory
            record.reapPending = reap
            try store.insertSandbox(record)
        }
        XCTAssertEqual(try store.workerUsage(), [
            WorkerUsage(workerID: "w-a", sandboxes: 2, vcpus: 3, memoryMB: 384),
            WorkerUsage(workerID: "w-b", sandboxes: 3, vcpus: 4, memoryMB: 1792),
        ])
        try store.updateSandboxState(id: "sb-000000000000000000000505", state: "destroyed", reason: nil)
        XCTAssertEqual(try store.workerUsage().first, WorkerUsage(workerID: "w-a", sandboxes: 1, vcpus: 2, memoryMB: 256))
    }

    // MARK: Worker credentials

    func testWorkerCredentialInsertRoundTripAndConflicts() throws {
        let store = try migratedStore()
        let full = WorkerCredentialRecord(
            id: "wc-full", workerID: "worker-a", kind: "secret", secretSHA256: keyHash(1),
            scopes: ["worker:heartbeat", "worker:lease", #"odd "quoted" \ scope ü 🚀"#, "tab\there\nnewline"],
            description: "issued by 'ops' 🚀", createdAt: 1_000, expiresAt: 9_000_000_000_000, revokedAt: 2_000,
            lastUsedAt: 1_500)
        XCTAssertEqual(try store.insertWorkerCredential(full), full, "every field round-trips, scopes included")
        XCTAssertEqual(try store.getWorkerCredential(id: "wc-full"), full)

        let before = try store.now()
        let bare = try store.insertWorkerCredential(WorkerCredentialRecord(id: "wc-bare", workerID: "worker-a", secretSHA256: nil, scopes: []))
        let after = try store.now()
        assertBetween(bare.createdAt, before, after, "0 means database now")
        XCTAssertEqual(bare, WorkerCredentialRecord(id: "wc-bare", workerID: "worker-a", secretSHA256: nil, scopes: [], createdAt: bare.createdAt))
        XCTAssertEqual(try store.getWorkerCredential(id: "wc-bare")?.scopes, [], "an empty scope list stays empty")
        XCTAssertNil(try store.getWorkerCredential(id: "wc-missing"))
        // A second credential without a secret hash is not a duplicate.
        try store.insertWorkerCredential(WorkerCredentialRecord(id: "wc-bare-2", workerID: "worker-a", secretSHA256: nil, scopes: ["worker:lease"]))

        let duplicates = [
            WorkerCredentialRecord(id: "wc-full", workerID: "worker-b", secretSHA256: keyHash(2), scopes: []),
            WorkerCredentialRecord(id: "wc-other", workerID: "worker-b", secretSHA256: keyHash(1), scopes: []),
        ]
        for duplicate in duplicates {
            do {
                try store.insertWorkerCredential(duplicate)
                XCTFail("duplicate \(duplicate.id) inserted")
            } catch {
                guard case .conflict = error else { XCTFail("expected conflict, got \(error)"); continue }
                for leak in ["INSERT", "UNIQUE", "constraint", "worker_credentials.", "sqlite", keyHash(1), keyHash(2)] {
                    XCTAssertFalse(error.message.localizedCaseInsensitiveContains(leak), "message leaks \(leak): \(error.message)")
                }
            }
        }
        XCTAssertEqual(try store.getWorkerCredential(id: "wc-full"), full, "first row kept")
        XCTAssertNil(try store.getWorkerCredential(id: "wc-other"))
        XCTAssertEqual(try store.listWorkerCredentials(workerID: "worker-b"), [])
    }

    func testListWorkerCredentialsAndHasCredentials() throws {
        let store = try migratedStore()
        XCTAssertFalse(try store.workerHasCredentials(workerID: "worker-a"))
        XCTAssertEqual(try store.listWorkerCredentials(workerID: "worker-a"), [])
        let now = try store.now()
        // (id, worker, created_at); equal created_at on some rows proves the id tie-break.
        let rows: [(String, String, Int64)] = [
            ("wc-b", "worker-a", 200), ("wc-a", "worker-a", 200), ("wc-c", "worker-a", 100), ("wc-d", "worker-b", 50),
            ("wc-e", "worker-a", 300),
        ]
        for (index, (id, worker, created)) in rows.enumerated().shuffled() {
            try store.insertWorkerCredential(WorkerCredentialRecord(
                id: id, workerID: worker, secretSHA256: keyHash(index + 1), scopes: ["worker:heartbeat"], createdAt: created,
                expiresAt: id == "wc-e" ? now - 1_000 : nil))
        }
        XCTAssertTrue(try store.revokeWorkerCredential(id: "wc-a", workerID: "worker-a"))
        let listed = try store.listWorkerCredentials(workerID: "worker-a")
        XCTAssertEqual(listed.map(\.id), ["wc-c", "wc-a", "wc-b", "wc-e"], "by (created_at, id); revoked and expired included")
        XCTAssertEqual(listed.first { $0.id == "wc-b" }, try store.getWorkerCredential(id: "wc-b"), "whole rows")
        XCTAssertEqual(try store.listWorkerCredentials(workerID: "worker-b").map(\.id), ["wc-d"])
        XCTAssertTrue(try store.workerHasCredentials(workerID: "worker-a"))
        XCTAssertTrue(try store.workerHasCredentials(workerID: "worker-b"))
        XCTAssertFalse(try store.workerHasCredentials(workerID: "worker-c"))

        // Revoking everything does not bring the worker back to the shared-token flow.
        try store.revokeWorkerCredentials(workerID: "worker-b")
        XCTAssertTrue(try store.workerHasCredentials(workerID: "worker-b"), "revoked credentials still count")
    }

    func testCountWorkerCredentialsCountsUsableOnesOverAllWorkers() throws {
        let store = try migratedStore()
        XCTAssertEqual(try store.countWorkerCredentials(), 0)
        let now = try store.now()
        let hour: Int64 = 3_600_000
        // (id, worker, expires_at, revoked_at)
        let rows: [(String, String, Int64?, Int64?)] = [
            ("wc-1", "worker-a", nil, nil),                 // counts
            ("wc-2", "worker-a", now + hour, nil),          // expires later: counts
            ("wc-3", "worker-b", nil, nil),                 // another worker: counts
            ("wc-4", "worker-b", now - 1_000, nil),         // expired
            ("wc-5", "worker-c", nil, now - hour),          // revoked
            ("wc-6", "worker-c", now + hour, now - hour),   // revoked beats a future expiry
        ]
        for (index, (id, worker, expires, revoked)) in rows.enumerated() {
            try store.insertWorkerCredential(WorkerCredentialRecord(
                id: id, workerID: worker, secretSHA256: keyHash(index + 1), scopes: ["worker:heartbeat"],
                expiresAt: expires, revokedAt: revoked))
        }
        XCTAssertEqual(try store.countWorkerCredentials(), 3)
        XCTAssertTrue(try store.revokeWorkerCredential(id: "wc-3", workerID: "worker-b"))
        XCTAssertEqual(try store.countWorkerCredentials(), 2)
        _ = try store.setWorkerCredentialExpiry(id: "wc-1", workerID: "worker-a", expiresAt: now - 1)
        XCTAssertEqual(try store.countWorkerCredentials(), 1, "expired by database time")
        _ = try store.setWorkerCredentialExpiry(id: "wc-4", workerID: "worker-b", expiresAt: nil)
        XCTAssertEqual(try store.countWorkerCredentials(), 2, "an expiry cleared")
    }

    func testRevokeWorkerCredential() throws {
        let store = try migratedStore()
        try store.insertWorkerCredential(WorkerCredentialRecord(id: "wc-1", workerID: "worker-a", secretSHA256: keyHash(1), scopes: []))
        try store.insertWorkerCredential(WorkerCredentialRecord(id: "wc-2", workerID: "worker-a", secretSHA256: keyHash(2), scopes: []))
        XCTAssertFalse(try store.revokeWorkerCredential(id: "wc-1", workerID: "worker-b"), "another worker's credential")
        XCTAssertNil(try store.getWorkerCredential(id: "wc-1")?.revokedAt, "and it stays unrevoked")
        XCTAssertFalse(try store.revokeWorkerCredential(id: "wc-missing", workerID: "worker-a"))

        let before = try store.now()
        XCTAssertTrue(try store.revokeWorkerCredential(id: "wc-1", workerID: "worker-a"))
        let after = try store.now()
        let revokedAt = try XCTUnwrap(try store.getWorkerCredential(id: "wc-1")?.revokedAt)
        assertBetween(revokedAt, before, after, "database now")
        XCTAssertNil(try store.getWorkerCredential(id: "wc-2")?.revokedAt, "other credentials untouched")

        usleep(5_000)
        XCTAssertFalse(try store.revokeWorkerCredential(id: "wc-1", workerID: "worker-a"), "already revoked")
        XCTAssertEqual(try store.getWorkerCredential(id: "wc-1")?.revokedAt, revokedAt, "first revocation kept")
    }

    func testRevokeAllWorkerCredentials() throws {
        let store = try migratedStore()
        for (index, worker) in ["worker-a", "worker-a", "worker-a", "worker-b"].enumerated() {
            try store.insertWorkerCredential(WorkerCredentialRecord(
                id: "wc-\(index)", workerID: worker, secretSHA256: keyHash(index + 1), scopes: []))
        }
        XCTAssertTrue(try store.revokeWorkerCredential(id: "wc-0", workerID: "worker-a"))
        let firstRevocation = try XCTUnwrap(try store.getWorkerCredential(id: "wc-0")?.revokedAt)
        usleep(5_000)
        XCTAssertEqual(try store.revokeWorkerCredentials(workerID: "worker-a"), 2, "only the unrevoked ones")
        let revoked = try store.listWorkerCredentials(workerID: "worker-a")
        XCTAssertTrue(revoked.allSatisfy { $0.revokedAt != nil })
        XCTAssertEqual(revoked.first { $0.id == "wc-0" }?.revokedAt, firstRevocation, "first revocation kept")
        XCTAssertNil(try store.getWorkerCredential(id: "wc-3")?.revokedAt, "other workers untouched")
        XCTAssertEqual(try store.revokeWorkerCredentials(workerID: "worker-a"), 0)
        XCTAssertEqual(try store.revokeWorkerCredentials(workerID: "worker-missing"), 0)
    }

    func testSetWorkerCredentialExpiry() throws {
        let store = try migratedStore()
        let stored = try store.insertWorkerCredential(WorkerCredentialRecord(
            id: "wc-1", workerID: "worker-a", secretSHA256: keyHash(1), scopes: ["worker:heartbeat"]))
        let expiring = try store.setWorkerCredentialExpiry(id: "wc-1", workerID: "worker-a", expiresAt: 1_900_000_000_000)
        var expected = stored
        expected.expiresAt = 1_900_000_000_000
        XCTAssertEqual(expiring, expected, "only expires_at changes; the stored row is returned")
        XCTAssertEqual(try store.getWorkerCredential(id: "wc-1"), expected)
        XCTAssertEqual(try store.setWorkerCredentialExpiry(id: "wc-1", workerID: "worker-a", expiresAt: nil), stored, "nil clears")
        assertStoreError(.notFound) { try store.setWorkerCredentialExpiry(id: "wc-1", workerID: "worker-b", expiresAt: 5) }
        assertStoreError(.notFound) { try store.setWorkerCredentialExpiry(id: "wc-missing", workerID: "worker-a", expiresAt: 5) }
        XCTAssertEqual(try store.getWorkerCredential(id: "wc-1"), stored, "refusals change nothing")
    }

    func testTouchWorkerCredential() throws {
        let store = try migratedStore()
        let stored = try store.insertWorkerCredential(WorkerCredentialRecord(
            id: "wc-1", workerID: "worker-a", secretSHA256: keyHash(1), scopes: [], lastUsedAt: 1_000))
        try store.insertWorkerCredential(WorkerCredentialRecord(id: "wc-2", workerID: "worker-a", secretSHA256: keyHash(2), scopes: []))
        let before = try store.now()
        try store.touchWorkerCredential(id: "wc-1")
        let after = try store.now()
        let touched = try XCTUnwrap(try store.getWorkerCredential(id: "wc-1"))
        assertBetween(touched.lastUsedAt, before, after, "database now")
        var expected = stored
        expected.lastUsedAt = touched.lastUsedAt
        XCTAssertEqual(touched, expected, "only last_used_at changes")
        XCTAssertNil(try store.getWorkerCredential(id: "wc-2")?.lastUsedAt)
        assertStoreError(.notFound) { try store.touchWorkerCredential(id: "wc-missing") }
    }

    // MARK: Leases

    func testAcquireLeaseInsertsAtGenerationOneAndIsIdempotentForItsHolder() throws {
        let store = try migratedStore()
        let before = try store.now()
        let lease = try store.acquireLease(resourceID: "sb-1", resourceType: "sandbox", holderID: "worker-a",
                                           holderEpoch: Self.epochA, expiry: .fromNow(60_000))
        let after = try store.now()
        XCTAssertEqual(lease.resourceID, "sb-1")
        XCTAssertEqual(lease.resourceType, "sandbox")
        XCTAssertEqual(lease.holderID, "worker-a")
        XCTAssertEqual(lease.holderEpoch, Self.epochA)
        XCTAssertEqual(lease.generation, 1)
        assertBetween(lease.expiresAt, before + 60_000, after + 60_000, "database now + ttl")
        assertBetween(lease.createdAt, before, after)
        XCTAssertEqual(lease.updatedAt, lease.createdAt)
        XCTAssertEqual(try store.getLease(resourceID: "sb-1"), lease)

        // The holder again, unexpired: the row unchanged, whatever epoch or expiry it asks for.
        usleep(5_000)
        XCTAssertEqual(try store.acquireLease(resourceID: "sb-1", resourceType: "sandbox", holderID: "worker-a",
                                              holderEpoch: Self.epochB, expiry: .at(1)), lease)
        XCTAssertEqual(try store.getLease(resourceID: "sb-1"), lease)

        // Anyone else, unexpired: conflict, nothing changes.
        assertConflict {
            _ = try store.acquireLease(resourceID: "sb-1", resourceType: "sandbox", holderID: "worker-b",
                                       holderEpoch: Self.epochB, expiry: .fromNow(60_000))
        }
        XCTAssertEqual(try store.getLease(resourceID: "sb-1"), lease)

        // An absolute expiry is stored as given; a leader lease is just another resource.
        let leader = try store.acquireLease(resourceID: "leader", resourceType: "leader", holderID: "cp-a-1b2c3d",
                                            holderEpoch: "cp-epoch", expiry: .at(4_102_444_800_000))
        XCTAssertEqual(leader.expiresAt, 4_102_444_800_000)
        XCTAssertEqual(leader.generation, 1)
        XCTAssertEqual(leader.resourceType, "leader")
        XCTAssertNil(try store.getLease(resourceID: "sb-missing"))
    }

    func testAcquireTakesOverAnExpiredLeaseAtTheNextGeneration() throws {
        let store = try migratedStore()
        let now = try store.now()
        // Already expired by database time (expires_at in the past), so no waiting is needed.
        let first = try store.acquireLease(resourceID: "sb-1", resourceType: "sandbox", holderID: "worker-a",
                                           holderEpoch: Self.epochA, expiry: .at(now - 1_000))
        XCTAssertEqual(first.generation, 1)
        usleep(5_000)
        let before = try store.now()
        let second = try store.acquireLease(resourceID: "sb-1", resourceType: "sandbox", holderID: "worker-b",
                                            holderEpoch: Self.epochB, expiry: .fromNow(30_000))
        let after = try store.now()
        XCTAssertEqual(second.generation, 2)
        XCTAssertEqual(second.holderID, "worker-b")
        XCTAssertEqual(second.holderEpoch, Self.epochB)
        assertBetween(second.expiresAt, before + 30_000, after + 30_000)
        assertBetween(second.updatedAt, before, after)
        XCTAssertEqual(second.createdAt, first.createdAt, "the row's created_at is kept")
        XCTAssertEqual(try store.getLease(resourceID: "sb-1"), second)

        // Expiry is database now ≥ expires_at: a lease expiring exactly now is expired.
        _ = try store.setLeaseExpiry(resourceID: "sb-1", generation: 2, expiry: .fromNow(0))
        let third = try store.acquireLease(resourceID: "sb-1", resourceType: "sandbox", holderID: "worker-b",
                                           holderEpoch: Self.epochC, expiry: .fromNow(30_000))
        XCTAssertEqual(third.generation, 3, "its own expired lease is taken over too: a new generation")
        XCTAssertEqual(third.holderEpoch, Self.epochC)
    }

    func testTransferLease() throws {
        let store = try migratedStore()
        let lease = try store.acquireLease(resourceID: "sb-1", resourceType: "sandbox", holderID: "worker-a",
                                           holderEpoch: Self.epochA, expiry: .fromNow(60_000))
        let moved = try store.transferLease(resourceID: "sb-1", fromGeneration: 1, newHolderID: "worker-b",
                                            newHolderEpoch: Self.epochB, expiry: .at(4_102_444_800_000))
        XCTAssertEqual(moved.generation, 2, "transfer bumps the generation")
        XCTAssertEqual(moved.holderID, "worker-b")
        XCTAssertEqual(moved.holderEpoch, Self.epochB)
        XCTAssertEqual(moved.expiresAt, 4_102_444_800_000)
        XCTAssertEqual(moved.createdAt, lease.createdAt)
        XCTAssertEqual(try store.getLease(resourceID: "sb-1"), moved)

        // A stale generation is refused and changes nothing.
        assertConflict {
            _ = try store.transferLease(resourceID: "sb-1", fromGeneration: 1, newHolderID: "worker-c",
                                        newHolderEpoch: Self.epochC, expiry: .fromNow(60_000))
        }
        XCTAssertEqual(try store.getLease(resourceID: "sb-1"), moved)

        // An expired lease can be transferred too.
        let now = try store.now()
        _ = try store.setLeaseExpiry(resourceID: "sb-1", generation: 2, expiry: .at(now - 5_000))
        let before = try store.now()
        let again = try store.transferLease(resourceID: "sb-1", fromGeneration: 2, newHolderID: "worker-a",
                                            newHolderEpoch: Self.epochC, expiry: .fromNow(10_000))
        XCTAssertEqual(again.generation, 3)
        XCTAssertEqual(again.holderID, "worker-a")
        XCTAssertGreaterThanOrEqual(again.expiresAt, before + 10_000)

        assertStoreError(.notFound) {
            _ = try store.transferLease(resourceID: "sb-missing", fromGeneration: 1, newHolderID: "worker-a",
                                        newHolderEpoch: Self.epochA, expiry: .fromNow(1_000))
        }
        XCTAssertNil(try store.getLease(resourceID: "sb-missing"), "transfer never creates a lease")
    }

    func testRenewLeaseNeverBumpsTheGeneration() throws {
        let store = try migratedStore()
        _ = try store.acquireLease(resourceID: "sb-1", resourceType: "sandbox", holderID: "worker-a",
                                   holderEpoch: Self.epochA, expiry: .fromNow(60_000))
        let lease = try store.transferLease(resourceID: "sb-1", fromGeneration: 1, newHolderID: "worker-a",
                                            newHolderEpoch: Self.epochA, expiry: .fromNow(60_000))
        XCTAssertEqual(lease.generation, 2)
        let hour: Int64 = 3_600_000

        // ttl only: database now + ttl.
        var before = try store.now()
        var renewed = try store.renewLease(resourceID: "sb-1", holderID: "worker-a", generation: 2, ttlMs: hour, capAt: nil)
        var after = try store.now()
        assertBetween(renewed.expiresAt, before + hour, after + hour)
        XCTAssertEqual(renewed.generation, 2, "renew never bumps")
        XCTAssertEqual(renewed.holderID, "worker-a")
        assertBetween(renewed.updatedAt, before, after)
        XCTAssertEqual(try store.getLease(resourceID: "sb-1"), renewed)

        // Both: the earlier of now + ttl and the cap.
        renewed = try store.renewLease(resourceID: "sb-1", holderID: "worker-a", generation: 2, ttlMs: hour, capAt: before + 60_000)
        XCTAssertEqual(renewed.expiresAt, before + 60_000, "capped")
        before = try store.now()
        renewed = try store.renewLease(resourceID: "sb-1", holderID: "worker-a", generation: 2, ttlMs: 30_000, capAt: before + hour)
        after = try store.now()
        assertBetween(renewed.expiresAt, before + 30_000, after + 30_000, "ttl is earlier than the cap")
        // Cap only: the cap itself, even later than now + any ttl.
        renewed = try store.renewLease(resourceID: "sb-1", holderID: "worker-a", generation: nil, ttlMs: nil, capAt: 4_102_444_800_000)
        XCTAssertEqual(renewed.expiresAt, 4_102_444_800_000)
        // Neither: the expiry is kept, the lease confirmed.
        renewed = try store.renewLease(resourceID: "sb-1", holderID: "worker-a", generation: 2, ttlMs: nil, capAt: nil)
        XCTAssertEqual(renewed.expiresAt, 4_102_444_800_000)
        // Any holder (the admin repair route).
        renewed = try store.renewLease(resourceID: "sb-1", holderID: nil, generation: nil, ttlMs: hour, capAt: nil)
        XCTAssertEqual(renewed.generation, 2)
        XCTAssertEqual(renewed.holderID, "worker-a")
        let current = try XCTUnwrap(try store.getLease(resourceID: "sb-1"))
        XCTAssertEqual(current, renewed)

        // Refusals: other holder, generation mismatch; nothing changes.
        assertConflict { _ = try store.renewLease(resourceID: "sb-1", holderID: "worker-b", generation: 2, ttlMs: hour, capAt: nil) }
        assertConflict { _ = try store.renewLease(resourceID: "sb-1", holderID: "worker-a", generation: 1, ttlMs: hour, capAt: nil) }
        assertConflict { _ = try store.renewLease(resourceID: "sb-1", holderID: nil, generation: 3, ttlMs: hour, capAt: nil) }
        XCTAssertEqual(try store.getLease(resourceID: "sb-1"), current)
        assertStoreError(.notFound) { _ = try store.renewLease(resourceID: "sb-missing", holderID: "worker-a", generation: nil, ttlMs: hour, capAt: nil) }
        XCTAssertNil(try store.getLease(resourceID: "sb-missing"))

        // Expired (database now ≥ expires_at): refused even for the right holder and generation.
        let expired = try store.setLeaseExpiry(resourceID: "sb-1", generation: 2, expiry: .at(try store.now() - 1))
        assertConflict { _ = try store.renewLease(resourceID: "sb-1", holderID: "worker-a", generation: 2, ttlMs: hour, capAt: nil) }
        assertConflict { _ = try store.renewLease(resourceID: "sb-1", holderID: nil, generation: nil, ttlMs: hour, capAt: nil) }
        XCTAssertEqual(try store.getLease(resourceID: "sb-1"), expired)
    }

    func testSetLeaseExpiryWhateverTheHolder() throws {
        let store = try migratedStore()
        let lease = try store.acquireLease(resourceID: "sb-1", resourceType: "sandbox", holderID: "worker-a",
                                           holderEpoch: Self.epochA, expiry: .fromNow(60_000))
        let moved = try store.setLeaseExpiry(resourceID: "sb-1", generation: 1, expiry: .at(4_102_444_800_000))
        XCTAssertEqual(moved.expiresAt, 4_102_444_800_000)
        XCTAssertEqual(moved.generation, 1, "no bump")
        XCTAssertEqual(moved.holderID, lease.holderID)
        XCTAssertEqual(moved.holderEpoch, lease.holderEpoch)
        XCTAssertEqual(try store.getLease(resourceID: "sb-1"), moved)

        // Expired or not, earlier or later.
        let past = try store.setLeaseExpiry(resourceID: "sb-1", generation: 1, expiry: .at(1_000))
        XCTAssertEqual(past.expiresAt, 1_000)
        let before = try store.now()
        let revived = try store.setLeaseExpiry(resourceID: "sb-1", generation: 1, expiry: .fromNow(5_000))
        assertBetween(revived.expiresAt, before + 5_000, try store.now() + 5_000)
        let confirmed = try store.renewLease(resourceID: "sb-1", holderID: "worker-a", generation: 1, ttlMs: nil, capAt: nil)
        XCTAssertEqual(confirmed.generation, 1, "an extended lease is unexpired again")
        XCTAssertEqual(confirmed.expiresAt, revived.expiresAt)

        assertConflict { _ = try store.setLeaseExpiry(resourceID: "sb-1", generation: 2, expiry: .at(1)) }
        XCTAssertEqual(try store.getLease(resourceID: "sb-1"), confirmed, "a refusal changes nothing")
        assertStoreError(.notFound) { _ = try store.setLeaseExpiry(resourceID: "sb-missing", generation: 1, expiry: .at(1)) }
    }

    func testReleaseLeaseWithAStaleGenerationIsAConflict() throws {
        let store = try migratedStore()
        _ = try store.acquireLease(resourceID: "sb-1", resourceType: "sandbox", holderID: "worker-a",
                                   holderEpoch: Self.epochA, expiry: .fromNow(60_000))
        let moved = try store.transferLease(resourceID: "sb-1", fromGeneration: 1, newHolderID: "worker-b",
                                            newHolderEpoch: Self.epochB, expiry: .fromNow(60_000))
        // The old holder with its old token: conflict.
        assertConflict { try store.releaseLease(resourceID: "sb-1", holderID: "worker-a", generation: 1) }
        // The new holder with a stale generation, or the old holder with the new one: conflict.
        assertConflict { try store.releaseLease(resourceID: "sb-1", holderID: "worker-b", generation: 1) }
        assertConflict { try store.releaseLease(resourceID: "sb-1", holderID: "worker-a", generation: 2) }
        XCTAssertEqual(try store.getLease(resourceID: "sb-1"), moved, "refusals change nothing")

        try store.releaseLease(resourceID: "sb-1", holderID: "worker-b", generation: 2)
        XCTAssertNil(try store.getLease(resourceID: "sb-1"))
        assertStoreError(.notFound) { try store.releaseLease(resourceID: "sb-1", holderID: "worker-b", generation: 2) }

        // An expired lease can still be released by its holder.
        let now = try store.now()
        _ = try store.acquireLease(resourceID: "sb-2", resourceType: "sandbox", holderID: "worker-a",
                                   holderEpoch: Self.epochA, expiry: .at(now - 1_000))
        try store.releaseLease(resourceID: "sb-2", holderID: "worker-a", generation: 1)
        XCTAssertNil(try store.getLease(resourceID: "sb-2"))

        // After a release the next acquire starts over at generation 1 (the row is gone).
        XCTAssertEqual(try store.acquireLease(resourceID: "sb-1", resourceType: "sandbox", holderID: "worker-c",
                                              holderEpoch: Self.epochC, expiry: .fromNow(1_000)).generation, 1)
    }

    func testDeleteLease() throws {
        let store = try migratedStore()
        _ = try store.acquireLease(resourceID: "sb-1", resourceType: "sandbox", holderID: "worker-a",
                                   holderEpoch: Self.epochA, expiry: .fromNow(60_000))
        _ = try store.acquireLease(resourceID: "sb-2", resourceType: "sandbox", holderID: "worker-a",
                                   holderEpoch: Self.epochA, expiry: .fromNow(60_000))
        XCTAssertTrue(try store.deleteLease(resourceID: "sb-1"), "whatever the holder")
        XCTAssertFalse(try store.deleteLease(resourceID: "sb-1"))
        XCTAssertFalse(try store.deleteLease(resourceID: "sb-missing"))
        XCTAssertNil(try store.getLease(resourceID: "sb-1"))
        XCTAssertNotNil(try store.getLease(resourceID: "sb-2"))
    }

    func testListLeasesAndActiveLeases() throws {
        let store = try migratedStore()
        XCTAssertEqual(try store.listLeases(holderID: nil, resourceType: nil, limit: 10, afterResourceID: nil), [])
        XCTAssertEqual(try store.activeLeases(holderID: "worker-a"), [])
        let now = try store.now()
        // (resource, type, holder, expired)
        let rows: [(String, String, String, Bool)] = [
            ("sb-b", "sandbox", "worker-a", false), ("sb-a", "sandbox", "worker-a", true), ("sb-c", "sandbox", "worker-b", false),
            ("leader", "leader", "cp-1", false), ("sb-B", "sandbox", "worker-a", false), ("sb-d", "sandbox", "worker-a", false),
        ]
        for (resource, type, holder, expired) in rows.shuffled() {
            _ = try store.acquireLease(resourceID: resource, resourceType: type, holderID: holder, holderEpoch: Self.epochA,
                                       expiry: expired ? .at(now - 1_000) : .fromNow(60_000))
        }
        func ids(_ holder: String?, _ type: String?, _ limit: Int, _ after: String?) throws -> [String] {
            try store.listLeases(holderID: holder, resourceType: type, limit: limit, afterResourceID: after).map(\.resourceID)
        }
        XCTAssertEqual(try ids(nil, nil, 100, nil), ["leader", "sb-B", "sb-a", "sb-b", "sb-c", "sb-d"], "byte order, expired included")
        XCTAssertEqual(try ids("worker-a", nil, 100, nil), ["sb-B", "sb-a", "sb-b", "sb-d"])
        XCTAssertEqual(try ids(nil, "leader", 100, nil), ["leader"])
        XCTAssertEqual(try ids("worker-a", "sandbox", 2, "sb-B"), ["sb-a", "sb-b"])
        XCTAssertEqual(try ids("worker-a", "leader", 100, nil), [])
        XCTAssertEqual(try ids(nil, nil, 3, "sb-a0"), ["sb-b", "sb-c", "sb-d"], "the cursor need not exist")
        XCTAssertEqual(try ids(nil, nil, 0, nil), [])
        XCTAssertEqual(try ids(nil, nil, -1, nil), [])
        XCTAssertEqual(try store.listLeases(holderID: "worker-b", resourceType: nil, limit: 10, afterResourceID: nil),
                       [try XCTUnwrap(try store.getLease(resourceID: "sb-c"))], "whole rows")

        var seen: [String] = []
        var after: String? = nil
        while true {
            let page = try ids(nil, nil, 4, after)
            seen += page
            guard page.count == 4, let last = page.last else { break }
            after = last
        }
        XCTAssertEqual(seen, ["leader", "sb-B", "sb-a", "sb-b", "sb-c", "sb-d"])

        let active = try store.activeLeases(holderID: "worker-a")
        XCTAssertEqual(active.map(\.resourceID), ["sb-B", "sb-b", "sb-d"], "unexpired ones only, by resource ID")
        XCTAssertEqual(active.first, try store.getLease(resourceID: "sb-B"))
        XCTAssertEqual(try store.activeLeases(holderID: "worker-b").map(\.resourceID), ["sb-c"])
        XCTAssertEqual(try store.activeLeases(holderID: "worker-missing"), [])
    }

    /// workers.md §6.2's store contract test: 16 store instances on one database (16 processes, as
    /// far as the database can tell) race to acquire one resource, and exactly one wins; after the
    /// lease expires, each further race again has exactly one winner, at a strictly higher
    /// generation. Every loser gets `.conflict`, never `.busy` or another error.
    func testSixteenWayAcquireRaceHasExactlyOneWinnerPerExpiry() throws {
        let store = try migratedStore()
        var stores: [any Store] = [store]
        defer { for other in stores.dropFirst() { other.close() } }
        for _ in 1..<16 { stores.append(try openAnotherStore()) }
        let racers = stores

        // Short enough to wait out, long enough that a race on a loaded 2-core machine (16 writers
        // taking turns through SQLite's busy handler) ends well before the lease expires.
        let expiryMs: Int64 = 1_000
        var previousGeneration: Int64 = 0
        for round in 0..<3 {
            let winners = Collector<LeaseRecord>()
            let conflicts = Collector<Int>()
            let failures = Collector<String>()
            XCTAssertTrue(runOnThreads(16) { index in
                do throws(StoreError) {
                    winners.append(try racers[index].acquireLease(
                        resourceID: "sb-race", resourceType: "sandbox", holderID: "worker-\(index)",
                        holderEpoch: String(repeating: String(index, radix: 16), count: 32), expiry: .fromNow(expiryMs)))
                } catch .conflict {
                    conflicts.append(index)
                } catch {
                    failures.append("thread \(index): \(error)")
                }
            })
            let raceEnd = try store.now()
            XCTAssertEqual(failures.all, [], "round \(round)")
            if let expiresAt = winners.all.first?.expiresAt, raceEnd >= expiresAt {
                XCTFail("round \(round): the race outlasted the \(expiryMs) ms lease, so it proves nothing")
            }
            XCTAssertEqual(winners.all.count, 1, "round \(round): exactly one winner")
            XCTAssertEqual(conflicts.all.count, 15, "round \(round): every other racer refused")
            let winner = try XCTUnwrap(winners.all.first)
            XCTAssertGreaterThan(winner.generation, previousGeneration, "round \(round): a strictly higher generation")
            XCTAssertEqual(winner.generation, Int64(round + 1), "one bump per takeover")
            XCTAssertEqual(try store.getLease(resourceID: "sb-race"), winner, "round \(round): the stored lease is the winner's")
            XCTAssertFalse(conflicts.all.contains(Int(winner.holderID.dropFirst("worker-".count)) ?? -1))
            previousGeneration = winner.generation

            // Wait until the lease has expired by database time.
            let deadline = Date().addingTimeInterval(10)
            while try store.now() < winner.expiresAt, Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            XCTAssertGreaterThanOrEqual(try store.now(), winner.expiresAt)
            XCTAssertEqual(try store.activeLeases(holderID: winner.holderID), [], "expired leases are not active")
        }
    }
}
