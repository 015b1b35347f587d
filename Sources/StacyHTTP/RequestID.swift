#if canImport(Glibc)
import Glibc
import CMicroHTTPD
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

    /// A random (version 4) UUID in its lowercase text form.
    public static func newUUID() -> String {
        var bytes = (UInt64(0), UInt64(0))
        withUnsafeMutableBytes(of: &bytes) { raw in
            // One getrandom(2) call; it cannot fail for 16 bytes once the pool is initialised.
            if getrandom(raw.baseAddress, 16, 0) != 16 {
                var generator = SystemRandomNumberGenerator()
                raw.storeBytes(of: generator.next(), toByteOffset: 0, as: UInt64.self)
                raw.storeBytes(of: generator.next(), toByteOffset: 8, as: UInt64.self)
            }
        }
        return withUnsafeBytes(of: &bytes) { raw -> String in
            var b = Array(raw)
            b[6] = (b[6] & 0x0F) | 0x40
            b[8] = (b[8] & 0x3F) | 0x80
            let hex: [UInt8] = Array("0123456789abcdef".utf8)
            var out: [UInt8] = []
            out.reserveCapacity(36)
            for (i, byte) in b.enumerated() {
                if i == 4 || i == 6 || i == 8 || i == 10 { out.append(UInt8(ascii: "-")) }
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
}
