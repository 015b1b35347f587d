import ArgumentParser
import Glibc
import StacyAPI
import StacyHTTP
import StacyVMClient

/// `stacyvm workers …` (cli.md): the worker registry as the control plane sees it.
struct WorkersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workers", abstract: "Show, drain and undrain remote workers.",
        subcommands: [WorkersListCommand.self, WorkersDrainCommand.self, WorkersUndrainCommand.self])
}

struct WorkersListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List workers.", aliases: ["ls"])

    @OptionGroup var client: ClientOptions
    @Option(help: "Request timeout.") var timeout: String = "30s"
    @Option(help: "Only workers with this status (online, draining, drained, offline, lost).") var status: String?

    func run() throws {
        let api = client.client(timeout: try parseTimeout(timeout))
        var workers = try runClient { try await api.listWorkers() }
        if let status { workers = workers.filter { $0.status == status } }
        if client.json {
            try printJSON(workers)
            return
        }
        printTable(["ID", "STATUS", "LIVENESS", "EPOCH", "SANDBOXES", "CAPACITY", "LAST HEARTBEAT"], workers.map { worker in
            let max = worker.capacity.maxSandboxes ?? 0
            return [worker.id, worker.status, worker.liveness, String(worker.epoch.prefix(8)), String(worker.usage.sandboxes),
                    max == 0 ? "unlimited" : String(max), worker.lastHeartbeat ?? "-"]
        })
    }
}

struct WorkersDrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drain", abstract: "Stop placing sandboxes on a worker; its sandboxes expire by the deadline (needs --admin-key).")

    @OptionGroup var client: ClientOptions
    @Option(help: "Request timeout.") var timeout: String = "30s"
    @Option(help: "How long its sandboxes may keep running, e.g. 1h (default workers.default_drain_deadline).") var deadline: String?
    @Option(help: "Why, shown in the worker object.") var reason: String?
    @Flag(help: "Deadline = now.") var force = false
    @Flag(help: "Wait until the worker is drained (exit 1 at the deadline plus one minute).") var wait = false
    @Argument(help: "Worker ID.") var workerID: String

    func run() throws {
        let api = client.client(timeout: try parseTimeout(timeout))
        let workerID = self.workerID
        let request = DrainRequest(deadline: deadline, reason: reason, force: force ? true : nil)
        var worker = try runClient { try await api.drainWorker(workerID, request) }
        if wait {
            let limit = (worker.drain?.deadline).flatMap(parseTimestampSeconds) ?? 0
            while worker.status != "drained" {
                if limit > 0 && Double(time(nil)) > limit + 60 {
                    printError("error: \(workerID) is not drained one minute after its deadline")
                    throw Exit.runtimeError
                }
                usleep(500_000)
                worker = try runClient { try await api.getWorker(workerID) }
            }
        }
        if client.json { try printJSON(worker) } else { print("\(worker.id) \(worker.status)") }
    }
}

struct WorkersUndrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "undrain", abstract: "Place sandboxes on a worker again (needs --admin-key).")

    @OptionGroup var client: ClientOptions
    @Option(help: "Request timeout.") var timeout: String = "30s"
    @Argument(help: "Worker ID.") var workerID: String

    func run() throws {
        let api = client.client(timeout: try parseTimeout(timeout))
        let workerID = self.workerID
        let worker = try runClient { try await api.undrainWorker(workerID) }
        if client.json { try printJSON(worker) } else { print("\(worker.id) \(worker.status)") }
    }
}

/// RFC 3339 to Unix seconds (for `--wait`).
func parseTimestampSeconds(_ text: String) -> Double? {
    Log.unixMillis(fromTimestamp: text).map { Double($0) / 1000 }
}

/// `stacyvm token …` (cli.md): per-worker credentials, issued through the admin API.
struct TokenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Issue, list and revoke worker credentials (needs --admin-key).",
        subcommands: [TokenIssueCommand.self, TokenListCommand.self, TokenRevokeCommand.self])
}

struct TokenIssueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "issue", abstract: "Issue a secret credential for a worker.")

    @OptionGroup var client: ClientOptions
    @Option(help: "Request timeout.") var timeout: String = "30s"
    @Option(help: "Scope (repeatable; default worker:heartbeat, worker:lease, worker:inventory).") var scope: [String] = []
    @Option(help: "Lifetime, e.g. 720h (default: no expiry).") var ttl: String?
    @Option(help: "Free text shown in `token list`.") var description: String?
    @Argument(help: "Worker ID.") var workerID: String

    func run() throws {
        let api = client.client(timeout: try parseTimeout(timeout))
        let request = WorkerCredentialRequest(scopes: scope.isEmpty ? nil : scope, ttl: ttl, description: description)
        let workerID = self.workerID
        let credential = try runClient { try await api.createWorkerCredential(workerID, request) }
        if client.json {
            try printJSON(credential)
            return
        }
        print("credential: \(credential.id)")
        print("token: \(credential.token ?? "")")
        print("control_plane_public_key: \(credential.controlPlanePublicKey ?? "")")
        print("")
        print("# worker config (the token is shown only once):")
        print("worker:\n  id: \(workerID)\nauth:\n  worker_token: \(credential.token ?? "")")
        if let key = credential.controlPlanePublicKey { print("  control_plane_public_key: \(key)") }
    }
}

struct TokenListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List a worker's credentials (never the secrets).")

    @OptionGroup var client: ClientOptions
    @Option(help: "Request timeout.") var timeout: String = "30s"
    @Argument(help: "Worker ID.") var workerID: String

    func run() throws {
        let api = client.client(timeout: try parseTimeout(timeout))
        let workerID = self.workerID
        let credentials = try runClient { try await api.listWorkerCredentials(workerID) }
        if client.json {
            try printJSON(credentials)
            return
        }
        printTable(["ID", "SCOPES", "CREATED", "EXPIRES", "REVOKED", "LAST USED"], credentials.map {
            [$0.id, $0.scopes.joined(separator: ","), $0.createdAt, $0.expiresAt ?? "-", $0.revokedAt ?? "-", $0.lastUsedAt ?? "-"]
        })
    }
}

struct TokenRevokeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "revoke", abstract: "Revoke a worker credential.")

    @OptionGroup var client: ClientOptions
    @Option(help: "Request timeout.") var timeout: String = "30s"
    @Argument(help: "Worker ID.") var workerID: String
    @Argument(help: "Credential ID.") var credentialID: String

    func run() throws {
        let api = client.client(timeout: try parseTimeout(timeout))
        let (workerID, credentialID) = (self.workerID, self.credentialID)
        let result = try runClient { try await api.revokeWorkerCredential(workerID, credentialID: credentialID) }
        if client.json { try printJSON(result) } else { print("revoked \(credentialID)") }
    }
}
