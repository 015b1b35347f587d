import StacyStore
import Synchronization

/// Live fan-out of stored events to SSE subscribers (api.md §12). Events reach it only after
/// the batched writer stored them, so every event a subscriber sees has its final ID, and a
/// reconnect with `Last-Event-ID` replays exactly what it missed.
public final class EventHub: Sendable {
    public enum Message: Sendable, Equatable {
        case event(EventRecord)
        /// The subscriber fell more than its buffer behind and is cut off; its client reconnects
        /// and replays, so nothing is dropped silently.
        case overflow
    }

    private struct Subscriber: Sendable {
        let accepts: @Sendable (EventRecord) -> Bool
        let continuation: AsyncStream<Message>.Continuation
    }

    private let subscribers = Mutex<[Int: Subscriber]>([:])
    private let nextID = Atomic<Int>(0)
    private let buffer: Int
    public let eventsTotal = Atomic<Int>(0)

    public init(subscriberBuffer: Int) { buffer = max(1, subscriberBuffer) }

    public var subscriberCount: Int { subscribers.withLock { $0.count } }

    /// A live feed of the events `accepts` lets through; ends when the consumer stops.
    public func subscribe(accepts: @escaping @Sendable (EventRecord) -> Bool) -> AsyncStream<Message> {
        let id = nextID.add(1, ordering: .relaxed).newValue
        // Two spare slots: one to notice "more than `buffer` behind", one for the overflow marker.
        let (stream, continuation) = AsyncStream<Message>.makeStream(bufferingPolicy: .bufferingOldest(buffer + 2))
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
        }
        subscribers.withLock { $0[id] = Subscriber(accepts: accepts, continuation: continuation) }
        return stream
    }

    /// Delivers stored events, in sequence order (the batched writer calls this from one task).
    ///
    /// Yielding happens outside the lock: a yield resumes the consumer's task and takes its status
    /// lock, while cancelling that task (a server shutdown ending its stream) holds the status lock
    /// and runs `onTermination`, which takes this lock. Yielding under the lock deadlocked exactly
    /// so (a hung test's stacks: `deliver` → `yield` vs `finishForShutdown` → `cancel`).
    public func deliver(_ events: [EventRecord]) {
        guard !events.isEmpty else { return }
        eventsTotal.add(events.count, ordering: .relaxed)
        let current = subscribers.withLock { Array($0) }
        var overflowed: [(id: Int, continuation: AsyncStream<Message>.Continuation)] = []
        for (id, subscriber) in current {
            for event in events where subscriber.accepts(event) {
                if case .enqueued(let free) = subscriber.continuation.yield(.event(event)), free > 1 { continue }
                subscriber.continuation.yield(.overflow)
                overflowed.append((id, subscriber.continuation))
                break
            }
        }
        guard !overflowed.isEmpty else { return }
        subscribers.withLock { table in for (id, _) in overflowed { table.removeValue(forKey: id) } }
        // Finishing runs onTermination, which takes the lock: outside it too.
        for (_, continuation) in overflowed { continuation.finish() }
    }
}
