import XCTest
@testable import StacyConfig

final class OverrideTests: XCTestCase {
    func testEnvOverridesMatchTheKeyTable() throws {
        let t = TempTree()
        let loaded = try XCTUnwrap(t.load(nil, env: [
            "STACYVM_SERVER_PORT": "17423",
            "STACYVM_SERVER_SHUTDOWN_TIMEOUT": "45s",            // multi-word key
            "STACYVM_DEFAULTS_MAX_SANDBOXES_PER_OWNER": "3",     // several underscores
            "STACYVM_SERVER_LOCAL_WORKER_CAPACITY_MEMORY_MB": "2048",
            "STACYVM_SERVER_TLS_CERT_FILE": "/etc/c.pem",
            "STACYVM_SERVER_TLS_KEY_FILE": "/etc/k.pem",
            "STACYVM_SERVER_TRUSTED_PROXIES": "10.0.0.0/8, 192.168.1.1 ,,fd00::/8",
            "STACYVM_SERVER_PREVIEW_DENIED_PORTS": "22,2375",
            "STACYVM_PROVIDERS_NAMESPACE_IMAGES": #"{"py":"/srv/py","alpine:3":"/srv/alpine"}"#,
            "STACYVM_DATABASE_AUTO_MIGRATE": "false",
            "STACYVM_LOGGING_LEVEL": "warn",
        ]))
        XCTAssertEqual(loaded.problems, [])
        XCTAssertEqual(loaded.warnings, [])
        let c = loaded.config
        XCTAssertEqual(c.server.port, 17423)
        XCTAssertEqual(c.server.shutdownTimeout, .seconds(45))
        XCTAssertEqual(c.value("defaults.max_sandboxes_per_owner"), .int(3))
        XCTAssertEqual(c.value("server.local_worker.capacity.memory_mb"), .int(2048))
        XCTAssertEqual(c.server.tlsCertFile, "/etc/c.pem")
        XCTAssertEqual(c.server.trustedProxies, ["10.0.0.0/8", "192.168.1.1", "fd00::/8"])
        XCTAssertEqual(c.server.previewDeniedPorts, [22, 2375])
        XCTAssertEqual(c.value("providers.namespace.images"), .map(["py": "/srv/py", "alpine:3": "/srv/alpine"]))
        XCTAssertFalse(c.database.autoMigrate)
        XCTAssertEqual(c.logging.level, "warn")
        XCTAssertEqual(c.source("server.shutdown_timeout"), .env)
        XCTAssertEqual(c.source("server.host"), .default)
    }

    func testEnvNamesAreUniqueAndDerivedFromKeys() {
        XCTAssertEqual(KeyTable.byEnvName.count, KeyTable.all.count)
        XCTAssertEqual(KeyTable.byEnvName["STACYVM_SERVER_SHUTDOWN_TIMEOUT"], "server.shutdown_timeout")
        XCTAssertEqual(KeyTable.byEnvName["STACYVM_AUTH_ADMIN_API_KEY"], "auth.admin_api_key")
        XCTAssertEqual(KeyTable.byEnvName["STACYVM_DATABASE_DSN_FILE"], "database.dsn_file")
        XCTAssertNil(KeyTable.byEnvName["STACYVM_SERVER_SHUTDOWN"])
    }

    func testEnvEmptyListAndBadValues() throws {
        let t = TempTree()
        let yaml = "server:\n  trusted_proxies: [10.0.0.0/8]\n"
        let cleared = try XCTUnwrap(t.load(yaml, env: ["STACYVM_SERVER_TRUSTED_PROXIES": ""]))
        XCTAssertEqual(cleared.config.server.trustedProxies, [])

        let bad = try XCTUnwrap(t.load(nil, env: [
            "STACYVM_SERVER_PORT": "abc",
            "STACYVM_PROVIDERS_NAMESPACE_IMAGES": "py=/srv/py",
            "STACYVM_DATABASE_AUTO_MIGRATE": "maybe",
            "STACYVM_SERVER_PREVIEW_DENIED_PORTS": "22,ssh",
        ]))
        assertProblemKeys(bad, ["server.port", "providers.namespace.images", "database.auto_migrate",
                                "server.preview_denied_ports"])
        XCTAssertTrue(bad.problem("server.port")!.message.contains("environment"))
        XCTAssertEqual(bad.config.server.port, 7423) // rejected → default
    }

    func testUnknownEnvVarsWarnButClientVarsAreSilent() throws {
        let t = TempTree()
        let loaded = try XCTUnwrap(t.load(nil, env: [
            "STACYVM_SERVER_PROT": "1",
            "STACYVM_SERVER": "http://x:7423",
            "STACYVM_API_KEY": "k",
            "STACYVM_ADMIN_API_KEY": "k",
            "STACYVM_USER_ID": "u",
            "STACYVM_TENANT_ID": "t",
            "STACYVM_TESTING": "1",
            "OTHER_VAR": "x",
        ]))
        XCTAssertEqual(loaded.problems, [])
        XCTAssertEqual(loaded.warnings.map(\.key), ["STACYVM_SERVER_PROT"])
    }

    func testPrecedenceDefaultsFileEnvFlags() throws {
        let t = TempTree()
        let yaml = """
        server:
          port: 1111
          host: 0.0.0.0
          max_connections: 50
        logging:
          level: debug
        """
        let loaded = try XCTUnwrap(t.load(yaml, env: ["STACYVM_SERVER_PORT": "2222", "STACYVM_SERVER_MAX_CONNECTIONS": "60"],
                                          flags: ["server.port": "3333"]))
        XCTAssertEqual(loaded.problems, [])
        let c = loaded.config
        XCTAssertEqual(c.server.port, 3333)
        XCTAssertEqual(c.source("server.port"), .flag)
        XCTAssertEqual(c.server.maxConnections, 60)
        XCTAssertEqual(c.source("server.max_connections"), .env)
        XCTAssertEqual(c.server.host, "0.0.0.0")
        XCTAssertEqual(c.source("server.host"), .file)
        XCTAssertEqual(c.logging.format, "json")
        XCTAssertEqual(c.source("logging.format"), .default)
    }

    func testUnknownFlagKeyIsAProblem() throws {
        let t = TempTree()
        assertProblemKeys(t.load(nil, flags: ["server.bogus": "1"]), ["server.bogus"])
        assertProblemKeys(t.load(nil, flags: ["server.port": "-5"]), ["server.port"])
    }

    func testUnknownKeysAreProblemsUnsupportedKeysWarn() throws {
        let t = TempTree()
        let yaml = """
        server:
          bogus: 1
          tls:
            nope: x
        nonsense:
          a: 1
        firecracker:
          kernel: /boot/vmlinux
        pool:
          size: 3
        providers:
          proot:
            enabled: true
          docker:
            pool_security: strict
            host: unix:///var/run/docker.sock
          e2b:
            api_key: x
          custom:
            url: http://x
        defaults:
          pool_size: 5
          pool_min: 1
          image: alpine:3
        """
        let loaded = try XCTUnwrap(t.load(yaml))
        assertProblemKeys(loaded, ["server.bogus", "server.tls.nope", "nonsense"])
        XCTAssertEqual(loaded.problem("server.bogus")?.description, "server.bogus: unknown key")
        XCTAssertEqual(Set(loaded.warnings.map(\.key)),
                       ["firecracker", "pool", "providers.proot", "providers.docker", "providers.e2b",
                        "providers.custom", "defaults.pool_size", "defaults.pool_min"])
        XCTAssertTrue(loaded.warnings.allSatisfy { $0.message == "unsupported in this version, ignored" })
        XCTAssertEqual(loaded.config.value("defaults.image"), .string("alpine:3"))
    }

    func testEnvRecordsAndFlagLists() throws {
        let t = TempTree()
        let hash = String(repeating: "0f", count: 32)
        let loaded = try XCTUnwrap(t.load(nil, env: [
            "STACYVM_AUTH_API_KEYS": #"[{"sha256":"\#(hash)","role":"operator","owner_id":"alice"}]"#,
        ], flags: ["server.cors_allowed_origins": "https://a.example,https://b.example:8443", "auth.enabled": "true"]))
        XCTAssertEqual(loaded.problems, [])
        XCTAssertEqual(loaded.config.value("auth.api_keys"),
                       .records([["sha256": hash, "role": "operator", "owner_id": "alice"]]))
        XCTAssertEqual(loaded.config.server.corsAllowedOrigins, ["https://a.example", "https://b.example:8443"])
        XCTAssertEqual(loaded.config.source("auth.enabled"), .flag)

        let bad = try XCTUnwrap(t.load(nil, env: ["STACYVM_AUTH_API_KEYS": #"{"sha256":"x"}"#]))
        assertProblemKeys(bad, ["auth.api_keys"])
    }
}
