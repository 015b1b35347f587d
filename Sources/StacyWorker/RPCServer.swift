import Foundation
import StacyAPI
import StacyHTTP
import StacyJSON
import StacyProviders
import StacyVMClient
import StacyWorkerProto

/// `POST /rpc` (workers.md §7): authenticates the control plane's per-call token, checks the
/// envelope, and hands the call to the dispatcher. Every answer is an RPC envelope; its HTTP status
/// follows the error code (§7.3).
public final class RPCEndpoint: Sendable {
    private let runtime: WorkerRuntime
    private let dispatcher: RPCDispatcher
    private let replays = ReplayGuard()
    private let log: Log

    public init(runtime: WorkerRuntime, dispatcher: RPCDispatcher, log: Log) {
        self.runtime = runtime
        self.dispatcher = dispatcher
        self.log = log
    }

    public func handle(_ request: HTTPRequest) async -> HTTPResponse {
        let workerID = runtime.options.id
        let envelope: RPCRequest
        do {
            envelope = try JanssonDecoder().decode(RPCRequest.self, from: request.body)
        } catch {
            return answer(RPCResponse(id: "", workerID: workerID, error: RPCErrorBody(code: "BAD_REQUEST", message: "malformed RPC envelope")))
        }
        func refuse(_ code: RPCErrorCode, _ message: String) -> HTTPResponse {
            answer(RPCResponse(id: envelope.id, workerID: workerID, error: RPCErrorBody(code: code.rawValue, message: message)))
        }
        guard envelope.protocolVersion == workerProtocolVersion else {
            return refuse(.unsupportedVersion, "protocol_version must be \(workerProtocolVersion)")
        }
        guard !envelope.id.trimmingCharacters(in: .whitespaces).isEmpty, envelope.id.utf8.count <= 256 else {
            return refuse(.badRequest, "id must be non-blank")
        }
        guard envelope.workerID == workerID else { return refuse(.badRequest, "this is worker \(workerID), not \(envelope.workerID)") }
        guard let method = RPCMethod(rawValue: envelope.method) else {
            return refuse(.unknownMethod, "unknown method \(envelope.method)")
        }
        // Authenticate the control plane itself: static tokens are never accepted here (§3.2).
        let keys = runtime.controlPlaneKeys
        guard !keys.isEmpty else { return refuse(.unauthorized, "no control-plane key yet: waiting for the first accepted heartbeat") }
        guard request.header("X-Worker-ID") == workerID, let token = request.header("X-Worker-Token") else {
            return refuse(.unauthorized, "X-Worker-ID and a control-plane token are required")
        }
        let now = Int64(Date().timeIntervalSince1970)
        do {
            let claims = try ControlPlaneToken.verify(token, publicKeys: keys, workerID: workerID, requestID: envelope.id,
                                                      scope: method.scope, now: now)
            guard replays.accept(jti: claims.jti, expiresAt: claims.exp, now: now) else {
                return refuse(.unauthorized, "token already used")
            }
        } catch .missingScope(let scope) {
            return refuse(.forbidden, "token lacks scope \(scope)")
        } catch {
            log.warn("RPC token refused", [("reason", .string(error.description)), ("method", .string(method.rawValue))])
            return refuse(.unauthorized, error.description)
        }
        runtime.outstandingWork.add(1, ordering: .relaxed)
        defer { runtime.outstandingWork.subtract(1, ordering: .relaxed) }
        do {
            let result = try await dispatcher.dispatch(method, envelope)
            return answer(RPCResponse(id: envelope.id, workerID: workerID, result: result))
        } catch {
            if error.typed == .internal { log.error("RPC failed", [("method", .string(method.rawValue)), ("error", .string(error.message))]) }
            return answer(RPCResponse(id: envelope.id, workerID: workerID, error: RPCErrorBody(code: error.code, message: error.message)))
        }
    }

    private func answer(_ response: RPCResponse) -> HTTPResponse {
        let status = response.error.flatMap { RPCErrorCode(rawValue: $0.code) }?.httpStatus ?? (response.error == nil ? 200 : 500)
        return .json(response, status: status)
    }
}

/// The method handlers (workers.md §7.4) behind the lease guard (§6.3).
public final class RPCDispatcher: Sendable {
    private let runtime: WorkerRuntime
    private let state: WorkerState
    private let registry: ProviderRegistry
    private let capacity: WorkerCapacity
    private let leaseSkewMs: Int64
    private let log: Log

    public init(runtime: WorkerRuntime, state: WorkerState, registry: ProviderRegistry, capacity: WorkerCapacity,
                leaseSkewMs: Int64, log: Log) {
        self.runtime = runtime
        self.state = state
        self.registry = registry
        self.capacity = capacity
        self.leaseSkewMs = leaseSkewMs
        self.log = log
    }

    func dispatch(_ method: RPCMethod, _ request: RPCRequest) async throws(RPCError) -> JSONValue {
        switch method {
        case .status: return try await status(request)
        case .spawn: return try await spawn(request)
        case .destroy: return try await destroy(request)
        case .renewLease: return try await renewLease(request)
        case .drain: return try drain(try params(DrainParams.self, request))
        case .shutdown: return try drain(DrainParams(draining: true))
        case .inventory: return try inventory(try params(InventoryParams.self, request))
        }
    }

    // MARK: lease guard (workers.md §6.3)

    /// Steps 1–5 and 7; step 6 (the sandbox is in the local records) is each method's business.
    /// `reap`: a destroy that fences out an older holder is accepted at a generation ≥ ours.
    private func checkLease(_ request: RPCRequest, sandboxID: String, reap: Bool = false) throws(RPCError) -> LeaseToken {
        guard let lease = request.lease else { throw RPCError(.badRequest, "a lease is required for \(request.method)") }
        guard lease.resourceID == sandboxID else { throw RPCError(.leaseMismatch, "the lease is for \(lease.resourceID), not \(sandboxID)") }
        guard reap || lease.holderID == runtime.options.id else {
            throw RPCError(.leaseMismatch, "the lease is held by \(lease.holderID ?? "nobody"), not \(runtime.options.id)")
        }
        let mark = state.highWaterMark(sandboxID)
        guard lease.generation >= mark else {
            throw RPCError(.leaseStale, "generation \(lease.generation) is older than \(mark)")
        }
        guard let expiresAt = Log.unixMillis(fromTimestamp: lease.expiresAt) else {
            throw RPCError(.badRequest, "lease.expires_at is not RFC 3339")
        }
        guard expiresAt - leaseSkewMs > runtime.controlPlaneNowMillis() else {
            throw RPCError(.leaseExpired, "the lease expired at \(lease.expiresAt)")
        }
        return lease
    }

    private func leaseExpiry(_ lease: LeaseToken) -> Int64 { Log.unixMillis(fromTimestamp: lease.expiresAt) ?? 0 }

    // MARK: methods

    private func status(_ request: RPCRequest) async throws(RPCError) -> JSONValue {
        guard let target = try? RPCJSON.decode(RPCTarget.self, from: request.params), !target.sandboxID.isEmpty else {
            return try encode(WorkerStatusResult(workerID: runtime.options.id, epoch: runtime.epoch, draining: state.draining,
                                                 sandboxes: state.count, providers: registry.all.map(\.name)))
        }
        let local = try record(target)
        guard let provider = registry.provider(named: local.provider) else {
            throw RPCError(.providerUnavailable, "provider \(local.provider) is not running here")
        }
        let status = await provider.status(local.runtimeID)
        let stateName: String
        switch status {
        case .running: stateName = "running"
        case .stopped: stateName = "stopped"
        case .missing: stateName = "missing"
        }
        return try encode(SandboxStatusResult(
            sandboxID: local.sandboxID, runtimeID: local.runtimeID, state: stateName, provider: local.provider,
            workerID: runtime.options.id, generation: local.generation,
            expiresAt: Log.timestamp(unixMillis: local.leaseExpiresAt)))
    }

    /// Idempotent by sandbox ID (§7.4): the same generation returns the existing runtime with
    /// `created:false`; a higher one adopts it under the new lease.
    private func spawn(_ request: RPCRequest) async throws(RPCError) -> JSONValue {
        let spec = try params(SpawnParams.self, request)
        guard !state.draining, !runtime.draining else { throw RPCError(.draining, "worker \(runtime.options.id) is draining") }
        let lease = try checkLease(request, sandboxID: spec.sandboxID)
        if let existing = state.sandbox(spec.sandboxID) {
            do { try state.raiseGeneration(spec.sandboxID, to: lease.generation, leaseExpiresAt: leaseExpiry(lease)) } catch {
                throw RPCError(.internal, "cannot persist the lease: \(error)")
            }
            return try encode(SpawnResult(sandboxID: existing.sandboxID, runtimeID: existing.runtimeID, state: "running",
                                          provider: existing.provider, workerID: runtime.options.id,
                                          metadata: existing.spec.metadata ?? [:], created: false))
        }
        guard state.tombstone(spec.sandboxID) == nil || lease.generation > state.highWaterMark(spec.sandboxID) else {
            throw RPCError(.leaseStale, "sandbox \(spec.sandboxID) was destroyed here at generation \(state.highWaterMark(spec.sandboxID))")
        }
        guard let provider = registry.provider(named: spec.provider) else {
            throw RPCError(.providerUnavailable, "provider \(spec.provider) is not running here")
        }
        if let max = capacity.maxSandboxes, max > 0, state.count >= max {
            throw RPCError(.resourceLimit, "worker \(runtime.options.id) runs its maximum of \(max) sandboxes")
        }
        guard let expiresAt = Log.unixMillis(fromTimestamp: spec.expiresAt) else {
            throw RPCError(.badRequest, "expires_at is not RFC 3339")
        }
        let runtimeID: String
        do {
            runtimeID = try await provider.spawn(SpawnSpec(
                sandboxID: spec.sandboxID, image: spec.image, memoryMB: spec.memoryMB, vcpus: spec.vcpus,
                network: spec.network ?? "none", env: spec.env ?? [:], metadata: spec.metadata ?? [:],
                expiresAtMillis: expiresAt))
        } catch {
            throw Self.rpcError(error)
        }
        let local = LocalSandbox(sandboxID: spec.sandboxID, runtimeID: runtimeID, provider: spec.provider,
                                 generation: lease.generation, leaseExpiresAt: leaseExpiry(lease), spec: spec,
                                 createdAt: Int64(Date().timeIntervalSince1970 * 1000))
        do { try state.save(local) } catch {
            // Never run a sandbox the records do not know: take it down again.
            _ = try? await provider.destroy(runtimeID)
            throw RPCError(.internal, "cannot persist the sandbox record: \(error)")
        }
        log.info("sandbox spawned", [("sandbox_id", .string(spec.sandboxID)), ("runtime_id", .string(runtimeID)),
                                     ("generation", .int(Int(lease.generation)))])
        return try encode(SpawnResult(sandboxID: spec.sandboxID, runtimeID: runtimeID, state: "running", provider: spec.provider,
                                      workerID: runtime.options.id, metadata: spec.metadata ?? [:], created: true))
    }

    private func destroy(_ request: RPCRequest) async throws(RPCError) -> JSONValue {
        let params = try params(DestroyParams.self, request)
        let lease = try checkLease(request, sandboxID: params.sandboxID, reap: params.reap == true)
        guard let local = state.sandbox(params.sandboxID) else {
            if state.tombstone(params.sandboxID) != nil {
                return try encode(DestroyResult(sandboxID: params.sandboxID, destroyed: false))
            }
            throw RPCError(.notFound, "sandbox \(params.sandboxID) is not on this worker")
        }
        do { try state.raiseGeneration(local.sandboxID, to: lease.generation, leaseExpiresAt: local.leaseExpiresAt) } catch {
            throw RPCError(.internal, "cannot persist the lease: \(error)")
        }
        if let provider = registry.provider(named: local.provider) {
            do { _ = try await provider.destroy(local.runtimeID) } catch { throw Self.rpcError(error) }
        }
        do {
            try state.tombstone(local.sandboxID, generation: lease.generation, reason: params.reason ?? (params.reap == true ? "reaped" : "destroyed"),
                                at: Int64(Date().timeIntervalSince1970 * 1000))
        } catch {
            throw RPCError(.internal, "cannot persist the tombstone: \(error)")
        }
        log.info("sandbox destroyed", [("sandbox_id", .string(local.sandboxID)), ("reap", .string(params.reap == true ? "true" : "false"))])
        return try encode(DestroyResult(sandboxID: local.sandboxID, destroyed: true))
    }

    /// The seed's method: validate resource, holder and expiry, renew at the control plane with
    /// this worker's own credential, and record the expiry it answers.
    private func renewLease(_ request: RPCRequest) async throws(RPCError) -> JSONValue {
        let params = try params(RenewLeaseParams.self, request)
        let lease = try checkLease(request, sandboxID: params.resourceID)
        guard let local = state.sandbox(params.resourceID) else {
            throw RPCError(.notFound, "sandbox \(params.resourceID) is not on this worker")
        }
        do { try state.raiseGeneration(local.sandboxID, to: lease.generation, leaseExpiresAt: local.leaseExpiresAt) } catch {
            throw RPCError(.internal, "cannot persist the lease: \(error)")
        }
        let renewed: LeaseRenewResponse
        do {
            renewed = try await runtime.client.renewWorkerLease(runtime.options.id, resourceID: params.resourceID,
                                                                LeaseRenewRequest(ttl: params.ttl, generation: lease.generation))
        } catch {
            switch error.status {
            case 0: throw RPCError(code: "INTERNAL", message: "control plane unreachable: \(error.message)", transport: true)
            case 404: throw RPCError(.notFound, error.message)
            case 409: throw RPCError(.conflict, error.message)
            case 400: throw RPCError(.badRequest, error.message)
            default: throw RPCError(.internal, "control plane answered \(error.status): \(error.message)")
            }
        }
        do { try state.raiseGeneration(local.sandboxID, to: lease.generation, leaseExpiresAt: leaseExpiry(renewed.lease)) } catch {
            throw RPCError(.internal, "cannot persist the lease: \(error)")
        }
        return try encode(renewed)
    }

    private func drain(_ params: DrainParams) throws(RPCError) -> JSONValue {
        do { try state.setDraining(params.draining) } catch { throw RPCError(.internal, "cannot persist the drain flag: \(error)") }
        runtime.setDraining(params.draining)
        return try encode(DrainResult(workerID: runtime.options.id, draining: params.draining, deadline: params.deadline))
    }

    private func inventory(_ params: InventoryParams) throws(RPCError) -> JSONValue {
        try encode(InventoryResult(
            workerID: runtime.options.id, epoch: runtime.epoch,
            sandboxes: state.sandboxes.map {
                .init(sandboxID: $0.sandboxID, runtimeID: $0.runtimeID, provider: $0.provider, state: "running",
                      generation: $0.generation, expiresAt: Log.timestamp(unixMillis: $0.leaseExpiresAt),
                      createdAt: Log.timestamp(unixMillis: $0.createdAt))
            },
            tombstones: params.includeTombstones == false ? [] : state.tombstones.map {
                .init(sandboxID: $0.sandboxID, generation: $0.generation, reason: $0.reason,
                      destroyedAt: Log.timestamp(unixMillis: $0.destroyedAt))
            }))
    }

    // MARK: housekeeping (workers.md §6.3, §6.4)

    /// After a restart: records whose runtime the provider no longer has are tombstoned
    /// (`runtime_missing`), so the control plane's inventory sees them gone.
    public func reattach() async {
        let now = runtime.controlPlaneNowMillis()
        for local in state.sandboxes {
            let status = await registry.provider(named: local.provider)?.status(local.runtimeID) ?? .missing
            guard status == .missing else { continue }
            try? state.tombstone(local.sandboxID, generation: local.generation, reason: "runtime_missing", at: now)
            log.info("runtime gone after restart", [("sandbox_id", .string(local.sandboxID))])
        }
    }

    /// Worker-side TTL enforcement: a sandbox whose lease ran out (plus `worker.lease_skew`, on the
    /// control plane's clock) is destroyed here, whether or not the control plane can still reach us.
    public func enforceLeases() async {
        let now = runtime.controlPlaneNowMillis()
        for local in state.sandboxes where local.leaseExpiresAt + leaseSkewMs < now {
            if let provider = registry.provider(named: local.provider) { _ = try? await provider.destroy(local.runtimeID) }
            try? state.tombstone(local.sandboxID, generation: local.generation, reason: "lease_expired", at: now)
            log.info("lease expired: sandbox destroyed", [("sandbox_id", .string(local.sandboxID))])
        }
    }

    /// Heartbeat `revoked` (workers.md §4): sandboxes the control plane destroyed while it could
    /// not reach this worker. Each is destroyed here unless a newer generation owns it.
    public func revoke(_ revocations: [Worker.Revocation]) async {
        let now = runtime.controlPlaneNowMillis()
        for revocation in revocations {
            guard let local = state.sandbox(revocation.sandboxID), revocation.generation >= local.generation else { continue }
            if let provider = registry.provider(named: local.provider) { _ = try? await provider.destroy(local.runtimeID) }
            try? state.tombstone(local.sandboxID, generation: revocation.generation, reason: "revoked", at: now)
            log.info("sandbox revoked by the control plane", [("sandbox_id", .string(local.sandboxID))])
        }
    }

    /// Heartbeat `leases` (workers.md §4): the control plane's current expiry and generation for
    /// every lease this worker holds.
    public func syncLeases(_ leases: [LeaseToken]) {
        for lease in leases {
            guard let expiresAt = Log.unixMillis(fromTimestamp: lease.expiresAt) else { continue }
            try? state.raiseGeneration(lease.resourceID, to: lease.generation, leaseExpiresAt: expiresAt)
        }
    }

    // MARK: helpers

    /// Read-only and mutating methods alike reach only sandboxes the control plane placed here,
    /// and only under the runtime ID it knows (§6.3).
    private func record(_ target: RPCTarget) throws(RPCError) -> LocalSandbox {
        guard let local = state.sandbox(target.sandboxID) else {
            throw RPCError(.notFound, "sandbox \(target.sandboxID) is not on this worker")
        }
        if let runtimeID = target.runtimeID, runtimeID != local.runtimeID {
            throw RPCError(.notFound, "sandbox \(target.sandboxID) has another runtime here")
        }
        return local
    }

    private func params<T: Decodable>(_ type: T.Type, _ request: RPCRequest) throws(RPCError) -> T {
        do { return try RPCJSON.decode(type, from: request.params) } catch {
            throw RPCError(.badRequest, "params do not fit \(request.method)")
        }
    }

    private func encode<T: Encodable>(_ value: T) throws(RPCError) -> JSONValue {
        do { return try RPCJSON.value(value) } catch { throw RPCError(.internal, "cannot encode the result") }
    }

    static func rpcError(_ error: ProviderError) -> RPCError {
        switch error.status {
        case 400: return RPCError(.badRequest, error.message)
        case 404: return RPCError(.notFound, error.message)
        case 408: return RPCError(.timeout, error.message)
        case 409: return RPCError(.conflict, error.message)
        case 413: return RPCError(.payloadTooLarge, error.message)
        case 429: return RPCError(.resourceLimit, error.message)
        case 503: return RPCError(.providerUnavailable, error.message)
        default: return RPCError(.internal, error.message)
        }
    }
}
