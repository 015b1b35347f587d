@testable import StacyProviders
@testable import StacySandboxFS
import XCTest

final class SandboxPathTests: XCTestCase {
    func testNormalize() throws {
        let cases: [(String, String)] = [
            ("/workspace", "/workspace"),
            ("file.txt", "/workspace/file.txt"),
            ("./a/./b/", "/workspace/a/b"),
            ("a//b", "/workspace/a/b"),
            ("..", "/"),
            ("../..", "/"),
            ("../../../etc/passwd", "/etc/passwd"),
            ("/a/b/../c", "/a/c"),
            ("/..", "/"),
            ("/", "/"),
            ("/workspace/../../../tmp", "/tmp"),
            ("a/../../b", "/b"),
            ("...", "/workspace/..."),
        ]
        for (raw, expected) in cases {
            XCTAssertEqual(try SandboxPath.normalize(raw), expected, raw)
        }
    }

    func testNormalizeRejects() {
        for raw in ["", "a\0b", String(repeating: "a", count: 4097)] {
            XCTAssertThrowsError(try SandboxPath.normalize(raw)) { error in
                guard case .invalidPath = error as? ProviderError else { return XCTFail("\(error)") }
            }
        }
        XCTAssertNoThrow(try SandboxPath.normalize("/" + String(repeating: "a", count: 4095)))
    }

    func testParseMode() throws {
        let good: [(String, UInt32)] = [("755", 0o755), ("0755", 0o755), ("644", 0o644), ("0000", 0), ("4755", 0o4755),
                                        ("executable", 0o755), ("777", 0o777)]
        for (raw, expected) in good { XCTAssertEqual(try SandboxPath.parseMode(raw), expected, raw) }
        for raw in ["u+x", "+x", "rwxr-xr-x", "75", "07555", "788", "", " 755", "0o755", "Executable", "-755"] {
            XCTAssertThrowsError(try SandboxPath.parseMode(raw), raw) { error in
                guard case .invalidInput = error as? ProviderError else { return XCTFail("\(error)") }
            }
        }
    }

    func testFormatMode() {
        let cases: [(UInt32, String)] = [(0o644, "0644"), (0o755, "0755"), (0, "0000"), (0o7, "0007"), (0o4755, "4755"),
                                         (0o100644, "0644")]
        for (mode, expected) in cases { XCTAssertEqual(SandboxPath.formatMode(mode), expected) }
    }

    func testGlobMatch() {
        let cases: [(String, String, Bool)] = [
            ("*.txt", "a.txt", true), ("*.txt", "a.md", false), ("*", ".hidden", false), (".*", ".hidden", true),
            ("?", "a", true), ("?", "ab", false), ("[abc]x", "bx", true), ("[a-c]x", "dx", false),
            ("[!a-c]x", "dx", true), ("[^a]", "a", false), ("a*b*c", "aXbYc", true), ("a*b*c", "aXbY", false),
            ("\\*", "*", true), ("\\*", "a", false), ("[", "[", true), ("contract*.txt", "contract12.txt", true),
            ("*a", "aaaa", true), ("[]]", "]", true),
        ]
        for (pattern, name, expected) in cases {
            XCTAssertEqual(Glob.match(pattern, name), expected, "\(pattern) vs \(name)")
        }
    }
}

final class ProviderErrorAndRegistryTests: XCTestCase {
    func testStatusAndCodes() {
        let cases: [(ProviderError, Int, String)] = [
            (.invalidInput("x"), 400, "BAD_REQUEST"), (.invalidPath("x"), 400, "BAD_REQUEST"),
            (.notADirectory("x"), 400, "BAD_REQUEST"), (.isADirectory("x"), 400, "BAD_REQUEST"),
            (.readOnlyPath("x"), 400, "BAD_REQUEST"), (.imageNotFound("x"), 400, "BAD_REQUEST"),
            (.unsupported("x"), 400, "BAD_REQUEST"), (.sandboxNotFound, 404, "NOT_FOUND"),
            (.sandboxDestroyed, 404, "NOT_FOUND"), (.fileNotFound("x"), 404, "NOT_FOUND"),
            (.directoryNotEmpty("x"), 409, "CONFLICT"), (.alreadyExists("x"), 409, "CONFLICT"),
            (.execTimeout, 408, "TIMEOUT"), (.tooLarge("x"), 413, "PAYLOAD_TOO_LARGE"),
            (.resourceLimit("x"), 429, "RESOURCE_LIMIT"), (.portUnreachable, 502, "PREVIEW_UNREACHABLE"),
            (.providerUnavailable("x"), 503, "UNAVAILABLE"), (.internal("x"), 500, "INTERNAL_ERROR"),
        ]
        for (error, status, code) in cases {
            XCTAssertEqual(error.status, status, "\(error)")
            XCTAssertEqual(error.code, code, "\(error)")
            XCTAssertFalse(error.message.isEmpty)
        }
    }

    func testInternalMessageHidesDetail() {
        XCTAssertEqual(ProviderError.internal("open /var/lib/stacyvm/secret: errno 13").message, "internal error")
        XCTAssertEqual(ProviderError.fileNotFound("/workspace/a").message, "file not found: /workspace/a")
    }

    func testRegistry() {
        let a = MockProvider(rootDirectory: "/tmp/stacyvm-registry-a")
        let registry = ProviderRegistry(providers: [a], defaultName: "mock")
        XCTAssertEqual(registry.defaultName, "mock")
        XCTAssertTrue(registry.provider(named: "mock") as? MockProvider === a)
        XCTAssertNil(registry.provider(named: "namespace"))
        XCTAssertEqual(registry.all.count, 1)
        XCTAssertTrue(registry.defaultProvider as? MockProvider === a)
    }
}
