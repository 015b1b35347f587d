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

    /// RFC 3339 UTC with milliseconds, the one timestamp form used everywhere (spec README §4).
    public static func timestamp(unixMillis: Int64? = nil) -> String {
        let millis: Int64
        if let unixMillis { millis = unixMillis } else {
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            millis = Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
        }
        var seconds = time_t(millis / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func pad(_ v: Int32, _ width: Int) -> String {
            let s = String(v)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        return pad(parts.tm_year + 1900, 4) + "-" + pad(parts.tm_mon + 1, 2) + "-" + pad(parts.tm_mday, 2)
            + "T" + pad(parts.tm_hour, 2) + ":" + pad(parts.tm_min, 2) + ":" + pad(parts.tm_sec, 2)
            + "." + pad(Int32(millis % 1000), 3) + "Z"
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
