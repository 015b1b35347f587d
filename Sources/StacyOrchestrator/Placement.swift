import StacyHTTP
import StacyProviders
import StacyStore

/// Where a sandbox runs, resolved from its record. Every operation goes through the `Provider`
/// this returns, so the manager never branches on local versus remote: a remote worker is reached
/// through a provider that speaks worker RPC (`RemoteWorkerProvider`).
public protocol Placement: Sendable {
    /// The provider that runs `sandbox`, or nil when its place is unknown here.
    func provider(for sandbox: SandboxRecord) -> (any Provider)?
    /// The best worker for `request` (workers.md §9) and the provider to spawn with there; nil when
    /// no worker is eligible.
    func place(_ request: PlacementRequest) -> (workerID: String, provider: any Provider)?
    /// A provider a spawn may name: run here, or advertised by an alive worker (workers.md §8).
    func knowsProvider(_ name: String) -> Bool
    /// Keeps the scheduler's usage counts current: a sandbox now counts against `workerID`
    /// (`delta` 1) or no longer does (`delta` -1).
    func account(workerID: String, memoryMB: Int, vcpus: Int, delta: Int)
    /// The runtime's state as its worker reports it, when a refresh is due (api.md §5: remote
    /// sandboxes at most every 5 s); nil when none is due or the sandbox is local.
    func refreshStatus(_ sandbox: SandboxRecord) async -> RuntimeStatus?
    /// Tells the owning worker about a lease the control plane moved (`worker.renew_lease`).
    func pushLease(_ lease: LeaseRecord, for sandbox: SandboxRecord) async
}

/// The embedded worker alone: the control plane's own providers.
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

    public func place(_ request: PlacementRequest) -> (workerID: String, provider: any Provider)? {
        guard request.pinnedWorker.map({ $0 == workerID }) ?? true, !request.excluded.contains(workerID) else { return nil }
        return registry.provider(named: request.provider).map { (workerID, $0) }
    }

    public func knowsProvider(_ name: String) -> Bool { registry.provider(named: name) != nil }

    public func account(workerID: String, memoryMB: Int, vcpus: Int, delta: Int) {}

    public func refreshStatus(_ sandbox: SandboxRecord) async -> RuntimeStatus? { nil }

    public func pushLease(_ lease: LeaseRecord, for sandbox: SandboxRecord) async {}
}
