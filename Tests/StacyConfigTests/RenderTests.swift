import XCTest
import Yams
@testable import StacyConfig

final class RenderTests: XCTestCase {
    private func loaded(_ t: TempTree) throws -> LoadedConfig {
        let dsn = t.write("dsn", "postgres://user:pw@db/stacy\n")
        return try XCTUnwrap(t.load("""
        server:
          port: 8080
          cors_allowed_origins: ["https://a.example"]
        auth:
          api_key: plain-api-key
          admin_api_key: plain-admin-key
        database:
          driver: postgres
          dsn_file: \(dsn)
        providers:
          namespace:
            images:
              "python:3.12": /srv/py
        """, env: ["STACYVM_LOGGING_LEVEL": "debug"], flags: ["server.host": "0.0.0.0"]))
    }

    func testYAMLRedactsSecretsAndParsesBack() throws {
        let t = TempTree()
        let l = try loaded(t)
        XCTAssertEqual(l.problems, [])
        let yaml = l.render(json: false, showSecrets: false, sources: false)
        XCTAssertFalse(yaml.contains("plain-api-key"), yaml)
        XCTAssertFalse(yaml.contains("plain-admin-key"), yaml)
        XCTAssertFalse(yaml.contains("pw@db"), yaml)
        XCTAssertTrue(yaml.contains("  api_key: \"***\"\n"), yaml)
        XCTAssertTrue(yaml.contains("server:\n  host: \"0.0.0.0\"\n  port: 8080\n"), yaml)
        XCTAssertTrue(yaml.contains("  shutdown_timeout: 10s\n"), yaml)
        XCTAssertTrue(yaml.contains("  cors_allowed_origins:\n    - https://a.example\n"), yaml)

        // The output is valid YAML with the same values.
        let tree = try XCTUnwrap(try Yams.load(yaml: yaml) as? [String: Any])
        let server = try XCTUnwrap(tree["server"] as? [String: Any])
        XCTAssertEqual(server["port"] as? Int, 8080)
        XCTAssertEqual(server["host"] as? String, "0.0.0.0")
        XCTAssertEqual(server["preview_domain"] as? String, "localhost")
        let auth = try XCTUnwrap(tree["auth"] as? [String: Any])
        XCTAssertEqual(auth["api_key"] as? String, "***")
        let images = try XCTUnwrap(((tree["providers"] as? [String: Any])?["namespace"] as? [String: Any])?["images"] as? [String: Any])
        XCTAssertEqual(images["python:3.12"] as? String, "/srv/py")
        let defaults = try XCTUnwrap(tree["defaults"] as? [String: Any])
        XCTAssertEqual(defaults["ttl"] as? String, "30m0s")
        XCTAssertEqual(defaults["image"] as? String, "alpine:latest")
    }

    func testShowSecrets() throws {
        let t = TempTree()
        let yaml = try loaded(t).render(json: false, showSecrets: true, sources: false)
        XCTAssertTrue(yaml.contains("  api_key: plain-api-key\n"), yaml)
        XCTAssertTrue(yaml.contains("postgres://user:pw@db/stacy"), yaml)
    }

    func testYAMLSources() throws {
        let t = TempTree()
        let yaml = try loaded(t).render(json: false, showSecrets: false, sources: true)
        XCTAssertTrue(yaml.contains("  host: \"0.0.0.0\"  # flag\n"), yaml)
        XCTAssertTrue(yaml.contains("  port: 8080  # file\n"), yaml)
        XCTAssertTrue(yaml.contains("  level: debug  # env\n"), yaml)
        XCTAssertTrue(yaml.contains("  format: json  # default\n"), yaml)
        XCTAssertTrue(yaml.contains("  cors_allowed_origins:  # file\n"), yaml)
        XCTAssertTrue(yaml.contains("  dsn: \"***\"  # file\n"), yaml)
    }

    func testJSON() throws {
        let t = TempTree()
        let json = try loaded(t).render(json: true, showSecrets: false, sources: false)
        XCTAssertFalse(json.contains(" "), "compact: \(json)")
        XCTAssertFalse(json.contains("\\/"), json)
        XCTAssertFalse(json.contains("plain-api-key"), json)
        XCTAssertTrue(json.hasPrefix(#"{"server":{"host":"0.0.0.0","port":8080,"#), json)
        XCTAssertTrue(json.contains(#""cors_allowed_origins":["https://a.example"]"#), json)
        XCTAssertTrue(json.contains(#""api_key":"***""#), json)
        XCTAssertTrue(json.contains(#""shutdown_timeout":"10s""#), json)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        XCTAssertEqual((object["database"] as? [String: Any])?["dsn"] as? String, "***")
    }

    func testJSONSources() throws {
        let t = TempTree()
        let json = try loaded(t).render(json: true, showSecrets: true, sources: true)
        XCTAssertTrue(json.contains(#""port":{"value":8080,"source":"file"}"#), json)
        XCTAssertTrue(json.contains(#""host":{"value":"0.0.0.0","source":"flag"}"#), json)
        XCTAssertTrue(json.contains(#""level":{"value":"debug","source":"env"}"#), json)
        XCTAssertTrue(json.contains(#""api_key":{"value":"plain-api-key","source":"file"}"#), json)
        XCTAssertNotNil(try JSONSerialization.jsonObject(with: Data(json.utf8)))
    }

    func testYAMLScalarQuoting() {
        for s in ["true", "no", "null", "~", "123", "1.5", "127.0.0.1", "0x10", "1:20", "", "*", "a b", "-x", "it's", "x\ny"] {
            let quoted = yamlScalar(s)
            XCTAssertTrue(quoted.hasPrefix("\""), "\(s) → \(quoted)")
            XCTAssertEqual(try Yams.load(yaml: "k: \(quoted)") as? [String: String], ["k": s], quoted)
        }
        for s in ["localhost", "alpine:latest", "/var/lib/stacyvm", "30m0s", "https://a.example"] {
            XCTAssertEqual(yamlScalar(s), s)
        }
    }
}
