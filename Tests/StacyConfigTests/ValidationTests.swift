import XCTest
@testable import StacyConfig

final class ValidationTests: XCTestCase {
    private let t = TempTree()
    private let hash = String(repeating: "ab", count: 32)

    /// Asserts that `yaml` yields a problem at `key` (and only there).
    private func assertProblem(_ yaml: String, _ key: String, contains text: String? = nil,
                               file: StaticString = #filePath, line: UInt = #line) {
        guard let loaded = t.load(yaml, file: file, line: line) else { return }
        assertProblemKeys(loaded, [key], file: file, line: line)
        if let text, let p = loaded.problem(key) {
            XCTAssertTrue(p.message.contains(text), "\(p)", file: file, line: line)
        }
    }

    private func assertValid(_ yaml: String, file: StaticString = #filePath, line: UInt = #line) {
        guard let loaded = t.load(yaml, file: file, line: line) else { return }
        XCTAssertEqual(loaded.problems, [], file: file, line: line)
    }

    func testPortRangeAndType() {
        assertProblem("server:\n  port: -1\n", "server.port", contains: "between 0 and 65535")
        assertValid("server:\n  port: 0\n")
        assertProblem("server:\n  port: 70000\n", "server.port")
        assertProblem("server:\n  port: \"abc\"\n", "server.port", contains: "integer")
        assertProblem("server:\n  port: 80.5\n", "server.port")
        assertProblem("server:\n  port: [1]\n", "server.port")
        assertValid("server:\n  port: 65535\n")
        assertValid("server:\n  port: \"8080\"\n")
    }

    func testDurations() {
        assertProblem("server:\n  shutdown_timeout: 10\n", "server.shutdown_timeout", contains: "missing unit")
        assertProblem("server:\n  shutdown_timeout: -1s\n", "server.shutdown_timeout", contains: "negative")
        assertProblem("server:\n  idle_timeout: 0s\n", "server.idle_timeout", contains: "positive")
        assertProblem("defaults:\n  ttl: forever\n", "defaults.ttl")
        assertValid("server:\n  shutdown_timeout: 0\n  idle_timeout: 1m30s\ndefaults:\n  max_ttl: 0\n  ttl: 48h\n")
        XCTAssertEqual(t.load("server:\n  shutdown_timeout: 1m30s\n")?.config.server.shutdownTimeout, .seconds(90))
    }

    func testEnumerations() {
        assertProblem("logging:\n  level: verbose\n", "logging.level", contains: "debug, info, warn, error")
        assertProblem("logging:\n  format: xml\n", "logging.format")
        assertProblem("database:\n  driver: mysql\n", "database.driver")
        assertProblem("defaults:\n  spawn_overflow: maybe\n", "defaults.spawn_overflow")
        assertProblem("rate_limit:\n  key_by: x\n", "rate_limit.key_by")
        assertProblem("providers:\n  default: docker\n", "providers.default")
        assertProblem("auth:\n  api_key_role: root\n", "auth.api_key_role")
        assertValid("logging:\n  level: error\n  format: text\nrate_limit:\n  key_by: ip\ndefaults:\n  spawn_overflow: queue\n")
    }

    func testBooleans() {
        assertProblem("rate_limit:\n  enabled: maybe\n", "rate_limit.enabled", contains: "boolean")
        XCTAssertEqual(t.load("rate_limit:\n  enabled: true\n")?.config.value("rate_limit.enabled"), .bool(true))
    }

    /// workers.md §1–2: a worker's own keys and the control plane's worker settings.
    func testWorkerKeys() {
        assertValid("""
        worker:
          id: worker-a
          control_plane_url: https://cp.example.com:7423/
          listen_addr: 10.0.0.5:7430
          heartbeat_interval: 1s
          labels: {zone: a}
          capacity: {max_sandboxes: 10, vcpu_overcommit: 2.5}
        workers:
          stale_after_intervals: 2
          lost_after_intervals: 4
          orphan_policy: ignore
        """)
        assertProblem("worker:\n  id: local-2\n", "worker.id", contains: "embedded")
        assertProblem("worker:\n  id: \"has space\"\n", "worker.id", contains: "invalid worker ID")
        assertProblem("worker:\n  control_plane_url: http://cp:7423/api/v1\n", "worker.control_plane_url", contains: "no path")
        assertProblem("worker:\n  control_plane_url: cp:7423\n", "worker.control_plane_url")
        assertProblem("worker:\n  heartbeat_interval: 500ms\n", "worker.heartbeat_interval", contains: "between 1s and 5m0s")
        assertProblem("worker:\n  heartbeat_interval: 6m\n", "worker.heartbeat_interval")
        assertProblem("worker:\n  listen_addr: 7430\n", "worker.listen_addr", contains: "host:port")
        assertValid("worker:\n  listen_addr: 127.0.0.1:0\n")
        // Listening on every interface needs a URL others can dial, and that URL can't be a wildcard.
        assertProblem("worker:\n  listen_addr: 0.0.0.0:7430\n", "worker.advertise_url", contains: "every interface")
        assertProblem("worker:\n  listen_addr: :7430\n", "worker.advertise_url")
        assertValid("worker:\n  listen_addr: 0.0.0.0:7430\n  advertise_url: http://10.0.0.5:7430\n")
        assertProblem("worker:\n  listen_addr: 0.0.0.0:7430\n  advertise_url: http://0.0.0.0:7430\n", "worker.advertise_url",
                      contains: "wildcard")
        assertProblem("workers:\n  stale_after_intervals: 5\n  lost_after_intervals: 5\n", "workers.lost_after_intervals",
                      contains: "greater than")
        assertProblem("workers:\n  orphan_policy: adopt\n", "workers.orphan_policy")
        assertProblem("worker:\n  rpc_tls:\n    enabled: true\n    server_cert_file: c.pem\n", "worker.rpc_tls.server_key_file")
        XCTAssertEqual(t.load("")?.config.value("worker.heartbeat_interval")?.durationValue, .seconds(10))
        XCTAssertEqual(t.load("")?.config.value("worker.state_dir")?.stringValue, t.home + "/.stacyvm/worker")
    }

    func testPostgresNeedsDSN() {
        assertProblem("database:\n  driver: postgres\n", "database.dsn", contains: "postgres")
        let ok = t.load("database:\n  driver: postgres\n  dsn: postgres://u:p@db/stacyvm\n")
        XCTAssertEqual(ok?.problems, [])
        XCTAssertEqual(ok?.config.database.dsn, "postgres://u:p@db/stacyvm")
    }

    func testLimits() {
        assertProblem("limits:\n  max_json_body_bytes: 0\n", "limits.max_json_body_bytes")
        assertProblem("limits:\n  max_file_bytes: -5\n", "limits.max_file_bytes")
        assertProblem("database:\n  max_open_conns: 0\n", "database.max_open_conns")
        XCTAssertEqual(t.load("limits:\n  max_file_bytes: 1024\n")?.config.limits.maxFileBytes, 1024)
    }

    func testCORS() {
        assertProblem("server:\n  cors_allowed_origins: [\"*\"]\n", "server.cors_allowed_origins", contains: "auth")
        assertValid("server:\n  cors_allowed_origins: [\"*\"]\nauth:\n  api_key: secret-key\n")
        assertValid("server:\n  cors_allowed_origins: [\"*\"]\nauth:\n  admin_api_key_sha256: \(hash)\n")
        assertValid("server:\n  cors_allowed_origins: [\"*\"]\nauth:\n  api_keys: [{sha256: \(hash), role: api}]\n")
        assertValid("server:\n  cors_allowed_origins: [\"https://app.example.com\", \"http://localhost:3000\", \"http://[::1]:8080\"]\n")
        for bad in ["app.example.com", "https://app.example.com/", "https://app.example.com/path", "ftp://x.example",
                    "https://", "https://a.example:99999", "https://user@a.example", "https://bad_host.example"] {
            assertProblem("server:\n  cors_allowed_origins: [\"\(bad)\"]\n", "server.cors_allowed_origins", contains: "origin")
        }
        assertProblem("server:\n  cors_allowed_origins: https://a.example\n", "server.cors_allowed_origins", contains: "list")
    }

    func testTrustedProxies() {
        assertValid("server:\n  trusted_proxies: [10.0.0.0/8, 192.168.0.1, \"fd00::/8\", \"::1\", 0.0.0.0/0]\n")
        for bad in ["10.0.0.0/33", "10.0.0/8", "300.1.1.1/32", "fd00::/129", "10.0.0.0/", "10.0.0.0/8/8", "localhost",
                    "10.0.0.0/-1"] {
            assertProblem("server:\n  trusted_proxies: [\"\(bad)\"]\n", "server.trusted_proxies", contains: "CIDR")
        }
    }

    func testHostsDomainsAndURLs() {
        assertProblem("server:\n  host: \"bad host\"\n", "server.host")
        assertValid("server:\n  host: \"::\"\n")
        assertValid("server:\n  preview_domain: preview.example.com:8443\n")
        assertProblem("server:\n  preview_domain: \"preview.example.com:http\"\n", "server.preview_domain")
        assertProblem("server:\n  preview_domain: \"*.example.com\"\n", "server.preview_domain")
        assertProblem("auth:\n  oidc_issuer: not-a-url\n", "auth.oidc_issuer", contains: "URL")
        assertProblem("auth:\n  oidc_jwks_url: \"ftp://idp.example.com/keys\"\n", "auth.oidc_jwks_url")
        assertValid("auth:\n  oidc_issuer: https://idp.example.com/realms/x\n")
    }

    func testOIDCRequirements() throws {
        let loaded = try XCTUnwrap(t.load("auth:\n  oidc_enabled: true\n"))
        assertProblemKeys(loaded, ["auth.oidc_issuer", "auth.oidc_jwks_url"])
        assertValid("auth:\n  oidc_enabled: true\n  oidc_issuer: https://idp.example\n  oidc_jwks_url: https://idp.example/jwks\n")
    }

    func testAuthEnabledNeedsACredential() {
        assertProblem("auth:\n  enabled: true\n", "auth.enabled")
        assertValid("auth:\n  enabled: true\n  api_key: k\n")
    }

    func testSHA256AndAPIKeyRecords() {
        assertProblem("auth:\n  api_key_sha256: abc\n", "auth.api_key_sha256", contains: "64")
        assertProblem("auth:\n  admin_api_key_sha256: \(String(repeating: "g", count: 64))\n", "auth.admin_api_key_sha256")
        assertValid("auth:\n  api_key_sha256: \(hash.uppercased())\n")
        assertProblem("auth:\n  api_keys: [{sha256: abc, role: api}]\n", "auth.api_keys")
        assertProblem("auth:\n  api_keys: [{sha256: \(hash), role: boss}]\n", "auth.api_keys", contains: "role")
        assertProblem("auth:\n  api_keys: [{sha256: \(hash), role: api, colour: red}]\n", "auth.api_keys", contains: "colour")
        let ok = t.load("auth:\n  api_keys:\n    - sha256: \(hash)\n      role: viewer\n      tenant_id: t1\n")
        XCTAssertEqual(ok?.problems, [])
        XCTAssertEqual(ok?.config.value("auth.api_keys"), .records([["sha256": hash, "role": "viewer", "tenant_id": "t1"]]))
    }

    func testOtherRules() {
        assertProblem("server:\n  local_worker:\n    id: worker-a\n", "server.local_worker.id")
        assertValid("server:\n  local_worker:\n    id: local-cp2\n")
        assertProblem("providers:\n  namespace:\n    writable_paths: [workspace]\n", "providers.namespace.writable_paths")
        assertProblem("providers:\n  namespace:\n    cgroup_root: sys/fs\n", "providers.namespace.cgroup_root")
        assertProblem("providers:\n  namespace:\n    network: host\n", "providers.namespace.network", contains: "allowed_networks")
        assertValid("providers:\n  namespace:\n    network: host\n    allowed_networks: [none, host]\n")
        assertProblem("providers:\n  namespace:\n    allowed_networks: [bridge]\n", "providers.namespace.allowed_networks")
        assertProblem("server:\n  preview_denied_ports: [22, 0]\n", "server.preview_denied_ports")
        assertProblem("defaults:\n  ttl: 48h\n", "defaults.ttl", contains: "max_ttl")
        assertProblem("defaults:\n  default_exec_timeout: 1h\n", "defaults.default_exec_timeout")
        assertProblem("defaults:\n  memory_mb: 100000\n", "defaults.memory_mb")
        assertProblem("server:\n  tls:\n    cert_file: /c.pem\n", "server.tls.key_file")
        assertProblem("server:\n  local_worker:\n    capacity:\n      vcpu_overcommit: 0\n",
                      "server.local_worker.capacity.vcpu_overcommit")
        assertProblem("providers:\n  namespace:\n    images: [a, b]\n", "providers.namespace.images", contains: "map")
        assertProblem("server:\n  instance_id: \"cp 1\"\n", "server.instance_id")
    }

    func testAllProblemsAreCollected() throws {
        let yaml = """
        server:
          port: 70000
          shutdown_timeout: 10
          cors_allowed_origins: ["*"]
          trusted_proxies: [nope]
          bogus: 1
        logging:
          level: verbose
          format: xml
        database:
          driver: mysql
        limits:
          max_json_body_bytes: 0
        defaults:
          spawn_overflow: maybe
        rate_limit:
          key_by: x
        """
        let loaded = try XCTUnwrap(t.load(yaml))
        assertProblemKeys(loaded, ["server.port", "server.shutdown_timeout", "server.cors_allowed_origins",
                                   "server.trusted_proxies", "server.bogus", "logging.level", "logging.format",
                                   "database.driver", "limits.max_json_body_bytes", "defaults.spawn_overflow",
                                   "rate_limit.key_by"])
        // Rejected values fall back to defaults.
        XCTAssertEqual(loaded.config.server.port, 7423)
        XCTAssertEqual(loaded.config.logging.level, "info")
    }

    func testEveryDefaultIsValidAndTyped() throws {
        let loaded = try Config.load(t.options())
        XCTAssertEqual(loaded.problems, [])
        for entry in KeyTable.all {
            guard let value = loaded.config.value(entry.key) else { continue }
            let matches: Bool
            switch (entry.type, value) {
            case (.string, .string), (.int, .int), (.double, .double), (.bool, .bool), (.duration, .duration),
                 (.stringList, .list), (.intList, .intList), (.stringMap, .map), (.records, .records):
                matches = true
            default:
                matches = false
            }
            XCTAssertTrue(matches, "\(entry.key): \(value) is not \(entry.type)")
        }
    }

    func testTableHasTheWorkerNamespacesAndGeneratedVariants() {
        for key in ["workers.lost_after_intervals", "leases.grace", "scheduler.max_attempts", "worker.id",
                    "worker.capacity.vcpu_overcommit", "auth.control_plane_public_key_file"] {
            XCTAssertNotNil(KeyTable.byKey[key], key)
        }
        XCTAssertTrue(KeyTable.byKey["workers.default_drain_deadline"]!.tunable)
        XCTAssertNotNil(KeyTable.byKey["database.dsn_file"])
        XCTAssertNotNil(KeyTable.byKey["auth.api_key_file"])
        XCTAssertNotNil(KeyTable.byKey["auth.admin_api_key_sha256"])
        XCTAssertNotNil(KeyTable.byKey["auth.worker_token_file"])
        XCTAssertNotNil(KeyTable.byKey["auth.oidc_public_key_file"])
        XCTAssertTrue(KeyTable.byKey["defaults.ttl"]!.tunable)
        XCTAssertFalse(KeyTable.byKey["defaults.reaper_interval"]!.tunable)
    }
}
