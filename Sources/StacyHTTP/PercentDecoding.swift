/// Percent-decoding of path segments and form-encoded query values.
///
/// libmicrohttpd is started with a no-op unescape callback so that `%2F` inside a path segment
/// stays inside that segment; decoding happens here, once, with strict checks.
enum PercentDecoding {
    /// Decodes `%XX` escapes (and `+` as a space when `plusIsSpace`, as browsers and httpx send
    /// query strings). Returns nil for a malformed escape or bytes that are not UTF-8.
    static func decode<S: Collection>(_ raw: S, plusIsSpace: Bool) -> String? where S.Element == UInt8 {
        var needsWork = false
        for byte in raw where byte == UInt8(ascii: "%") || (plusIsSpace && byte == UInt8(ascii: "+")) || byte >= 0x80 {
            needsWork = true
            break
        }
        if !needsWork { return String(decoding: raw, as: UTF8.self) }

        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var index = raw.startIndex
        while index != raw.endIndex {
            let byte = raw[index]
            if byte == UInt8(ascii: "%") {
                let first = raw.index(after: index)
                guard first != raw.endIndex else { return nil }
                let second = raw.index(after: first)
                guard second != raw.endIndex, let high = hexValue(raw[first]), let low = hexValue(raw[second]) else {
                    return nil
                }
                out.append(high << 4 | low)
                index = raw.index(after: second)
                continue
            }
            out.append(plusIsSpace && byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
            index = raw.index(after: index)
        }
        return String(validating: out, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    /// Splits a raw path into decoded segments, ignoring one trailing `/` (api.md §1).
    static func pathSegments(_ rawPath: String) -> [String]? {
        var path = Substring(rawPath)
        if path.hasPrefix("/") { path = path.dropFirst() }
        if path.hasSuffix("/") { path = path.dropLast() }
        if path.isEmpty { return [] }
        var segments: [String] = []
        for piece in path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
            guard let decoded = decode(piece, plusIsSpace: false) else { return nil }
            segments.append(decoded)
        }
        return segments
    }
}
