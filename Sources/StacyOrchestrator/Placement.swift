import StacyHTTP
import StacyProviders
import StacyStore

/// Where a sandbox runs, resolved from its record. Every operation goes through the `Provider`
/// this returns, so the manager never branches on local versus remote: a remote worker will be
/// reached through a provider that speaks worker RPC.
public protocol Placement: Sendable {
    /// The provider that runs `sandbox`, or nil when its place is unknown here.
    func provider(for sandbox: SandboxRecord) -> (any Provider)?
    /// The worker ID and provider to place a new sandbox on.
    func place(providerName: String) -> (workerID: String, provider: any Provider)?
}

/// The embedded worker: the control plane's own providers.
public struct LocalPlacement: Placement {
    public let workerID: String
    public let registry: ProviderRegistry

    public init(workerID: String, registry: ProviderRegistry) {
        self.workerID = workerID
        self.registry = registry
    }

    public func provider(for sandbox: SandboxRecord) -> (any Provider)? {
        guard (sandbox.workerID ?? workerID) == workerID else { return nil }
        return registry.provider(named: sandbox.provider)
    }

    public func place(providerName: String) -> (workerID: String, provider: any Provider)? {
        registry.provider(named: providerName).map { (workerID, $0) }
    }
}
