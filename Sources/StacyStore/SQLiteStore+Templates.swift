// Templates (api.md §8.1). The table's nullable columns mean "unset": the record carries that as
// "" / 0, so those are written as NULL (NULLIF) and NULL, or a stray ""/0, reads back as "" / 0.
// A NULL tenant_id is a global template, the record's tenant "".
extension SQLiteStore {
    private static let templateColumns = """
    name, COALESCE(tenant_id, ''), COALESCE(image, ''), COALESCE(ttl, ''), COALESCE(provider, ''), version,
    COALESCE(memory_mb, 0), COALESCE(vcpus, 0), COALESCE(ttl_ms, 0), metadata, env, setup, COALESCE(on_drain, ''),
    description, created_at, updated_at
    """

    private static func template(_ row: SQLiteStatement) -> TemplateRecord {
        TemplateRecord(
            name: row.string(0), tenantID: row.string(1), image: row.string(2), ttl: row.string(3),
            provider: row.string(4), version: row.int(5), memoryMB: row.int(6), vcpus: row.int(7),
            ttlMs: row.int64(8), metadataJSON: row.string(9), envJSON: row.string(10), setupJSON: row.string(11),
            onDrain: row.string(12), description: row.string(13), createdAt: row.int64(14), updatedAt: row.int64(15))
    }

    /// The record's replaceable fields, in the order of the `?`s in insert and replace below.
    private static func templateValues(_ t: TemplateRecord) -> [SQLValue] {
        [
            .text(t.tenantID), .text(t.image), .text(t.ttl), .text(t.provider), .int(t.memoryMB), .int(t.vcpus),
            .int(t.ttlMs), .text(t.metadataJSON), .text(t.envJSON), .text(t.setupJSON), .text(t.onDrain),
            .text(t.description),
        ]
    }

    @discardableResult
    public func insertTemplate(_ template: TemplateRecord) throws(StoreError) -> TemplateRecord {
        let values: [SQLValue] = [.text(template.name), .int(template.version)] + Self.templateValues(template)
        // 'now' is fixed for one statement step, so created_at == updated_at.
        let stored = try write { connection throws(StoreError) in
            do throws(StoreError) {
                return try connection.queryFirst(
                    """
                    INSERT INTO templates
                        (name, version, tenant_id, image, ttl, provider, memory_mb, vcpus, ttl_ms, metadata, env, setup,
                         on_drain, description, created_at, updated_at)
                    VALUES (?, ?, NULLIF(?, ''), NULLIF(?, ''), NULLIF(?, ''), NULLIF(?, ''), NULLIF(?, 0), NULLIF(?, 0),
                            NULLIF(?, 0), ?, ?, ?, NULLIF(?, ''), ?, \(Self.nowSQL), \(Self.nowSQL))
                    RETURNING \(Self.templateColumns)
                    """, values, row: Self.template)
            } catch .conflict {
                throw .conflict("template \(template.name) already exists")
            }
        }
        guard let stored else { throw .internal("template insert returned no row") }
        return stored
    }

    public func getTemplate(_ name: String) throws(StoreError) -> TemplateRecord? {
        try read { connection throws(StoreError) in
            try connection.queryFirst(
                "SELECT \(Self.templateColumns) FROM templates WHERE name = ?", [.text(name)], row: Self.template)
        }
    }

    @discardableResult
    public func replaceTemplate(_ template: TemplateRecord) throws(StoreError) -> TemplateRecord {
        let values = Self.templateValues(template) + [.text(template.name)]
        // One statement: the version bump reads the row it writes, so concurrent replaces each add one.
        let stored = try write { connection throws(StoreError) in
            try connection.queryFirst(
                """
                UPDATE templates SET
                    tenant_id = NULLIF(?, ''), image = NULLIF(?, ''), ttl = NULLIF(?, ''), provider = NULLIF(?, ''),
                    memory_mb = NULLIF(?, 0), vcpus = NULLIF(?, 0), ttl_ms = NULLIF(?, 0), metadata = ?, env = ?,
                    setup = ?, on_drain = NULLIF(?, ''), description = ?, version = version + 1,
                    updated_at = \(Self.nowSQL)
                WHERE name = ?
                RETURNING \(Self.templateColumns)
                """, values, row: Self.template)
        }
        guard let stored else { throw .notFound }
        return stored
    }

    @discardableResult
    public func deleteTemplate(_ name: String) throws(StoreError) -> Bool {
        try write { connection throws(StoreError) in
            try connection.run("DELETE FROM templates WHERE name = ?", [.text(name)]) > 0
        }
    }

    public func listTemplates(tenantIDs: [String], limit: Int, afterName: String?) throws(StoreError) -> [TemplateRecord] {
        // Duplicates dropped (order kept) so the usual [tenant, ""] shapes stay few cached statements.
        var seen = Set<String>()
        let tenants = tenantIDs.filter { seen.insert($0).inserted }
        guard limit > 0, !tenants.isEmpty else { return [] }
        var values: [SQLValue] = tenants.map { .text($0) }
        var sql = "SELECT \(Self.templateColumns) FROM templates WHERE COALESCE(tenant_id, '') IN ("
            + Array(repeating: "?", count: tenants.count).joined(separator: ", ") + ")"
        if let afterName {
            sql += " AND name > ?"
            values.append(.text(afterName))
        }
        sql += " ORDER BY name LIMIT ?"
        values.append(.int(limit))
        let query = sql, bound = values
        return try read { connection throws(StoreError) in
            try connection.query(query, bound, row: Self.template)
        }
    }
}
