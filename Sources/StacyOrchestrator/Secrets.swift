import Foundation
import StacyHTTP
import Synchronization

/// Credentials handed out once and stored only as SHA-256: `<prefix><16 hex id>_<43 base64url
/// characters>` (32 random bytes). The ID finds the row; the hash proves the secret.
public enum IssuedSecret {
    public static func make(prefix: String) -> (id: String, secret: String) {
        var generator = SystemRandomNumberGenerator()
        let id = String((0..<16).map { _ in "0123456789abcdef".randomElement(using: &generator)! })
        let bytes = (0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let encoded = Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return (id, "\(prefix)\(id)_\(encoded)")
    }
}

/// `last_used_at` writes at most once a minute per credential: a write per request would sit on
/// the hot path of every authenticated call.
final class UsageTouch: Sendable {
    private let touched = Mutex<[String: UInt64]>([:])

    /// Runs `write` when this ID was not touched in the last minute.
    func touch(_ id: String, _ write: () -> Void) {
        let now = monotonicNanos()
        let due = touched.withLock { table -> Bool in
            if let last = table[id], now - last < 60_000_000_000 { return false }
            if table.count > 100_000 { table = [:] }
            table[id] = now
            return true
        }
        if due { write() }
    }
}
