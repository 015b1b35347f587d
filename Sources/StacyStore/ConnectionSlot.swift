#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// Holds one connection behind a mutex: the mutex is what makes a NOMUTEX sqlite3 handle safe to
/// share, and `nil` marks a closed store.
final class ConnectionSlot: Sendable {
    let connection: Mutex<SQLiteConnection?>

    init(_ connection: consuming sending SQLiteConnection) {
        self.connection = Mutex(connection)
    }

    /// Closes the connection (its deinit frees the handle) after any in-flight user finishes.
    func close() {
        connection.withLock { $0 = nil }
    }
}

/// Borrows the first free connection among `slots` (trying from `start`), polling with a short
/// backoff until `timeout`. Polling instead of blocking on the mutex keeps the rule that every
/// wait has a timeout: a stuck holder turns into `.busy` for the waiter, not a hung thread.
func withAnyConnection<T: Sendable>(
    _ slots: [ConnectionSlot], start: Int, timeout: Duration,
    _ body: (SQLiteConnection) throws(StoreError) -> T
) throws(StoreError) -> T {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: timeout)
    var pauseMicros: UInt32 = 20
    while true {
        for offset in 0..<slots.count {
            let slot = slots[(start + offset) % slots.count]
            let outcome = try slot.connection.withLockIfAvailable { (connection: inout sending SQLiteConnection?) throws(StoreError) -> T in
                guard let connection else { throw .internal("store is closed") }
                return try body(connection)
            }
            // Double optional on purpose: .some(value) means "got the lock", even when T is Optional.
            if let result = outcome { return result }
        }
        if clock.now >= deadline { throw .busy }
        usleep(pauseMicros)
        pauseMicros = min(pauseMicros * 2, 1000)
    }
}
