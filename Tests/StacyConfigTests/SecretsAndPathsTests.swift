import XCTest
@testable import StacyConfig

final class SecretsAndPathsTests: XCTestCase {
    func testSecretFileIsReadTrimmedAndResolvedAgainstFileDir() throws {
        let t = TempTree()
        t.write("work/secrets/api", "  s3cret-api-key\n\n")
        t.write("work/secrets/dsn", "postgres://u:p@db/x\n")
        let loaded = try XCTUnwrap(t.load("""
        auth:
          api_key_file: secrets/api
        database:
          driver: postgres
          dsn_file: ./secrets/dsn
        """))
        XCTAssertEqual(loaded.problems, [])
        XCTAssertEqual(loaded.config.value("auth.api_key"), .string("s3cret-api-key"))
        XCTAssertEqual(loaded.config.value("auth.api_key_file"), .string(t.work + "/secrets/api"))
        XCTAssertEqual(loaded.config.source("auth.api_key"), .file)
        XCTAssertEqual(loaded.config.database.dsn, "postgres://u:p@db/x")
    }

    func testSecretFileFromEnv() throws {
        let t = TempTree()
        let path = t.write("tok", "worker-token\n")
        let loaded = try XCTUnwrap(t.load(nil, env: ["STACYVM_AUTH_WORKER_TOKEN_FILE": path]))
        XCTAssertEqual(loaded.problems, [])
        XCTAssertEqual(loaded.config.value("auth.worker_token"), .string("worker-token"))
        XCTAssertEqual(loaded.config.source("auth.worker_token"), .env)
    }

    func testInlinePlusFileIsAProblem() throws {
        let t = TempTree()
        t.write("work/k", "x")
        let loaded = try XCTUnwrap(t.load("auth:\n  admin_api_key: inline\n  admin_api_key_file: k\n"))
        assertProblemKeys(loaded, ["auth.admin_api_key_file"])
        XCTAssertTrue(loaded.problems[0].message.contains("auth.admin_api_key,"), "\(loaded.problems)")
        // Across layers too: file inline, env file.
        let mixed = try XCTUnwrap(t.load("auth:\n  api_key: inline\n", env: ["STACYVM_AUTH_API_KEY_FILE": t.work + "/k"]))
        assertProblemKeys(mixed, ["auth.api_key_file"])
        // Inline plus hash.
        let hashed = try XCTUnwrap(t.load("auth:\n  api_key: a\n  api_key_sha256: \(String(repeating: "0", count: 64))\n"))
        assertProblemKeys(hashed, ["auth.api_key_sha256"])
    }

    func testEmptyOrUnreadableSecretFileIsAProblem() throws {
        let t = TempTree()
        t.write("work/empty", "  \n\t\n")
        let empty = try XCTUnwrap(t.load("database:\n  dsn_file: empty\n"))
        assertProblemKeys(empty, ["database.dsn_file"])
        XCTAssertTrue(empty.problems[0].message.contains("empty"))
        XCTAssertNil(empty.config.database.dsn)

        let missing = try XCTUnwrap(t.load("auth:\n  api_key_file: /nonexistent/key\n"))
        assertProblemKeys(missing, ["auth.api_key_file"])
        XCTAssertTrue(missing.problems[0].message.contains("cannot read"))
    }

    func testRelativePathsResolveAgainstConfigFileDirectory() throws {
        let t = TempTree()
        let path = t.write("etc/stacyvm/config.yaml", """
        server:
          data_dir: data
          tls:
            cert_file: ../tls/cert.pem
            key_file: /abs/key.pem
        database:
          path: db/stacyvm.db
        providers:
          namespace:
            images:
              py: images/py
        """)
        let c = try Config.load(t.options(explicit: path)).config
        let dir = t.root + "/etc/stacyvm"
        XCTAssertEqual(c.server.dataDir, dir + "/data")
        XCTAssertEqual(c.database.path, dir + "/db/stacyvm.db")
        XCTAssertEqual(c.server.tlsCertFile, t.root + "/etc/tls/cert.pem")
        XCTAssertEqual(c.server.tlsKeyFile, "/abs/key.pem")
        XCTAssertEqual(c.value("providers.namespace.images"), .map(["py": dir + "/images/py"]))
        // Derived defaults follow the configured data_dir.
        XCTAssertEqual(c.value("providers.namespace.image_dir"), .string(dir + "/data/images"))
        XCTAssertEqual(c.value("auth.control_plane_signing_key_file"), .string(dir + "/data/control-plane.ed25519"))
    }

    func testDefaultDatabasePathFollowsDataDir() throws {
        let t = TempTree()
        let c = try XCTUnwrap(t.load("server:\n  data_dir: /srv/stacyvm\n")).config
        XCTAssertEqual(c.database.path, "/srv/stacyvm/stacyvm.db")
        XCTAssertEqual(c.source("database.path"), .default)
    }

    func testRelativePathsWithoutFileUseWorkingDirectory() throws {
        let t = TempTree()
        let c = try Config.load(t.options(env: ["STACYVM_SERVER_DATA_DIR": "state", "STACYVM_DATABASE_PATH": "x/../my.db"],
                                          flags: ["providers.mock.root_dir": "~/mock"])).config
        XCTAssertEqual(c.server.dataDir, t.work + "/state")
        XCTAssertEqual(c.database.path, t.work + "/my.db")
        XCTAssertEqual(c.value("providers.mock.root_dir"), .string(t.home + "/mock"))
    }

    func testEnvPathsResolveAgainstWorkingDirectoryEvenWithAFile() throws {
        let t = TempTree()
        let path = t.write("etc/c.yaml", "server:\n  data_dir: fromfile\n")
        let c = try Config.load(t.options(explicit: path, env: ["STACYVM_DATABASE_PATH": "env.db"])).config
        XCTAssertEqual(c.server.dataDir, t.root + "/etc/fromfile")
        XCTAssertEqual(c.database.path, t.work + "/env.db")
    }

    func testEmptyPathIsAProblemNotTheBaseDirectory() throws {
        let t = TempTree()
        let loaded = try XCTUnwrap(t.load("server:\n  data_dir: \"\"\n"))
        assertProblemKeys(loaded, ["server.data_dir"])
        XCTAssertEqual(loaded.config.server.dataDir, t.home + "/.stacyvm")
        XCTAssertEqual(t.load("database:\n  path: \":memory:\"\n")?.config.database.path, ":memory:")
    }

    func testNormalizePath() {
        XCTAssertEqual(normalizePath("/a/./b/../c//d/"), "/a/c/d")
        XCTAssertEqual(normalizePath("/../x"), "/x")
        XCTAssertEqual(normalizePath("/"), "/")
    }
}
