import StacyStore
import XCTest

/// Sandboxes by worker (workers.md §4.1, §8, §10): liveness marks, drain clamps and restores,
/// and the destroy-pending / revocation bookkeeping.
extension StoreContractTests {
    private func onWorker(_ id: String, _ worker: String, state: String = "running", expiresAt: Int64) -> SandboxRecord {
        SandboxRecord(id: id, state: state, provider: "mock", image: "alpine", memoryMB: 128, vcpus: 1, workerID: worker,
                      expiresAt: expiresAt, originalExpiresAt: expiresAt)
    }

    func testSandboxesOnWorkerAndLivenessMarks() throws {
        let store = try migratedStore()
        let now = try store.now()
        try store.insertSandbox(onWorker("sb-a1", "worker-a", expiresAt: now + 60_000))
        try store.insertSandbox(onWorker("sb-a2", "worker-a", state: "destroyed", expiresAt: now + 60_000))
        try store.insertSandbox(onWorker("sb-b1", "worker-b", expiresAt: now + 60_000))
        XCTAssertEqual(try store.sandboxesOnWorker("worker-a", states: nil).map(\.id), ["sb-a1"])
        XCTAssertEqual(try store.sandboxesOnWorker("worker-a", states: ["destroyed"]).map(\.id), ["sb-a2"])
        XCTAssertEqual(try store.sandboxesOnWorker("worker-a", states: []).map(\.id), [])
        let marked = try store.markWorkerSandboxes("worker-a", fromStates: ["running"], state: "unhealthy", reason: "worker_lost")
        XCTAssertEqual(marked.map(\.id), ["sb-a1"])
        XCTAssertEqual(try store.getSandbox("sb-a1")?.stateReason, "worker_lost")
        XCTAssertEqual(try store.getSandbox("sb-b1")?.state, "running", "another worker's sandbox was touched")
    }

    func testDrainClampAndUndrainRestore() throws {
        let store = try migratedStore()
        let now = try store.now()
        try store.insertSandbox(onWorker("sb-long", "worker-a", expiresAt: now + 3_600_000))
        try store.insertSandbox(onWorker("sb-short", "worker-a", expiresAt: now + 10_000))
        let clamped = try store.clampWorkerSandboxExpiry("worker-a", deadline: now + 60_000)
        XCTAssertEqual(Set(clamped.map(\.id)), ["sb-long", "sb-short"])
        XCTAssertEqual(try store.getSandbox("sb-long")?.expiresAt, now + 60_000)
        XCTAssertEqual(try store.getSandbox("sb-short")?.expiresAt, now + 10_000, "never later than it was")
        XCTAssertEqual(try store.getSandbox("sb-long")?.originalExpiresAt, now + 3_600_000)
        let restored = try store.restoreWorkerSandboxExpiry("worker-a")
        XCTAssertEqual(restored.map(\.id), ["sb-long"])
        XCTAssertEqual(try store.getSandbox("sb-long")?.expiresAt, now + 3_600_000)
    }

    func testDestroyPendingIsRevokedUntilCleared() throws {
        let store = try migratedStore()
        let now = try store.now()
        try store.insertSandbox(onWorker("sb-gone", "worker-a", expiresAt: now + 60_000))
        try store.insertSandbox(onWorker("sb-nolease", "worker-a", expiresAt: now + 60_000))
        _ = try store.acquireLease(resourceID: "sb-gone", resourceType: "sandbox", holderID: "worker-a", holderEpoch: "e",
                                   expiry: .fromNow(60_000))
        try store.markSandboxDestroyPending(id: "sb-gone")
        try store.markSandboxDestroyPending(id: "sb-nolease")
        let row = try XCTUnwrap(store.getSandbox("sb-gone"))
        XCTAssertEqual(row.state, "destroyed")
        XCTAssertEqual(row.stateReason, "destroy_pending")
        XCTAssertTrue(row.reapPending)
        XCTAssertEqual(try store.workerUsage().first { $0.workerID == "worker-a" }?.sandboxes, 2, "pending reaps still count")
        let revoked = try store.revocations(workerID: "worker-a")
        XCTAssertEqual(revoked.map(\.sandboxID), ["sb-gone"], "only sandboxes with a lease are revoked")
        XCTAssertEqual(revoked.first?.generation, 1)
        try store.clearReapPending(id: "sb-gone")
        XCTAssertEqual(try store.revocations(workerID: "worker-a").count, 0)
        XCTAssertFalse(try XCTUnwrap(store.getSandbox("sb-gone")).reapPending)
        assertStoreError(.notFound) { try store.markSandboxDestroyPending(id: "sb-none") }
        assertStoreError(.notFound) { try store.clearReapPending(id: "sb-none") }
    }
}
