import ArgumentParser
import Foundation
import StacyConfig
import StacyHTTP
import StacyOrchestrator
import StacyServer
import StacyStore
import StacyWorker
#if canImport(Glibc)
import Glibc
#endif

struct ServeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Run the control plane.")

    @Option(help: "Config file (else STACYVM_CONFIG, ./stacyvm.yaml, ~/.stacyvm/config.yaml).")
    var config: String?

    @Option(help: "Listen address (server.host).")
    var host: String?

    @Option(help: "Listen port (server.port).")
    var port: Int?

    func run() throws {
        // Block the stop signals before any thread exists, so every thread inherits the mask and
        // the main thread alone receives them through sigwait.
        var signals = blockStopSignals()

        var flags: [String: String] = [:]
        if let host { flags["server.host"] = host }
        if let port { flags["server.port"] = String(port) }
        let loaded = try loadConfig(explicitPath: config, flags: flags)
        let settings = loaded.config
        let log = makeLog(settings)
        for warning in loaded.warnings { log.warn("config", [("key", .string(warning.key)), ("problem", .string(warning.message))]) }

        makeDirectories(settings.server.dataDir)
        // Namespace sandboxes run as unprivileged uids that must pass through the data directory
        // to their own directories under it: search, never listing. The database stays 0600.
        chmod(settings.server.dataDir, 0o711)
        let store = try openStore(settings)
        defer { store.close() }
        try prepareSchema(store, autoMigrate: settings.database.autoMigrate, log: log)
        do {
            let keys = try store.countActiveAPIKeys()
            let configured = !Authenticator.settings(from: settings, loopbackListener: false).keys.isEmpty
            try ControlPlane.refuseInsecureExposure(settings, credentialsConfigured: configured || keys > 0)
        } catch {
            printError("error: \(error)")
            throw Exit.usage
        }

        let instanceID = ControlPlane.makeInstanceID(configured: settings.server.instanceID)
        let controlPlane: ControlPlane
        do {
            try store.registerControlPlane(instanceID: instanceID, hostname: systemHostName() ?? "", version: BuildInfo.version)
            controlPlane = try ControlPlane(config: settings, store: store, log: log, instanceID: instanceID,
                                        environment: ProcessInfo.processInfo.environment)
            try controlPlane.start()
        } catch {
            log.error("startup failed", [("error", .string(String(describing: error)))])
            throw Exit.runtimeError
        }
        log.info("listening", [("address", .string("\(settings.server.host):\(controlPlane.port)")),
                               ("instance_id", .string(instanceID)), ("database", .string(settings.database.path)),
                               ("version", .string(BuildInfo.version))])

        var received: Int32 = 0
        sigwait(&signals, &received)
        log.info("shutting down", [("signal", .int(Int(received))),
                                   ("timeout", .string(settings.server.shutdownTimeout.description))])
        controlPlane.stop()
        log.info("stopped")
    }

    /// `database.auto_migrate` (default true) migrates at start; otherwise pending migrations
    /// stop the server (runtime.md §12).
    private func prepareSchema(_ store: any Store, autoMigrate: Bool, log: Log) throws {
        do {
            if autoMigrate {
                for applied in try store.migrate(to: nil) {
                    log.info("migrated", [("version", .int(applied.version)), ("name", .string(applied.name))])
                }
            }
            let status = try store.migrationStatus()
            if !status.checksumMismatches.isEmpty {
                printError("error: applied migrations changed since they ran: versions \(status.checksumMismatches)")
                throw Exit.runtimeError
            }
            if !status.pending.isEmpty {
                printError("error: \(status.pending.count) migrations pending; run `stacyvm db migrate` or set database.auto_migrate")
                throw Exit.runtimeError
            }
        } catch let error as StoreError {
            printError("error: database migration failed: \(error)")
            throw Exit.runtimeError
        }
    }
}

