/// What `stacyvm version` and the system routes report about this build.
public enum BuildInfo {
    public static let version = "0.1.0"
    /// The worker RPC protocol this build speaks (workers.md §7).
    public static let protocolVersion = 2
    #if arch(x86_64)
    public static let arch = "amd64"
    #elseif arch(arm64)
    public static let arch = "arm64"
    #else
    public static let arch = "unknown"
    #endif
    public static let os = "linux"
    #if swift(>=6.3)
    public static let swiftVersion = "6.3"
    #else
    public static let swiftVersion = "6"
    #endif
}

extension BuildInfo {
    /// SwiftPM offers no build-time stamping without a plugin; until release packaging sets these,
    /// they say so plainly rather than guess.
    public static let commit = "unknown"
    public static let builtAt = "unknown"
}
