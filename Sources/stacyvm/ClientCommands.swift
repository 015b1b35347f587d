import ArgumentParser
import Foundation
import StacyAPI
import StacyJSON
import StacyVMClient
import Yams
#if canImport(Glibc)
import Glibc
#endif

struct SpawnCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "spawn", abstract: "Create a sandbox.")

    @OptionGroup var client: ClientOptions
    @Option(help: "Request timeout.") var timeout: String = "30s"
    @Option(help: "Image, e.g. alpine:latest.") var image: String?
    @Option(help: "Provider.") var provider: String?
    @Option(help: "Time to live, e.g. 30m.") var ttl: String?
    @Option(help: "Memory in MB.") var memory: Int?
    @Option(help: "Virtual CPUs.") var vcpus: Int?
    @Option(help: "Template name.") var template: String?
    @Option(help: "Metadata entry k=v (repeatable).") var metadata: [String] = []

    func run() throws {
        let meta = try keyValues(metadata, flag: "--metadata must be k=v")
        let request = SpawnRequest(image: image, provider: provider, memoryMB: memory, vcpus: vcpus, ttl: ttl,
                                   template: template, metadata: meta.isEmpty ? nil : meta)
        let api = client.client(timeout: try parseTimeout(timeout))
        let sandbox = try runClient { try await api.createSandbox(request) }
        if client.json { try printJSON(sandbox) } else { print(sandbox.id) }
    }
}

struct ExecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec", abstract: "Run a command in a sandbox; exits with its code (124 on timeout).")

    @OptionGroup var client: ClientOptions
    @Option(help: "Command timeout, e.g. 30s (server default when omitted).") var timeout: String?
    @Flag(inversion: .prefixedNo, help: "Stream output (default: when stdout is a TTY).") var stream: Bool?
    @Flag(help: "Join the words with spaces and run them with the shell.") var shell = false
    @Option(help: "Working directory.") var workdir: String?
    @Option(help: "Environment entry K=V (repeatable).") var env: [String] = []
    @Option(help: "File to send as stdin (- for stdin).") var stdinFile: String?
    @Argument(help: "Sandbox ID.") var id: String
    @Argument(parsing: .captureForPassthrough, help: "Command and arguments.") var command: [String] = []

    func run() throws {
        var words = command
        if words.first == "--" { words.removeFirst() }
        guard let first = words.first else {
            printError("error: exec needs a command")
            throw Exit.usage
        }
        let environment = try keyValues(env, flag: "--env must be K=V")
        var stdinText: String?
        if let stdinFile {
            let handle = stdinFile == "-" ? FileHandle.standardInput : FileHandle(forReadingAtPath: stdinFile)
            guard let handle else {
                printError("error: cannot read \(stdinFile)")
                throw Exit.usage
            }
            stdinText = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        }
        var request = shell
            ? ExecRequest(command: words.joined(separator: " "), mode: "shell")
            : ExecRequest(command: first, args: Array(words.dropFirst()), mode: "argv")
        request.env = environment.isEmpty ? nil : environment
        request.workdir = workdir
        request.stdin = stdinText
        var requestTimeout = 30.0
        if let timeout {
            request.timeout = timeout
            requestTimeout = try parseTimeout(timeout) + 30
        }
        let streaming = stream ?? (isatty(1) != 0)
        let api = client.client(timeout: requestTimeout)
        let id = self.id
        let code: Int32
        if streaming {
            code = try runClient { [request] in
                for try await event in api.execCommandStream(id, request) {
                    switch event {
                    case .output(let stream, let data): writeFD(stream == "stderr" ? 2 : 1, data)
                    case .exit(let frame):
                        if frame.timedOut == true { return Int32(124) }
                        if let error = frame.error {
                            if error.code == "TIMEOUT" { return Int32(124) }
                            throw StacyVMError(status: 0, code: error.code, message: error.message)
                        }
                        return Int32(clamping: frame.exitCode < 0 ? 1 : frame.exitCode)
                    }
                }
                throw StacyVMError(status: 0, code: "CONNECTION_ERROR", message: "stream ended without an exit frame")
            }
        } else {
            code = try runClient { [request] in
                do {
                    let response = try await api.execCommand(id, request)
                    writeFD(1, response.stdout)
                    writeFD(2, response.stderr)
                    return Int32(clamping: response.exitCode < 0 ? 1 : response.exitCode)
                } catch let error as StacyVMError where error.code == "TIMEOUT" {
                    return Int32(124)
                }
            }
        }
        if code != 0 { throw ExitCode(code) }
    }
}

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List sandboxes.", aliases: ["ls"])

    @OptionGroup var client: ClientOptions
    @Option(help: "Request timeout.") var timeout: String = "30s"
    @Option(help: "Only sandboxes in this state.") var state: String?
    @Flag(help: "Include destroyed sandboxes (operator).") var all = false
    @Option(help: "At most N sandboxes, fetched page by page.") var limit: Int?

    func run() throws {
        if let limit, limit < 1 {
            printError("error: --limit must be at least 1")
            throw Exit.usage
        }
        let api = client.client(timeout: try parseTimeout(timeout))
        let (state, all) = (self.state, self.all)
        let sandboxes: [Sandbox]
        if let limit {
            // Pages of at most 100 (STACYVM_CLI_PAGE_SIZE, for tests), following next_cursor until
            // `limit` sandboxes are collected or the last page.
            var pageSize = 100
            if let text = clientEnvironment()["STACYVM_CLI_PAGE_SIZE"], let size = Int(text), (1...1000).contains(size) {
                pageSize = size
            }
            sandboxes = try runClient { [pageSize] in
                var collected: [Sandbox] = []
                var cursor: String?
                repeat {
                    let page = try await api.listSandboxesPage(state: state, includeDestroyed: all,
                                                               limit: min(limit - collected.count, pageSize), cursor: cursor)
                    collected += page.items.prefix(limit - collected.count)
                    cursor = page.items.isEmpty ? nil : page.nextCursor
                } while collected.count < limit && cursor != nil
                return collected
            }
        } else {
            sandboxes = try runClient { try await api.listSandboxes(state: state, includeDestroyed: all) }
        }
        if client.json {
            try printJSON(sandboxes)
            return
        }
        printTable(["ID", "STATE", "PROVIDER", "IMAGE", "WORKER", "OWNER", "EXPIRES"],
                   sandboxes.map { [$0.id, $0.state, $0.provider, $0.image, $0.workerID, $0.ownerID ?? "", $0.expiresAt] })
    }
}

struct KillCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "kill", abstract: "Destroy sandboxes.")

    @OptionGroup var client: ClientOptions
    @Option(help: "Request timeout.") var timeout: String = "30s"
    @Argument(help: "Sandbox IDs.") var ids: [String]

    func validate() throws {
        if ids.isEmpty { throw ValidationError("kill needs at least one sandbox ID") }
    }

    func run() throws {
        let api = client.client(timeout: try parseTimeout(timeout))
        var failed = false
        for id in ids {
            do {
                _ = try runClient { try await api.destroySandbox(id) }
                if !client.json { print(id) }
            } catch {
                failed = true
            }
        }
        if failed { throw Exit.runtimeError }
    }
}

struct TemplatesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "templates", abstract: "Manage templates.",
                                                    subcommands: [List.self, Create.self, Delete.self])

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List templates.")
        @OptionGroup var client: ClientOptions
        @Option(help: "Request timeout.") var timeout: String = "30s"

        func run() throws {
            let api = client.client(timeout: try parseTimeout(timeout))
            let templates = try runClient { try await api.listTemplates() }
            if client.json {
                try printJSON(templates)
                return
            }
            printTable(["NAME", "IMAGE", "PROVIDER", "MEMORY", "VCPUS", "TTL", "VERSION"],
                       templates.map { [$0.name, $0.image, $0.provider, String($0.memoryMB), String($0.vcpus), $0.ttl,
                                        String($0.version)] })
        }
    }

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a template from a YAML or JSON file.")
        @OptionGroup var client: ClientOptions
        @Option(help: "Request timeout.") var timeout: String = "30s"
        @Option(help: "Template file (.yaml, .yml or .json).") var file: String

        func run() throws {
            guard let data = FileManager.default.contents(atPath: file) else {
                printError("error: cannot read \(file)")
                throw Exit.usage
            }
            let request: TemplateRequest
            do {
                if file.hasSuffix(".json") {
                    request = try JanssonDecoder().decode(TemplateRequest.self, from: [UInt8](data))
                } else {
                    request = try YAMLDecoder().decode(TemplateRequest.self, from: data)
                }
            } catch {
                printError("error: \(file): \(error)")
                throw Exit.usage
            }
            let api = client.client(timeout: try parseTimeout(timeout))
            let template = try runClient { try await api.createTemplate(request) }
            if client.json { try printJSON(template) } else { print(template.name) }
        }
    }

    struct Delete: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a template.")
        @OptionGroup var client: ClientOptions
        @Option(help: "Request timeout.") var timeout: String = "30s"
        @Argument(help: "Template name.") var name: String

        func run() throws {
            let api = client.client(timeout: try parseTimeout(timeout))
            let name = self.name
            let status = try runClient { try await api.deleteTemplate(name) }
            if client.json { try printJSON(status) } else { print(status.status) }
        }
    }
}

/// `k=v` option values (repeatable flags) as a map; anything without `=` is a usage error.
func keyValues(_ entries: [String], flag message: String) throws -> [String: String] {
    var values: [String: String] = [:]
    for entry in entries {
        guard let equals = entry.firstIndex(of: "=") else {
            printError("error: " + message)
            throw Exit.usage
        }
        values[String(entry[..<equals])] = String(entry[entry.index(after: equals)...])
    }
    return values
}
