#if canImport(Glibc)
import Glibc
#endif
import StacyHTTP
import Synchronization

/// Success, failure and latency per (operation, provider) (api.md §7 `operations`, §13).
public final class OperationMetrics: Sendable {
    public struct Entry: Sendable, Equatable {
        public var operation: String
        public var provider: String
        public var success = 0
        public var failure = 0
        public var latencyCount = 0
        public var latencySumMs = 0.0
        public var latencyMinMs = 0.0
        public var latencyMaxMs = 0.0
        public var lastError: String?
        public var lastAtMillis: Int64?
    }

    private let table = Mutex<[String: Entry]>([:])

    public init() {}

    public func record(_ operation: String, provider: String, startedNanos: UInt64, error: String? = nil) {
        let elapsedMs = Double(monotonicNanos() - startedNanos) / 1e6
        let now = Int64(wallClockMillis())
        table.withLock { table in
            let key = operation + "\u{0}" + provider
            var entry = table[key] ?? Entry(operation: operation, provider: provider)
            if error == nil { entry.success += 1 } else {
                entry.failure += 1
                entry.lastError = error
            }
            entry.latencyMinMs = entry.latencyCount == 0 ? elapsedMs : min(entry.latencyMinMs, elapsedMs)
            entry.latencyMaxMs = max(entry.latencyMaxMs, elapsedMs)
            entry.latencyCount += 1
            entry.latencySumMs += elapsedMs
            entry.lastAtMillis = now
            table[key] = entry
        }
    }

    /// Sorted by operation, then provider.
    public func snapshot() -> [Entry] {
        table.withLock { Array($0.values) }.sorted { ($0.operation, $0.provider) < ($1.operation, $1.provider) }
    }
}

/// Unix time in milliseconds.
public func wallClockMillis() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
}
