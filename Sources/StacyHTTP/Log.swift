#if canImport(Glibc)
import Glibc
#endif

/// Structured logging to stderr: one JSON object (or one `key=value` line) per event.
///
/// One `write(2)` per line keeps lines whole when several threads log at once.
public struct Log: Sendable {
    public enum Level: Int, Sendable, Comparable {
        case debug, info, warn, error
        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }
        public init?(name: String) {
            switch name {
            case "debug": self = .debug
            case "info": self = .info
            case "warn": self = .warn
            case "error": self = .error
            default: return nil
            }
        }
        var name: String { ["debug", "info", "warn", "error"][rawValue] }
    }

    public enum Format: Sendable { case json, text }

    public let level: Level
    public let format: Format
    private let fd: Int32

    public init(level: Level = .info, format: Format = .json, fd: Int32 = 2) {
        self.level = level
        self.format = format
        self.fd = fd
    }

    public static let disabled = Log(level: .error, format: .json, fd: -1)

    public func enabled(_ at: Level) -> Bool { at >= level && fd >= 0 }

    public enum Field: Sendable {
        case string(String)
        case int(Int)
        case double(Double)
    }

    public func log(_ at: Level, _ message: String, _ fields: [(String, Field)] = []) {
        guard enabled(at) else { return }
        var line = ""
        line.reserveCapacity(160)
        let time = Log.timestamp()
        switch format {
        case .json:
            line += #"{"time":""# + time + #"","level":""# + at.name + #"","msg":"#
            appendJSONString(message, to: &line)
            for (key, value) in fields {
                line += ","
                appendJSONString(key, to: &line)
                line += ":"
                switch value {
                case .string(let s): appendJSONString(s, to: &line)
                case .int(let i): line += String(i)
                case .double(let d): line += d.isFinite ? String(d) : "null"
                }
            }
            line += "}\n"
        case .text:
            line += time + " " + at.name.uppercased() + " " + message
            for (key, value) in fields {
                line += " " + key + "="
                switch value {
                case .string(let s): line += s.contains(" ") || s.isEmpty ? "\"\(s)\"" : s
                case .int(let i): line += String(i)
                case .double(let d): line += String(d)
                }
            }
            line += "\n"
        }
        var bytes = line
        bytes.withUTF8 { buffer in _ = write(fd, buffer.baseAddress, buffer.count) }
    }

    public func debug(_ message: String, _ fields: [(String, Field)] = []) { log(.debug, message, fields) }
    public func info(_ message: String, _ fields: [(String, Field)] = []) { log(.info, message, fields) }
    public func warn(_ message: String, _ fields: [(String, Field)] = []) { log(.warn, message, fields) }
    public func error(_ message: String, _ fields: [(String, Field)] = []) { log(.error, message, fields) }

    /// Parses RFC 3339 (`2026-05-09T10:00:00.000Z`, any fraction, `Z` or `±HH:MM`) into Unix
    /// milliseconds; nil when the text is not such a timestamp.
    public static func unixMillis(fromTimestamp text: String) -> Int64? {
        let b = Array(text.utf8)
        func digits(_ from: Int, _ count: Int) -> Int64? {
            guard from + count <= b.count else { return nil }
            var value: Int64 = 0
            for i in from..<(from + count) {
                guard b[i] >= 48, b[i] <= 57 else { return nil }
                value = value * 10 + Int64(b[i] - 48)
            }
            return value
        }
        guard b.count >= 20, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"),
              b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t") || b[10] == UInt8(ascii: " "),
              b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"),
              let year = digits(0, 4), let month = digits(5, 2), let day = digits(8, 2),
              let hour = digits(11, 2), let minute = digits(14, 2), let second = digits(17, 2),
              (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61 else { return nil }
        var index = 19
        var millis: Int64 = 0
        if index < b.count, b[index] == UInt8(ascii: ".") {
            index += 1
            var scale: Int64 = 100
            let start = index
            while index < b.count, b[index] >= 48, b[index] <= 57 {
                millis += Int64(b[index] - 48) * scale
                scale /= 10
                index += 1
            }
            guard index > start else { return nil }
        }
        guard index < b.count else { return nil }
        var offsetMinutes: Int64 = 0
        switch b[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            guard index + 1 == b.count else { return nil }
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard index + 6 == b.count, b[index + 3] == UInt8(ascii: ":"),
                  let h = digits(index + 1, 2), let m = digits(index + 4, 2), h < 24, m < 60 else { return nil }
            offsetMinutes = (h * 60 + m) * (b[index] == UInt8(ascii: "+") ? 1 : -1)
        default:
            return nil
        }
        // Howard Hinnant's days_from_civil, the inverse of `timestamp`.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = month > 2 ? month - 3 : month + 9
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return ((days * 86_400 + hour * 3600 + minute * 60 + second) - offsetMinutes * 60) * 1000 + millis
    }

    /// RFC 3339 UTC with milliseconds, the one timestamp form used everywhere (spec README §4).
    /// Computed arithmetically (days → civil date) into a fixed 24-byte buffer: it runs several
    /// times per sandbox response, and gmtime plus string padding showed up in profiles.
    public static func timestamp(unixMillis: Int64? = nil) -> String {
        let millis: Int64
        if let unixMillis { millis = unixMillis } else {
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            millis = Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
        }
        var days = millis / 86_400_000
        var rest = millis % 86_400_000
        if rest < 0 { rest += 86_400_000; days -= 1 }
        // Howard Hinnant's civil_from_days.
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        return String(unsafeUninitializedCapacity: 24) { out in
            func put(_ value: Int64, _ width: Int, at offset: Int) {
                var v = value
                for i in stride(from: offset + width - 1, through: offset, by: -1) {
                    out[i] = UInt8(ascii: "0") + UInt8(v % 10)
                    v /= 10
                }
            }
            put(year, 4, at: 0); out[4] = UInt8(ascii: "-")
            put(month, 2, at: 5); out[7] = UInt8(ascii: "-")
            put(day, 2, at: 8); out[10] = UInt8(ascii: "T")
            put(rest / 3_600_000, 2, at: 11); out[13] = UInt8(ascii: ":")
            put(rest / 60_000 % 60, 2, at: 14); out[16] = UInt8(ascii: ":")
            put(rest / 1000 % 60, 2, at: 17); out[19] = UInt8(ascii: ".")
            put(rest % 1000, 3, at: 20); out[23] = UInt8(ascii: "Z")
            return 24
        }
    }
}

/// Appends `s` as a JSON string literal (quotes included).
func appendJSONString(_ s: String, to out: inout String) {
    out += "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if scalar.value < 0x20 {
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    out += "\""
}
