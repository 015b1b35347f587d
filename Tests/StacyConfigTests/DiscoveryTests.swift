import XCTest
@testable import StacyConfig

final class DiscoveryTests: XCTestCase {
    func testNoFileUsesDefaults() throws {
        let t = TempTree()
        let loaded = try Config.load(t.options())
        XCTAssertNil(loaded.filePath)
        XCTAssertEqual(loaded.problems, [])
        XCTAssertEqual(loaded.warnings, [])
        let c = loaded.config
        XCTAssertEqual(c.server.host, "127.0.0.1")
        XCTAssertEqual(c.server.port, 7423)
        XCTAssertEqual(c.server.dataDir, t.home + "/.stacyvm")
        XCTAssertNil(c.server.instanceID)
        XCTAssertEqual(c.server.shutdownTimeout, .seconds(10))
        XCTAssertEqual(c.server.idleTimeout, .seconds(30))
        XCTAssertEqual(c.server.maxConnections, 1024)
        XCTAssertEqual(c.server.previewDomain, "localhost")
        XCTAssertEqual(c.server.corsAllowedOrigins, [])
        XCTAssertEqual(c.server.trustedProxies, [])
        XCTAssertEqual(c.database.driver, "sqlite")
        XCTAssertEqual(c.database.path, t.home + "/.stacyvm/stacyvm.db")
        XCTAssertNil(c.database.dsn)
        XCTAssertEqual(c.database.maxOpenConns, 10)
        XCTAssertTrue(c.database.autoMigrate)
        XCTAssertEqual(c.limits.maxJSONBodyBytes, 1 << 20)
        XCTAssertEqual(c.limits.maxFileBytes, 64 << 20)
        XCTAssertEqual(c.logging.level, "info")
        XCTAssertEqual(c.logging.format, "json")
        XCTAssertEqual(c.value("defaults.ttl"), .duration(.minutes(30)))
        XCTAssertEqual(c.value("auth.admin_audit_retention"), .duration(.hours(2160)))
        XCTAssertEqual(c.value("providers.namespace.writable_paths"), .list(["/workspace", "/tmp", "/root", "/home", "/app"]))
        XCTAssertEqual(c.value("providers.namespace.image_dir"), .string(t.home + "/.stacyvm/images"))
        XCTAssertEqual(c.value("server.local_worker.capacity.vcpu_overcommit"), .double(8))
        XCTAssertNil(c.value("auth.api_key"))
        XCTAssertNil(c.value("no.such.key"))
        XCTAssertEqual(c.source("server.port"), .default)
    }

    func testRootDataDirDefault() throws {
        let t = TempTree()
        let c = try Config.load(t.options(isRoot: true)).config
        XCTAssertEqual(c.server.dataDir, "/var/lib/stacyvm")
        XCTAssertEqual(c.database.path, "/var/lib/stacyvm/stacyvm.db")
    }

    func testDiscoveryOrder() throws {
        let t = TempTree()
        let homeFile = t.write("home/.stacyvm/config.yaml", "server:\n  port: 1001\n")
        XCTAssertEqual(try Config.load(t.options()).filePath, homeFile)
        XCTAssertEqual(try Config.load(t.options()).config.server.port, 1001)

        let cwdFile = t.write("work/stacyvm.yaml", "server:\n  port: 1002\n")
        XCTAssertEqual(try Config.load(t.options()).filePath, cwdFile)
        XCTAssertEqual(try Config.load(t.options()).config.server.port, 1002)

        let envFile = t.write("env.yaml", "server:\n  port: 1003\n")
        let viaEnv = try Config.load(t.options(env: ["STACYVM_CONFIG": envFile]))
        XCTAssertEqual(viaEnv.filePath, envFile)
        XCTAssertEqual(viaEnv.config.server.port, 1003)
        XCTAssertEqual(viaEnv.warnings, []) // STACYVM_CONFIG is not an unknown override

        let flagFile = t.write("flag.yaml", "server:\n  port: 1004\n")
        let viaFlag = try Config.load(t.options(explicit: flagFile, env: ["STACYVM_CONFIG": envFile]))
        XCTAssertEqual(viaFlag.filePath, flagFile)
        XCTAssertEqual(viaFlag.config.server.port, 1004)
    }

    func testExplicitRelativePathResolvesAgainstWorkingDirectory() throws {
        let t = TempTree()
        let file = t.write("work/conf/x.yaml", "server:\n  port: 1005\n")
        let loaded = try Config.load(t.options(explicit: "conf/x.yaml"))
        XCTAssertEqual(loaded.filePath, file)
        XCTAssertEqual(loaded.config.server.port, 1005)
    }

    func testExplicitMissingFileThrows() {
        let t = TempTree()
        t.write("work/stacyvm.yaml", "server:\n  port: 1\n") // must not be used as a fallback
        XCTAssertThrowsError(try Config.load(t.options(explicit: t.root + "/nope.yaml"))) { error in
            XCTAssertTrue("\(error)".contains("does not exist"), "\(error)")
        }
        XCTAssertThrowsError(try Config.load(t.options(env: ["STACYVM_CONFIG": t.root + "/nope.yaml"]))) { error in
            XCTAssertTrue("\(error)".contains("STACYVM_CONFIG"), "\(error)")
        }
        XCTAssertThrowsError(try Config.load(t.options(explicit: t.work))) // a directory
    }

    func testUnparseableFilesThrow() {
        let t = TempTree()
        let bad = t.write("bad.yaml", "server: [1, 2\n")
        XCTAssertThrowsError(try Config.load(t.options(explicit: bad)))
        let dup = t.write("dup.yaml", "server:\n  port: 1\n  port: 2\n")
        XCTAssertThrowsError(try Config.load(t.options(explicit: dup)))
        // YAML in a .json file: the name decides the format.
        let yamlInJSON = t.write("c.json", "server:\n  port: 1\n")
        XCTAssertThrowsError(try Config.load(t.options(explicit: yamlInJSON))) { error in
            XCTAssertTrue("\(error)".contains("JSON"), "\(error)")
        }
    }

    func testJSONFile() throws {
        let t = TempTree()
        let path = t.write("c.json", #"{"server":{"port":8080,"cors_allowed_origins":["https://a.example"]},"database":{"auto_migrate":false},"logging":{"level":"debug"}}"#)
        let loaded = try Config.load(t.options(explicit: path))
        XCTAssertEqual(loaded.problems, [])
        XCTAssertEqual(loaded.config.server.port, 8080)
        XCTAssertEqual(loaded.config.server.corsAllowedOrigins, ["https://a.example"])
        XCTAssertFalse(loaded.config.database.autoMigrate)
        XCTAssertEqual(loaded.config.logging.level, "debug")
        XCTAssertEqual(loaded.config.source("server.port"), .file)
    }

    func testEmptyFileAndEmptySections() throws {
        let t = TempTree()
        XCTAssertEqual(t.load("")?.problems, [])
        XCTAssertEqual(t.load("server:\nauth:\n")?.problems, [])
        // A null value leaves the default in force.
        XCTAssertEqual(t.load("server:\n  port:\n")?.config.server.port, 7423)
        assertProblemKeys(t.load("- a\n- b\n"), ["config"])
        assertProblemKeys(t.load("server: 5\n"), ["server"])
    }
}
