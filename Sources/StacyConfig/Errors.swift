/// A fatal loading error: the explicitly named config file is missing or unreadable,
/// or the file is not parseable YAML/JSON. Everything else is reported as a `ConfigProblem`
/// so `config validate` can list all of them at once.
public struct ConfigError: Error, CustomStringConvertible, Sendable, Equatable {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// One validation problem (or warning), always tied to the dotted key path it concerns,
/// so `config validate` can print `key: problem` lines.
public struct ConfigProblem: Sendable, Equatable, CustomStringConvertible {
    public let key: String
    public let message: String
    public init(key: String, message: String) {
        self.key = key
        self.message = message
    }
    public var description: String { "\(key): \(message)" }
}

/// Where an effective value came from (precedence: default < file < env < flag).
public enum ConfigSource: String, Sendable {
    case `default`, file, env, flag
}
