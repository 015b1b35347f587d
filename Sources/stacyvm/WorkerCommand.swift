import ArgumentParser
import Dispatch
import Foundation
import StacyAPI
import StacyConfig
import StacyHTTP
import StacyProviders
import StacyServer
import StacyVMClient
import StacyWorker
#if canImport(Glibc)
import Glibc
#endif

/// `stacyvm worker` (workers.md §1, cli.md): a remote worker process.
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker", abstract: "Run a remote worker that heartbeats to a control plane.")

    @Option(help: "Config file (else STACYVM_CONFIG, ./stacyvm.yaml, ~/.stacyvm/config.yaml).")
    var config: String?
    @Option(help: "Worker ID (worker.id; default: the host name).")
    var id: String?
    @Option(name: .customLong("control-plane"), help: "Control plane URL (worker.control_plane_url).")
    var controlPlane: String?
    @Option(help: "Worker credential (auth.worker_token): a per-worker secret or the shared staging token.")
    var workerToken: String?
    @Option(help: "File holding the worker credential (auth.worker_token_file).")
    var workerTokenFile: String?
    @Option(help: "Heartbeat interval, e.g. 10s (worker.heartbeat_interval).")
    var heartbeatInterval: String?
    @Option(help: "host:port for the inbound RPC listener (worker.listen_addr).")
    var listen: String?
    @Option(help: "URL the control plane dials for RPC (worker.advertise_url; default: derived from --listen).")
    var advertiseURL: String?
    @Option(help: "Preview domain of this worker (worker.preview_domain).")
    var previewDomain: String?
    @Flag(help: "Send one heartbeat and exit 0 if it was accepted, else 1.")
    var once = false
    @Flag(help: "Exit 0 once the control plane reports this worker drained.")
    var exitWhenDrained = false

    func run() throws {
        var signals = blockStopSignals()

        var flags: [String: String] = [:]
        if let id { flags["worker.id"] = id }
        if let controlPlane { flags["worker.control_plane_url"] = controlPlane }
        if let workerToken { flags["auth.worker_token"] = workerToken }
        if let workerTokenFile { flags["auth.worker_token_file"] = workerTokenFile }
        if let heartbeatInterval { flags["worker.heartbeat_interval"] = heartbeatInterval }
        if let listen { flags["worker.listen_addr"] = listen }
        if let advertiseURL { flags["worker.advertise_url"] = advertiseURL }
        if let previewDomain { flags["worker.preview_domain"] = previewDomain }
        if exitWhenDrained { flags["worker.exit_when_drained"] = "true" }
        // The seed's flag-only invocation needs no config file: providers come from the same
        // `providers.*` keys as `serve` (auto: namespace where it works, else mock on loopback).
        let loaded = try loadConfig(explicitPath: config, flags: flags)
        let settings = loaded.config
        let log = makeLog(settings)
        for warning in loaded.warnings { log.warn("config", [("key", .string(warning.key)), ("problem", .string(warning.message))]) }

        let options = try WorkerSetup.options(settings, once: once)
        let (registry, providerWarnings) = try WorkerSetup.providers(settings)
        for warning in providerWarnings { log.warn(warning) }
        let healthy = WorkerSetup.healthyProviders(registry)
        let runtime: WorkerRuntime
        do {
            runtime = try WorkerRuntime(options: options, providers: healthy, log: log)
        } catch {
            printError("error: \(error)")
            throw Exit.usage
        }

        if once {
            let accepted: Bool = runBlocking {
                do {
                    let worker = try await runtime.heartbeat()
                    print("heartbeat accepted: \(worker.id) \(worker.status) epoch \(runtime.epoch)")
                    return true
                } catch let error as StacyVMError {
                    printError("error: heartbeat refused: \(error.code): \(error.message)")
                    return false
                } catch {
                    printError("error: heartbeat refused: \(error)")
                    return false
                }
            }
            if !accepted { throw Exit.runtimeError }
            return
        }

        var server: WorkerServer?
        if let address = settings.value("worker.listen_addr")?.stringValue, !address.isEmpty {
            do {
                let state = try WorkerState(directory: options.stateDirectory)
                runtime.setDraining(state.draining)
                let skew = settings.value("worker.lease_skew")?.durationValue.map { $0.nanoseconds / 1_000_000 } ?? 5000
                let dispatcher = RPCDispatcher(runtime: runtime, state: state, registry: registry, capacity: options.capacity,
                                               leaseSkewMs: skew, log: log)
                runBlocking { await dispatcher.reattach() }
                runtime.onLeases { dispatcher.syncLeases($0) }
                runtime.onRevocations { revoked in Task { await dispatcher.revoke(revoked) } }
                Task.detached {
                    while true {
                        try? await Task.sleep(nanoseconds: 5_000_000_000)
                        await dispatcher.enforceLeases()
                    }
                }
                server = try WorkerServer(address: address, runtime: runtime,
                                          endpoint: RPCEndpoint(runtime: runtime, dispatcher: dispatcher, log: log), log: log)
                try server?.start()
                if let server, address.hasSuffix(":0"), settings.value("worker.advertise_url") == nil {
                    let host = String(address.dropLast(2))
                    runtime.setAdvertiseURL("http://\(host):\(server.port)")
                }
            } catch {
                log.error("cannot start the RPC listener", [("error", .string("\(error)"))])
                throw Exit.runtimeError
            }
        }
        log.info("worker starting", [("worker_id", .string(options.id)), ("control_plane", .string(options.controlPlaneURL)),
                                     ("epoch", .string(runtime.epoch)), ("providers", .string(healthy.joined(separator: ","))),
                                     ("rpc_url", .string(options.advertiseURL ?? "")), ("listening", .string(server != nil ? "true" : "false"))])
        let finished = DispatchSemaphore(value: 0)
        let outcome = ExitBox()
        Task.detached {
            outcome.value = await runtime.run()
            finished.signal()
        }
        // Stop on a signal, or when the loop ends by itself (superseded).
        let stopSignals = signals
        let signalThread = Thread {
            var waitSet = stopSignals
            var received: Int32 = 0
            sigwait(&waitSet, &received)
            log.info("stopping", [("signal", .int(Int(received)))])
            runtime.stop()
        }
        signalThread.start()
        finished.wait()
        server?.stop(timeoutSeconds: settings.value("worker.shutdown_timeout")?.durationValue
            .map { Double($0.nanoseconds) / 1e9 } ?? 30)
        if outcome.value == .superseded { throw ExitCode(3) }
        log.info("stopped")
    }
}

private final class ExitBox: @unchecked Sendable { var value: WorkerExit = .stopped }

/// Runs async work from the synchronous command and returns its value.
func runBlocking<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
    let box = ValueBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task.detached {
        box.value = await body()
        done.signal()
    }
    done.wait()
    return box.value!
}

private final class ValueBox<T>: @unchecked Sendable { var value: T? }

/// Turns validated config into the worker's options and providers (workers.md §1).
enum WorkerSetup {
    static func options(_ config: Config, once: Bool) throws -> WorkerOptions {
        guard let token = config.value("auth.worker_token")?.stringValue, !token.isEmpty else {
            printError("error: a worker credential is required: --worker-token, --worker-token-file or auth.worker_token")
            throw Exit.usage
        }
        let id = config.value("worker.id")?.stringValue ?? systemHostName() ?? ""
        if let problem = ConfigCheck.remoteWorkerID.apply(.string(id)) {
            printError("error: worker ID: \(problem) (set --id or worker.id)")
            throw Exit.usage
        }
        var controlPlane = config.value("worker.control_plane_url")?.stringValue ?? "http://127.0.0.1:7423"
        while controlPlane.hasSuffix("/") { controlPlane.removeLast() }
        let interval = config.value("worker.heartbeat_interval")?.durationValue ?? (try! GoDuration.parse("10s"))
        // `--once` advertises no rpc_url: nothing listens for it (workers.md §13.10).
        var advertise: String?
        if !once, let listen = config.value("worker.listen_addr")?.stringValue, !listen.isEmpty {
            advertise = config.value("worker.advertise_url")?.stringValue ?? "http://" + listen
        }
        var keys = config.value("auth.control_plane_public_keys")?.listValue ?? []
        if let key = config.value("auth.control_plane_public_key")?.stringValue { keys.insert(key, at: 0) }
        return WorkerOptions(
            id: id, controlPlaneURL: controlPlane, token: token,
            heartbeatIntervalSeconds: Double(interval.nanoseconds) / 1e9, advertiseURL: advertise,
            previewDomain: config.value("worker.preview_domain")?.stringValue,
            stateDirectory: config.value("worker.state_dir")?.stringValue ?? NSHomeDirectory() + "/.stacyvm/worker",
            capacity: ControlPlane.capacity(config, keyPrefix: "worker.capacity"), labels: config.value("worker.labels")?.mapValue ?? [:],
            controlPlanePublicKeys: keys, version: BuildInfo.version,
            exitWhenDrained: config.value("worker.exit_when_drained")?.boolValue ?? false,
            tokenFile: config.value("auth.worker_token_file")?.stringValue)
    }

    static func providers(_ config: Config) throws -> (ProviderRegistry, [String]) {
        do {
            return try ControlPlane.providers(config, environment: ProcessInfo.processInfo.environment)
        } catch {
            printError("error: providers: \(error)")
            throw Exit.usage
        }
    }

    /// Only providers whose health check passes are advertised; an empty list means none.
    static func healthyProviders(_ registry: ProviderRegistry) -> [String] {
        runBlocking {
            var names: [String] = []
            for provider in registry.all where await provider.health().healthy { names.append(provider.name) }
            return names
        }
    }
}
