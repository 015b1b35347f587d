import StacyHTTP

/// Input rules shared by the sandbox routes (spec README §4, api.md §5–§6).
public enum Validate {
    /// Owner IDs: trimmed, 1–128 bytes, no whitespace, control characters, `/` or `\`.
    public static func ownerID(_ raw: String) throws(APIError) -> String {
        let trimmed = raw.trimmingWhitespace()
        guard !trimmed.isEmpty, trimmed.utf8.count <= 128 else {
            throw .badRequest("owner ID must be 1 to 128 bytes")
        }
        for scalar in trimmed.unicodeScalars {
            if scalar.properties.isWhitespace || scalar.value < 0x20 || scalar.value == 0x7F || scalar == "/" || scalar == "\\" {
                throw .badRequest("owner ID must not contain whitespace, control characters, '/' or '\\'")
            }
        }
        return trimmed
    }

    /// `sb-` + 24 lowercase hex; anything else simply names no sandbox.
    public static func isSandboxID(_ id: String) -> Bool {
        let bytes = Array(id.utf8)
        guard bytes.count == 27, id.hasPrefix("sb-") else { return false }
        return bytes[3...].allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }
    }

    /// ≤256 characters of `[A-Za-z0-9._:/@+-]`.
    public static func image(_ image: String) throws(APIError) {
        guard !image.isEmpty, image.utf8.count <= 256,
              image.utf8.allSatisfy({ isAlphanumeric($0) || "._:/@+-".utf8.contains($0) }) else {
            throw .badRequest("image must be 1 to 256 characters of A-Z a-z 0-9 . _ : / @ + -")
        }
    }

    /// ≤64 keys; key ≤128 bytes; value ≤1024 bytes.
    public static func metadata(_ metadata: [String: String]) throws(APIError) {
        guard metadata.count <= 64 else { throw .badRequest("metadata has more than 64 keys") }
        for (key, value) in metadata {
            guard !key.isEmpty, key.utf8.count <= 128 else { throw .badRequest("metadata keys must be 1 to 128 bytes") }
            guard value.utf8.count <= 1024 else { throw .badRequest("metadata value of '\(key)' exceeds 1024 bytes") }
        }
    }

    /// Environment names match `[A-Za-z_][A-Za-z0-9_]*`; values hold no NUL; ≤256 entries.
    public static func environment(_ env: [String: String]) throws(APIError) {
        guard env.count <= 256 else { throw .badRequest("env has more than 256 entries") }
        for (name, value) in env {
            let bytes = Array(name.utf8)
            guard let first = bytes.first, isLetter(first) || first == UInt8(ascii: "_"),
                  bytes.allSatisfy({ isAlphanumeric($0) || $0 == UInt8(ascii: "_") }) else {
                throw .badRequest("env name '\(name)' must match [A-Za-z_][A-Za-z0-9_]*")
            }
            guard !value.utf8.contains(0) else { throw .badRequest("env value of '\(name)' contains NUL") }
        }
    }

    private static func isLetter(_ b: UInt8) -> Bool { (b >= 65 && b <= 90) || (b >= 97 && b <= 122) }
    private static func isAlphanumeric(_ b: UInt8) -> Bool { isLetter(b) || (b >= 48 && b <= 57) }
}

extension String {
    func trimmingWhitespace() -> String {
        var scalars = Substring(self).unicodeScalars[...]
        while let first = scalars.first, first.properties.isWhitespace { scalars = scalars.dropFirst() }
        while let last = scalars.last, last.properties.isWhitespace { scalars = scalars.dropLast() }
        return String(scalars)
    }
}
