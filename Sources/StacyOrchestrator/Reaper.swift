import StacyConfig
import StacyHTTP
import StacyStore
import Synchronization

/// The TTL reaper and housekeeping (runtime.md §3, §11; the leader's duty: on SQLite the one
/// control plane). Each pass expires and destroys sandboxes past `expires_at`, retrying a failed
/// destroy with per-sandbox exponential backoff (never a tight loop), purges destroyed rows past
/// `defaults.destroyed_retention`, and prunes events and exec logs by their retention.
public final class Reaper: Sendable {
    public struct Settings: Sendable {
        public var interval = GoDuration(nanoseconds: 15 * GoDuration.second)
        public var destroyedRetention = GoDuration(nanoseconds: 24 * GoDuration.hour)
        public var eventRetention = GoDuration(nanoseconds: 24 * GoDuration.hour)
        public var eventMaxRows = 100_000
        public var execLogRetention = GoDuration(nanoseconds: 168 * GoDuration.hour)
        public init() {}
    }

    private let manager: SandboxManager
    private let settings: Settings
    private let failures = Mutex<[String: Int]>([:])
    private let loop = Mutex<Task<Void, Never>?>(nil)
    /// Retry delay after the nth failure: 1 s, 2 s, 4 s … capped at 5 minutes.
    public static func backoffMillis(failures: Int) -> Int64 { min(300_000, 1000 << min(failures - 1, 20)) }

    public init(manager: SandboxManager, settings: Settings) {
        self.manager = manager
        self.settings = settings
    }

    public func start() {
        loop.withLock { task in
            guard task == nil else { return }
            let interval = UInt64(max(settings.interval.nanoseconds, 1_000_000))
            task = Task.detached { [self] in
                // Sleep first: a pass right at startup would race requests that are just arriving
                // and buys nothing over the next tick.
                while !Task.isCancelled {
                    try? await Task.sleep(nanoseconds: interval)
                    if Task.isCancelled { break }
                    await pass()
                }
            }
        }
    }

    public func stop() {
        loop.withLock { $0?.cancel(); $0 = nil }
    }

    /// One pass; returns how many sandboxes it destroyed.
    @discardableResult
    public func pass() async -> Int {
        let store = manager.store
        var destroyed = 0
        let expired = (try? store.listExpiredSandboxes(limit: 500)) ?? []
        for record in expired {
            if record.state != "expired" {
                _ = try? store.updateSandboxState(id: record.id, state: "expired", reason: "ttl")
                manager.publish("sandbox.expired", record)
            }
            if await manager.destroyExpired(record) {
                failures.withLock { _ = $0.removeValue(forKey: record.id) }
                destroyed += 1
            } else {
                let count = failures.withLock { table -> Int in
                    table[record.id, default: 0] += 1
                    return table[record.id]!
                }
                _ = try? store.scheduleSandboxRetry(id: record.id, afterMs: Reaper.backoffMillis(failures: count))
            }
        }
        _ = try? store.purgeDestroyedSandboxes(olderThanMs: settings.destroyedRetention.nanoseconds / 1_000_000)
        _ = try? store.pruneEvents(olderThanMs: settings.eventRetention.nanoseconds / 1_000_000, maxRows: settings.eventMaxRows)
        _ = try? store.pruneExecLogs(olderThanMs: settings.execLogRetention.nanoseconds / 1_000_000)
        _ = try? store.pruneIdempotencyKeys(olderThanMs: IdempotencyReservation.windowMs)
        return destroyed
    }
}
