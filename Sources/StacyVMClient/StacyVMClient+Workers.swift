import StacyAPI

// Worker routes (workers.md §4–5; the client needs `workerID` and `workerToken`) and the worker,
// lease and credential admin routes (api.md §8.4, §8.8).
extension StacyVMClient {
    // MARK: worker → control plane

    public func workerHeartbeat(_ workerID: String, _ request: HeartbeatRequest) async throws(StacyVMError) -> Worker {
        try await call("POST", "/worker/\(escape(workerID))/heartbeat", body: request)
    }

    public func renewWorkerLease(_ workerID: String, resourceID: String,
                                 _ request: LeaseRenewRequest) async throws(StacyVMError) -> LeaseRenewResponse {
        try await call("POST", "/worker/\(escape(workerID))/leases/\(escape(resourceID))/renew", body: request)
    }

    // MARK: operators and admins

    public func listWorkers() async throws(StacyVMError) -> [Worker] {
        try await call("GET", "/workers")
    }

    public func getWorker(_ workerID: String) async throws(StacyVMError) -> Worker {
        try await call("GET", "/workers/\(escape(workerID))")
    }

    public func createWorkerCredential(_ workerID: String,
                                       _ request: WorkerCredentialRequest) async throws(StacyVMError) -> WorkerCredential {
        try await call("POST", "/admin/workers/\(escape(workerID))/credentials", body: request)
    }

    public func listWorkerCredentials(_ workerID: String) async throws(StacyVMError) -> [WorkerCredential] {
        try await call("GET", "/admin/workers/\(escape(workerID))/credentials")
    }

    public func updateWorkerCredential(_ workerID: String, credentialID: String,
                                       _ request: WorkerCredentialUpdate) async throws(StacyVMError) -> WorkerCredential {
        try await call("PATCH", "/admin/workers/\(escape(workerID))/credentials/\(escape(credentialID))", body: request)
    }

    @discardableResult
    public func revokeWorkerCredential(_ workerID: String, credentialID: String) async throws(StacyVMError) -> StatusMessage {
        try await call("DELETE", "/admin/workers/\(escape(workerID))/credentials/\(escape(credentialID))")
    }

    public func listLeases(holder: String? = nil, resourceType: String? = nil) async throws(StacyVMError) -> [LeaseInfo] {
        var query: [(String, String)] = []
        if let holder { query.append(("holder", holder)) }
        if let resourceType { query.append(("resource_type", resourceType)) }
        return try await call("GET", "/admin/leases" + queryString(query))
    }

    public func getControlPlane() async throws(StacyVMError) -> ControlPlaneView {
        try await call("GET", "/admin/control-plane")
    }

    public func drainWorker(_ workerID: String, _ request: DrainRequest) async throws(StacyVMError) -> Worker {
        try await call("POST", "/admin/workers/\(escape(workerID))/drain", body: request)
    }

    public func undrainWorker(_ workerID: String) async throws(StacyVMError) -> Worker {
        try await call("POST", "/admin/workers/\(escape(workerID))/undrain")
    }
}
