import Synchronization

/// The spawn queue of runtime.md §10: with `defaults.spawn_overflow: queue`, a spawn refused only
/// for capacity waits here until a destroy or a quota change frees room, its wait times out, or
/// the spawn deadline passes. Bounded by `defaults.max_spawn_queue` waiters.
public final class SpawnQueue: Sendable {
    /// `true` = woken, `false` = timed out; `nil` is only used for "queue full".
    private struct Waiter: Sendable {
        let continuation: CheckedContinuation<Bool?, Never>
    }

    private let waiters = Mutex<[Int: Waiter]>([:])
    private let nextID = Atomic<Int>(0)
    public let capacity: Int
    public let enqueued = Atomic<Int>(0)
    public let timedOut = Atomic<Int>(0)

    public init(capacity: Int) { self.capacity = capacity }

    public var depth: Int { waiters.withLock { $0.count } }

    public enum Outcome: Sendable { case woken, timedOut, full }

    /// Waits for a wake-up or `timeoutNanos`; `.full` at once when the queue is at capacity.
    public func wait(timeoutNanos: UInt64) async -> Outcome {
        let id = nextID.add(1, ordering: .relaxed).newValue
        let woken: Bool? = await withCheckedContinuation { (continuation: CheckedContinuation<Bool?, Never>) in
            let admitted = waiters.withLock { table -> Bool in
                guard table.count < capacity else { return false }
                table[id] = Waiter(continuation: continuation)
                return true
            }
            if !admitted { continuation.resume(returning: nil); return }
            enqueued.add(1, ordering: .relaxed)
            Task {
                try? await Task.sleep(nanoseconds: timeoutNanos)
                if let waiter = waiters.withLock({ $0.removeValue(forKey: id) }) {
                    waiter.continuation.resume(returning: false)
                }
            }
        }
        switch woken {
        case nil: return .full
        case true?: return .woken
        case false?:
            timedOut.add(1, ordering: .relaxed)
            return .timedOut
        }
    }

    /// Capacity may have freed: every waiter re-checks admission (the first ones to get there win).
    public func wakeAll() {
        let all = waiters.withLock { table -> [Waiter] in
            defer { table.removeAll() }
            return Array(table.values)
        }
        for waiter in all { waiter.continuation.resume(returning: true) }
    }
}
