import StacyHTTP
import StacyStore
import Synchronization

/// The one asynchronous writer for events, exec logs and operation-audit rows (runtime.md §8):
/// requests hand records over and never wait for the database; records are written in batches,
/// one transaction per kind, and stored events then go to live subscribers.
public final class BatchedWriter: Sendable {
    public enum Item: Sendable {
        case event(EventRecord)
        case execLog(ExecLogRecord)
        case audit(OperationAuditRecord)
    }

    private struct State: Sendable {
        var pending: [Item] = []
        var writing = false
        var waiter: CheckedContinuation<Void, Never>?
        var flushWaiters: [CheckedContinuation<Void, Never>] = []
        var stopped = false
    }

    private let state = Mutex(State())
    private let store: any Store
    private let hub: EventHub
    private let log: Log
    /// Bounded: past this many unwritten records new ones are dropped and counted, never
    /// blocking a request (a failed audit write must not fail the request either).
    public let capacity: Int
    public let dropped = Atomic<Int>(0)
    public let failedBatches = Atomic<Int>(0)
    private let loop = Mutex<Task<Void, Never>?>(nil)

    public init(store: any Store, hub: EventHub, log: Log, capacity: Int = 50_000) {
        self.store = store
        self.hub = hub
        self.log = log
        self.capacity = capacity
    }

    public func start() {
        loop.withLock { task in
            guard task == nil else { return }
            task = Task.detached { [self] in await run() }
        }
    }

    public func submit(_ item: Item) {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard !s.stopped, s.pending.count < capacity else {
                dropped.add(1, ordering: .relaxed)
                return nil
            }
            s.pending.append(item)
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
    }

    /// Returns once everything submitted before the call is written.
    public func flush() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let wake = state.withLock { s -> (ready: Bool, waiter: CheckedContinuation<Void, Never>?) in
                if s.pending.isEmpty && !s.writing { return (true, nil) }
                s.flushWaiters.append(continuation)
                defer { s.waiter = nil }
                return (false, s.waiter)
            }
            if wake.ready { continuation.resume() }
            wake.waiter?.resume()
        }
    }

    /// Writes what is left and stops the loop (shutdown).
    public func stop() async {
        await flush()
        let task = loop.withLock { t -> Task<Void, Never>? in defer { t = nil }; return t }
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            s.stopped = true
            defer { s.waiter = nil }
            return s.waiter
        }
        waiter?.resume()
        task?.cancel()
        await task?.value
    }

    private func run() async {
        while true {
            let batch = await nextBatch()
            guard let batch else { return }
            write(batch)
            let flushed = state.withLock { s -> [CheckedContinuation<Void, Never>] in
                s.writing = false
                guard s.pending.isEmpty else { return [] }
                defer { s.flushWaiters = [] }
                return s.flushWaiters
            }
            for waiter in flushed { waiter.resume() }
        }
    }

    /// Waits for work; nil once stopped and drained.
    private func nextBatch() async -> [Item]? {
        while true {
            let taken = state.withLock { s -> [Item]? in
                guard !s.pending.isEmpty else { return nil }
                let batch = Array(s.pending.prefix(1000))
                s.pending.removeFirst(batch.count)
                s.writing = true
                return batch
            }
            if let taken { return taken }
            if state.withLock({ $0.stopped }) { return nil }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { s -> Bool in
                    if !s.pending.isEmpty || s.stopped { return true }
                    s.waiter = continuation
                    return false
                }
                if ready { continuation.resume() }
            }
        }
    }

    private func write(_ batch: [Item]) {
        var events: [EventRecord] = []
        var execLogs: [ExecLogRecord] = []
        var audits: [OperationAuditRecord] = []
        for item in batch {
            switch item {
            case .event(let event): events.append(event)
            case .execLog(let record): execLogs.append(record)
            case .audit(let record): audits.append(record)
            }
        }
        do {
            if !events.isEmpty {
                // One database timestamp per batch: live subscribers see the stored time.
                let now = try store.now()
                for index in events.indices where events[index].createdAt == 0 { events[index].createdAt = now }
                let seqs = try store.appendEvents(events)
                for (index, seq) in seqs.enumerated() { events[index].seq = seq }
                hub.deliver(events)
            }
            if !execLogs.isEmpty { try store.appendExecLogs(execLogs) }
            if !audits.isEmpty { try store.appendOperationAudits(audits) }
        } catch {
            failedBatches.add(1, ordering: .relaxed)
            log.error("batched write failed", [("records", .int(batch.count)), ("error", .string(error.detail))])
        }
    }
}
