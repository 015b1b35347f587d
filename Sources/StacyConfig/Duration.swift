import Foundation

/// A signed duration with Go's `time.Duration` semantics: nanoseconds in an `Int64`,
/// parsed with `time.ParseDuration` syntax and printed like `Duration.String()`
/// after rounding to the microsecond (README §4), because scripts and SDK tests
/// compare these strings byte for byte with what the Go original printed.
public struct GoDuration: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    /// Rounds to the nearest nanosecond; clamps values outside the `Int64` range.
    public init(seconds: Double) {
        let ns = (seconds * 1e9).rounded()
        if ns.isNaN {
            nanoseconds = 0
        } else if ns >= 9.223372036854775807e18 {
            nanoseconds = .max
        } else if ns <= -9.223372036854775808e18 {
            nanoseconds = .min
        } else {
            nanoseconds = Int64(ns)
        }
    }

    public static let zero = GoDuration(nanoseconds: 0)
    public static let nanosecond: Int64 = 1
    public static let microsecond: Int64 = 1_000
    public static let millisecond: Int64 = 1_000_000
    public static let second: Int64 = 1_000_000_000
    public static let minute: Int64 = 60 * second
    public static let hour: Int64 = 60 * minute

    public static func seconds(_ s: Int64) -> GoDuration { GoDuration(nanoseconds: s * second) }
    public static func minutes(_ m: Int64) -> GoDuration { GoDuration(nanoseconds: m * minute) }
    public static func hours(_ h: Int64) -> GoDuration { GoDuration(nanoseconds: h * hour) }
    public static func milliseconds(_ ms: Int64) -> GoDuration { GoDuration(nanoseconds: ms * millisecond) }

    public var seconds: Double { Double(nanoseconds) / 1e9 }
    public var timeInterval: TimeInterval { seconds }
    public var milliseconds: Int64 { nanoseconds / GoDuration.millisecond }
    /// The same span as a Swift `Duration`, for `Task.sleep(for:)` and clocks.
    public var duration: Duration { .nanoseconds(nanoseconds) }

    public static func < (lhs: GoDuration, rhs: GoDuration) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    // MARK: Parsing (port of Go's time.ParseDuration)

    private static let units: [String: UInt64] = [
        "ns": 1,
        "us": 1_000,
        "\u{00B5}s": 1_000, // micro sign
        "\u{03BC}s": 1_000, // Greek small letter mu
        "ms": 1_000_000,
        "s": 1_000_000_000,
        "m": 60_000_000_000,
        "h": 3_600_000_000_000,
    ]

    /// Parses `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, or `0`, exactly as Go does: a bare
    /// number other than 0 is "missing unit", and anything over ±(2^63-1) ns overflows.
    public static func parse(_ s: String) throws(ConfigError) -> GoDuration {
        let orig = s
        func invalid() -> ConfigError { ConfigError("invalid duration \"\(orig)\"") }
        var bytes = ArraySlice(Array(s.utf8))
        let limit: UInt64 = 1 << 63
        var total: UInt64 = 0
        var neg = false
        if let c = bytes.first, c == UInt8(ascii: "-") || c == UInt8(ascii: "+") {
            neg = c == UInt8(ascii: "-")
            bytes = bytes.dropFirst()
        }
        if bytes.elementsEqual("0".utf8) { return .zero }
        if bytes.isEmpty { throw invalid() }
        func isDigit(_ c: UInt8) -> Bool { c >= 48 && c <= 57 }

        while !bytes.isEmpty {
            let first = bytes.first!
            guard first == UInt8(ascii: ".") || isDigit(first) else { throw invalid() }

            // Integer part; overflow here is an error, as in Go's leadingInt.
            var v: UInt64 = 0
            var pre = false
            while let c = bytes.first, isDigit(c) {
                if v > limit / 10 { throw ConfigError("duration \"\(orig)\" overflows") }
                v = v * 10 + UInt64(c - 48)
                if v > limit { throw ConfigError("duration \"\(orig)\" overflows") }
                bytes = bytes.dropFirst()
                pre = true
            }
            // Fraction; extra digits beyond what fits are silently dropped (Go's leadingFraction).
            var f: UInt64 = 0
            var scale: Double = 1
            var post = false
            if bytes.first == UInt8(ascii: ".") {
                bytes = bytes.dropFirst()
                var overflow = false
                while let c = bytes.first, isDigit(c) {
                    bytes = bytes.dropFirst()
                    post = true
                    if overflow { continue }
                    if f > (limit - 1) / 10 { overflow = true; continue }
                    let y = f * 10 + UInt64(c - 48)
                    if y > limit { overflow = true; continue }
                    f = y
                    scale *= 10
                }
            }
            if !pre && !post { throw invalid() }

            var unitBytes: [UInt8] = []
            while let c = bytes.first, c != UInt8(ascii: "."), !isDigit(c) {
                unitBytes.append(c)
                bytes = bytes.dropFirst()
            }
            if unitBytes.isEmpty { throw ConfigError("missing unit in duration \"\(orig)\"") }
            guard let unitName = String(validating: unitBytes, as: UTF8.self),
                  let unit = units[unitName] else {
                throw ConfigError("unknown unit \"\(String(decoding: unitBytes, as: UTF8.self))\" in duration \"\(orig)\"")
            }
            if v > limit / unit { throw ConfigError("duration \"\(orig)\" overflows") }
            v *= unit
            if f > 0 {
                v += UInt64(Double(f) * (Double(unit) / scale))
                if v > limit { throw ConfigError("duration \"\(orig)\" overflows") }
            }
            total += v
            if total > limit { throw ConfigError("duration \"\(orig)\" overflows") }
        }
        if neg {
            // total ≤ 2^63 here, so the negation always fits (2^63 → Int64.min).
            return GoDuration(nanoseconds: total == limit ? .min : -Int64(total))
        }
        if total > limit - 1 { throw ConfigError("duration \"\(orig)\" overflows") }
        return GoDuration(nanoseconds: Int64(total))
    }

    // MARK: Formatting (port of Go's Duration.Round and Duration.String)

    /// Go's `Duration.Round(m)`: halves round away from zero, saturating on overflow.
    public func rounded(to m: Int64) -> GoDuration {
        guard m > 0 else { return self }
        let d = nanoseconds
        var r = d % m
        func lessThanHalf(_ x: Int64, _ y: Int64) -> Bool { UInt64(x) &+ UInt64(x) < UInt64(y) }
        if d < 0 {
            r = -r
            if lessThanHalf(r, m) { return GoDuration(nanoseconds: d + r) }
            let (d1, o) = (d + r).subtractingReportingOverflow(m)
            return GoDuration(nanoseconds: o ? .min : d1)
        }
        if lessThanHalf(r, m) { return GoDuration(nanoseconds: d - r) }
        let (d1, o) = (d - r).addingReportingOverflow(m)
        return GoDuration(nanoseconds: o ? .max : d1)
    }

    /// Go's `Duration.String()` of the value rounded to the microsecond.
    public var description: String { rounded(to: GoDuration.microsecond).goString }

    /// Go's `Duration.String()` of the exact value (no rounding).
    public var goString: String {
        var u = nanoseconds.magnitude
        let neg = nanoseconds < 0
        var out = ""
        if u < UInt64(GoDuration.second) {
            if u == 0 { return "0s" }
            let unit: String
            let prec: Int
            if u < UInt64(GoDuration.microsecond) {
                unit = "ns"; prec = 0
            } else if u < UInt64(GoDuration.millisecond) {
                unit = "\u{00B5}s"; prec = 3
            } else {
                unit = "ms"; prec = 6
            }
            let (frac, rest) = GoDuration.fraction(u, prec)
            out = String(rest) + frac + unit
        } else {
            let (frac, secs) = GoDuration.fraction(u, 9)
            u = secs
            out = String(u % 60) + frac + "s"
            u /= 60
            if u > 0 {
                out = String(u % 60) + "m" + out
                u /= 60
                if u > 0 { out = String(u) + "h" + out }
            }
        }
        return neg ? "-" + out : out
    }

    /// Go's fmtFrac: the fraction of v/10^prec without trailing zeros (and without the
    /// dot when it is zero), plus the integer quotient.
    private static func fraction(_ v: UInt64, _ prec: Int) -> (String, UInt64) {
        var v = v
        var digits: [Character] = []
        var printed = false
        for _ in 0..<prec {
            let digit = v % 10
            printed = printed || digit != 0
            if printed { digits.append(Character(String(digit))) }
            v /= 10
        }
        if printed { digits.append(".") }
        return (String(digits.reversed()), v)
    }
}
