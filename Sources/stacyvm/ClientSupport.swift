import ArgumentParser
import Dispatch
import StacyAPI
import StacyConfig
import StacyJSON
import StacyVMClient
#if canImport(Glibc)
import Glibc
#endif

/// Connection flags shared by the client commands (cli.md §1). `--timeout` is declared by each
/// command because `exec` gives it the meaning of the command's timeout.
struct ClientOptions: ParsableArguments {
    @Option(help: "Control plane URL (STACYVM_SERVER; default http://127.0.0.1:7423).")
    var server: String?
    @Option(help: "API key, sent as X-API-Key (STACYVM_API_KEY).")
    var apiKey: String?
    @Option(help: "Admin API key, sent as X-Admin-API-Key (STACYVM_ADMIN_API_KEY).")
    var adminKey: String?
    @Option(help: "User ID, sent as X-User-ID (STACYVM_USER_ID).")
    var user: String?
    @Option(help: "Tenant ID, sent as X-Tenant-ID (STACYVM_TENANT_ID).")
    var tenant: String?
    @Option(name: [.short, .customLong("output")], help: "table or json (default: table on a TTY, else json).")
    var output: String?
    @Flag(name: [.short, .long], help: "Log each request to stderr (method, URL, status, ms; secrets redacted).")
    var verbose = false

    func validate() throws {
        if let output, output != "table", output != "json" {
            throw ValidationError("--output must be table or json")
        }
    }

    /// JSON unless a table was asked for or stdout is a terminal.
    var json: Bool {
        if let output { return output == "json" }
        return isatty(1) == 0
    }

    func client(timeout seconds: Double) -> StacyVMClient {
        let env = clientEnvironment()
        return StacyVMClient(baseURL: server ?? env["STACYVM_SERVER"] ?? "http://127.0.0.1:7423",
                             apiKey: apiKey ?? env["STACYVM_API_KEY"], adminKey: adminKey ?? env["STACYVM_ADMIN_API_KEY"],
                             userID: user ?? env["STACYVM_USER_ID"], tenantID: tenant ?? env["STACYVM_TENANT_ID"],
                             timeout: seconds, onRequest: verbose ? logRequest : nil)
    }
}

/// `--verbose`: one line per request on stderr. The log arrives redacted (`RequestLog.redact`).
func logRequest(_ log: RequestLog) {
    writeFD(2, "stacyvm: " + log.line + "\n")
}

/// Reads the environment without Foundation.
enum ClientEnvironmentReader {
    static func read() -> [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(cString: entry)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return result
    }
}

/// `30s`, `2m`, … in seconds; exit 2 on a bad value.
func parseTimeout(_ text: String, flag: String = "--timeout") throws -> Double {
    do {
        let duration = try GoDuration.parse(text)
        return Double(duration.nanoseconds) / 1e9
    } catch {
        printError("error: \(flag): invalid duration \(text)")
        throw Exit.usage
    }
}

/// Runs async client work from a synchronous command (the root command stays synchronous so
/// `serve` can block its signals before any thread exists). API errors print
/// `error: <CODE>: <message>` and exit 1.
func runClient<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) throws -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        do { box.result = .success(try await body()) } catch { box.result = .failure(error) }
        done.signal()
    }
    done.wait()
    switch box.result! {
    case .success(let value): return value
    case .failure(let error as StacyVMError):
        printError("error: \(error.code): \(error.message)")
        throw Exit.runtimeError
    case .failure(let error): throw error
    }
}

private final class ResultBox<T>: @unchecked Sendable { var result: Result<T, Error>? }

func printJSON(_ value: some Encodable) throws {
    print(String(decoding: try JanssonEncoder().encode(value), as: UTF8.self))
}

func writeFD(_ fd: Int32, _ text: String) {
    var text = text
    text.withUTF8 { buffer in
        var offset = 0
        while offset < buffer.count {
            let written = write(fd, buffer.baseAddress! + offset, buffer.count - offset)
            if written <= 0 { return }
            offset += written
        }
    }
}

func printTable(_ header: [String], _ rows: [[String]]) {
    var widths = header.map(\.count)
    for row in rows { for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) } }
    for row in [header] + rows {
        let cells = row.enumerated().map { index, cell in index == row.count - 1 ? cell : cell.padding(widths[index]) }
        print(cells.joined(separator: "  "))
    }
}

func clientEnvironment() -> [String: String] { ClientEnvironmentReader.read() }
