/// Sandbox path and mode rules shared by every provider (runtime.md §5).
public enum SandboxPath {
    public static let workspace = "/workspace"
    public static let maxBytes = 4096

    /// Non-empty, ≤4096 bytes, no NUL; relative = relative to /workspace; lexical normalisation
    /// where `..` at the root stays at the root (like `filepath.Clean("/" + p)`), so a path can
    /// never name anything above "/". Returns an absolute normalised path.
    public static func normalize(_ raw: String) throws(ProviderError) -> String {
        if raw.isEmpty { throw .invalidPath("path is empty") }
        if raw.utf8.count > maxBytes { throw .invalidPath("path longer than \(maxBytes) bytes") }
        if raw.utf8.contains(0) { throw .invalidPath("path contains NUL") }
        let absolute = raw.hasPrefix("/") ? raw : workspace + "/" + raw
        var parts: [Substring] = []
        for component in absolute.split(separator: "/", omittingEmptySubsequences: true) {
            switch component {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(component)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    /// Splits a normalised absolute path into its components ("/" has none).
    public static func components(_ normalized: String) -> [String] {
        normalized.split(separator: "/").map(String.init)
    }

    public static func join(_ parent: String, _ name: String) -> String {
        parent == "/" ? "/" + name : parent + "/" + name
    }

    /// "755", "0755" or "executable" (= 0755, kept for compatibility). Symbolic modes are refused.
    public static func parseMode(_ raw: String) throws(ProviderError) -> UInt32 {
        if raw == "executable" { return 0o755 }
        let digits = Array(raw.utf8)
        guard digits.count == 3 || digits.count == 4 else { throw .invalidInput("mode must be 3 or 4 octal digits") }
        var value: UInt32 = 0
        for digit in digits {
            guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "7") else {
                throw .invalidInput("mode must be 3 or 4 octal digits")
            }
            value = value * 8 + UInt32(digit - UInt8(ascii: "0"))
        }
        return value
    }

    /// Always 4 octal digits ("0644"), permission bits only.
    public static func formatMode(_ mode: UInt32) -> String {
        let text = String(mode & 0o7777, radix: 8)
        return String(repeating: "0", count: max(0, 4 - text.count)) + text
    }
}
