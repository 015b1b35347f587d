import StacyAPI
import StacyConfig
import StacyHTTP
import StacyJSON
import StacyStore

/// Templates (api.md §8.1, runtime.md §9): stored sandbox recipes in the original SDK's shape.
extension SandboxManager {
    /// `[A-Za-z0-9][A-Za-z0-9._-]{0,62}` (spec README §4).
    static func validTemplateName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, bytes.count <= 63, isAlnum(first) else { return false }
        return bytes.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    private static func isAlnum(_ b: UInt8) -> Bool { (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) }

    /// A template the caller may see: its own tenant's, or a global one ("" tenant).
    func visibleTemplate(_ name: String, principal: Principal) throws(APIError) -> TemplateRecord {
        guard Self.validTemplateName(name), let record = try storeCall({ try store.getTemplate(name) }),
              principal.isGlobalAdmin || record.tenantID == principal.tenantID || record.tenantID.isEmpty else {
            throw .notFound("template not found")
        }
        return record
    }

    /// Writes need `api:*` in the caller's tenant and `operator:*` for a global template of
    /// another tenant (`global_needs_operator`).
    private func requireTemplateWrite(tenant: String, principal: Principal) throws(APIError) {
        if tenant != principal.tenantID { try principal.require("operator:*") }
    }

    /// Defaults applied and every field checked; used by create and replace.
    private func templateRecord(_ request: TemplateRequest, name: String, principal: Principal) throws(APIError) -> TemplateRecord {
        guard Self.validTemplateName(name) else {
            throw .badRequest("template name must match [A-Za-z0-9][A-Za-z0-9._-]{0,62}")
        }
        guard let image = request.image, !image.isEmpty else { throw .badRequest("image is required") }
        try Validate.image(image)
        let memory = request.memoryMB ?? 512
        guard (16...settings.maxMemoryMB).contains(memory) else { throw .badRequest("memory_mb must be between 16 and \(settings.maxMemoryMB)") }
        let vcpus = request.vcpus ?? request.cpuCores ?? 1
        guard (1...settings.maxVCPUs).contains(vcpus) else { throw .badRequest("vcpus must be between 1 and \(settings.maxVCPUs)") }
        let ttlText: String
        if let ttl = request.ttl { ttlText = ttl }
        else if let seconds = request.ttlSeconds {
            // Client input: a huge value must be a 400, not an overflow trap.
            let (nanoseconds, overflow) = Int64(seconds).multipliedReportingOverflow(by: GoDuration.second)
            guard seconds > 0, !overflow else { throw .badRequest("ttl_seconds must be a positive number of seconds") }
            ttlText = GoDuration(nanoseconds: nanoseconds).description
        }
        else { ttlText = "30m" }
        guard let ttl = try positiveDuration(ttlText, field: "ttl") else { throw .badRequest("ttl is required") }
        if settings.maxTTL.nanoseconds > 0 && ttl > settings.maxTTL { throw .badRequest("ttl exceeds the maximum \(settings.maxTTL)") }
        let provider = request.provider ?? ""
        if !provider.isEmpty && !placement.knowsProvider(provider) { throw .badRequest("unknown provider '\(provider)'") }
        let metadata = request.metadata ?? [:]
        try Validate.metadata(metadata)
        let env = request.env ?? [:]
        try Validate.environment(env)
        let setup = request.setup ?? []
        guard setup.count <= 64, setup.allSatisfy({ !$0.isEmpty && $0.utf8.count <= 64 << 10 }) else {
            throw .badRequest("setup must be at most 64 non-empty commands")
        }
        let onDrain = request.onDrain ?? "expire"
        guard onDrain == "expire" || onDrain == "recreate" else { throw .badRequest("on_drain must be expire or recreate") }
        let tenant = request.tenantID ?? principal.tenantID
        if !tenant.isEmpty && tenant != principal.tenantID && !principal.isGlobalAdmin {
            throw APIError(status: 403, code: "FORBIDDEN", message: "tenant_id differs from the caller's tenant")
        }
        try requireTemplateWrite(tenant: tenant, principal: principal)
        return TemplateRecord(name: name, tenantID: tenant, image: image, ttl: ttlText, provider: provider,
                              memoryMB: memory, vcpus: vcpus, ttlMs: ttl.nanoseconds / 1_000_000,
                              metadataJSON: Self.json(metadata), envJSON: Self.json(env),
                              setupJSON: String(decoding: (try? JanssonEncoder().encode(setup)) ?? Array("[]".utf8), as: UTF8.self),
                              onDrain: onDrain, description: request.description ?? "")
    }

    public func createTemplate(_ request: TemplateRequest, principal: Principal) throws(APIError) -> Template {
        let record = try templateRecord(request, name: request.name ?? "", principal: principal)
        do {
            return Self.wire(try store.insertTemplate(record))
        } catch .conflict {
            throw APIError(status: 409, code: "CONFLICT", message: "template '\(record.name)' already exists")
        } catch {
            throw error.apiError
        }
    }

    public func replaceTemplate(_ name: String, _ request: TemplateRequest, principal: Principal) throws(APIError) -> Template {
        let existing = try visibleTemplate(name, principal: principal)
        try requireTemplateWrite(tenant: existing.tenantID, principal: principal)
        var body = request
        if body.tenantID == nil { body.tenantID = existing.tenantID }
        let record = try templateRecord(body, name: name, principal: principal)
        return Self.wire(try storeCall { try store.replaceTemplate(record) })
    }

    public func deleteTemplate(_ name: String, principal: Principal) throws(APIError) {
        let existing = try visibleTemplate(name, principal: principal)
        try requireTemplateWrite(tenant: existing.tenantID, principal: principal)
        _ = try storeCall { try store.deleteTemplate(name) }
    }

    public func getTemplate(_ name: String, principal: Principal) throws(APIError) -> Template {
        Self.wire(try visibleTemplate(name, principal: principal))
    }

    public func listTemplates(principal: Principal, limit: Int, after: String?) throws(APIError) -> [Template] {
        let tenants = principal.tenantID.isEmpty ? [""] : [principal.tenantID, ""]
        return try storeCall { try store.listTemplates(tenantIDs: tenants, limit: limit, afterName: after) }.map(Self.wire)
    }

    /// `POST /templates/{name}/spawn`: a spawn whose unset fields come from the template.
    public func spawnFromTemplate(_ name: String, _ request: TemplateSpawnRequest, principal: Principal) async throws(APIError) -> Sandbox {
        try await spawn(SpawnRequest(provider: request.provider, ttl: request.ttl, template: name, ownerID: request.ownerID,
                                     metadata: request.metadata), principal: principal)
    }

    static func wire(_ record: TemplateRecord) -> Template {
        let decoder = JanssonDecoder()
        return Template(
            name: record.name, image: record.image, memoryMB: record.memoryMB, vcpus: record.vcpus, ttl: record.ttl,
            provider: record.provider,
            metadata: (try? decoder.decode([String: String].self, from: Array(record.metadataJSON.utf8))) ?? [:],
            version: record.version, description: record.description,
            env: (try? decoder.decode([String: String].self, from: Array(record.envJSON.utf8))) ?? [:],
            setup: (try? decoder.decode([String].self, from: Array(record.setupJSON.utf8))) ?? [],
            onDrain: record.onDrain, tenantID: record.tenantID.isEmpty ? nil : record.tenantID,
            createdAt: Log.timestamp(unixMillis: record.createdAt), updatedAt: Log.timestamp(unixMillis: record.updatedAt))
    }
}
