import StacyAPI
import StacyHTTP
import StacyOrchestrator
import StacyProviders
import StacyStore
import Synchronization

/// api.md §8.3: the providers this control plane runs sandboxes on, their health and settings.
enum ProviderRoutes {
    static let list = RouteInfo(method: "GET", path: "/api/v1/providers", operationID: "listProviders", scope: "read:*")
    static let get = RouteInfo(method: "GET", path: "/api/v1/providers/{name}", operationID: "getProvider", scope: "read:*")
    static let test = RouteInfo(method: "POST", path: "/api/v1/providers/test", operationID: "testProviders", scope: "operator:*")

    static let all = [list, get, test]

    static func routes(_ manager: SandboxManager, auth: Authenticator, store: any Store, cache: HealthCache) -> [Route] {
        let registry = manager.registry
        return [
            Route(list, handler: .async { request in
                _ = try auth.authorize(request, list)
                var items: [ProviderInfo] = []
                for provider in registry.all {
                    let (report, checked) = await cache.health(of: provider)
                    items.append(ProviderInfo(name: provider.name, healthy: report.healthy, isDefault: provider.name == registry.defaultName,
                                              latencyMs: report.latencyMillis, lastChecked: Log.timestamp(unixMillis: checked),
                                              error: report.error, capabilities: provider.capabilities))
                }
                return .json(items)
            }),
            Route(get, handler: .async { request in
                _ = try auth.authorize(request, get)
                let name = request.pathParameter("name")
                guard let provider = registry.provider(named: name) else {
                    throw APIError(status: 404, code: "NOT_FOUND", message: "provider not found")
                }
                let (report, checked) = await cache.health(of: provider)
                let count = ((try? store.sandboxCounts()) ?? [])
                    .filter { $0.provider == name && $0.state != "destroyed" }.reduce(0) { $0 + $1.count }
                let health = ProviderDetail.Health(healthy: report.healthy, latencyMs: report.latencyMillis,
                                                   lastChecked: Log.timestamp(unixMillis: checked), error: report.error)
                return .json(ProviderDetail(name: name, healthy: report.healthy, isDefault: name == registry.defaultName,
                                            sandboxCount: count, health: health, config: provider.configSummary))
            }),
            Route(test, handler: .async { request in
                _ = try auth.authorize(request, test)
                var results: [String: Bool] = [:]
                for provider in registry.all {
                    results[provider.name] = await cache.health(of: provider, fresh: true).0.healthy
                }
                return .json(results)
            }),
        ]
    }
}

/// Health results kept 5 s (api.md §8.3), so listing providers never runs a check per request.
final class HealthCache: Sendable {
    private let entries = Mutex<[String: (HealthReport, Int64)]>([:])
    static let maxAgeMillis: Int64 = 5_000

    func health(of provider: any Provider, fresh: Bool = false) async -> (HealthReport, Int64) {
        let now = wallClockMillis()
        if !fresh, let (report, at) = entries.withLock({ $0[provider.name] }), now - at < Self.maxAgeMillis {
            return (report, at)
        }
        let report = await provider.health()
        entries.withLock { $0[provider.name] = (report, now) }
        return (report, now)
    }
}
