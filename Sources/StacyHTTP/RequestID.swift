#if canImport(Glibc)
import Glibc
import Synchronization
#endif

/// `X-Request-ID` handling (api.md §1): an incoming value is kept when it is at most 128
/// characters of `[A-Za-z0-9._:-]`, otherwise a new UUIDv4 replaces it.
public enum RequestID {
    public static func accept(_ incoming: String?) -> String {
        if let incoming, isValid(incoming) { return incoming }
        return newUUID()
    }

    public static func isValid(_ value: String) -> Bool {
        guard !value.isEmpty, value.utf8.count <= 128 else { return false }
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"),
                 UInt8(ascii: ":"), UInt8(ascii: "-"):
                continue
            default:
                return false
            }
        }
        return true
    }

    /// A version 4 UUID in its lowercase text form. Request IDs must be unique, not secret, so
    /// they come from a per-process random seed and a counter mixed through splitmix64 instead
    /// of a getrandom(2) system call per request.
    public static func newUUID() -> String {
        let n = counter.add(1, ordering: .relaxed).newValue
        var bytes = (mix(seed &+ n &* 0x9E37_79B9_7F4A_7C15), mix(seed ^ (n &* 0xD6E8_FEB8_6659_FD93)))
        return withUnsafeBytes(of: &bytes) { raw -> String in
            String(unsafeUninitializedCapacity: 36) { out in
                var position = 0
                for i in 0..<16 {
                    var byte = raw[i]
                    if i == 6 { byte = (byte & 0x0F) | 0x40 }  // version 4
                    if i == 8 { byte = (byte & 0x3F) | 0x80 }  // RFC 4122 variant
                    if i == 4 || i == 6 || i == 8 || i == 10 {
                        out[position] = UInt8(ascii: "-")
                        position += 1
                    }
                    out[position] = hexDigit(byte >> 4)
                    out[position + 1] = hexDigit(byte & 0x0F)
                    position += 2
                }
                return position
            }
        }
    }

    private static func hexDigit(_ nibble: UInt8) -> UInt8 {
        nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
    }

    private static let counter = Atomic<UInt64>(0)
    private static let seed: UInt64 = {
        var generator = SystemRandomNumberGenerator()
        return generator.next()
    }()

    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
