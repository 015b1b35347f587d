// Paths, errors and the file API live in StacySandboxFS (shared with stacyvm-agent); users of
// this module see them as its own.
@_exported import StacySandboxFS

/// Providers by name plus the effective default (runtime.md §2.3). Choosing the default (`auto`,
/// self-tests, loopback rules) is the server's startup job; the registry only holds the result.
public final class ProviderRegistry: Sendable {
    public let defaultName: String
    public let all: [any Provider]
    private let byName: [String: any Provider]

    public init(providers: [any Provider], defaultName: String) {
        self.all = providers
        self.defaultName = defaultName
        var map: [String: any Provider] = [:]
        // First registration wins so a duplicate name cannot silently replace a provider.
        for provider in providers where map[provider.name] == nil { map[provider.name] = provider }
        self.byName = map
    }

    public func provider(named name: String) -> (any Provider)? { byName[name] }

    public var defaultProvider: (any Provider)? { byName[defaultName] }
}
