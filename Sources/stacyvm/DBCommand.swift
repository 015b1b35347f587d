import ArgumentParser
import StacyConfig
import StacyStore

struct DBCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "db", abstract: "Database schema: migrate and status.",
                                                    subcommands: [Migrate.self, Status.self])

    struct Migrate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Apply pending migrations under the migration lock.")

        @Option(help: "Config file.")
        var config: String?
        @Flag(help: "List what would be applied without applying it.")
        var dryRun = false
        @Option(help: "Stop at this schema version (used by the upgrade rehearsal).")
        var to: Int?

        func run() throws {
            let settings = try loadConfig(explicitPath: config).config
            let store = try openStore(settings)
            defer { store.close() }
            do {
                if dryRun {
                    let status = try store.migrationStatus()
                    let pending = status.pending.filter { to == nil || $0.version <= to! }
                    if pending.isEmpty { print("up to date (version \(status.currentVersion))") }
                    for migration in pending { print("would apply \(migration.version) \(migration.name)") }
                    return
                }
                let applied = try store.migrate(to: to)
                for migration in applied { print("applied \(migration.version) \(migration.name)") }
                if applied.isEmpty { print("up to date (version \(try store.migrationStatus().currentVersion))") }
            } catch {
                printError("error: migration failed: \(error)")
                throw Exit.runtimeError
            }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print driver, database, current and pending versions; exit 1 if any are pending or mismatched.")

        @Option(help: "Config file.")
        var config: String?

        func run() throws {
            let settings = try loadConfig(explicitPath: config).config
            let store = try openStore(settings)
            defer { store.close() }
            let status: MigrationStatus
            do { status = try store.migrationStatus() } catch {
                printError("error: \(error)")
                throw Exit.runtimeError
            }
            print("driver: \(store.driver)")
            print("database: \(settings.database.path)")
            print("current: \(status.currentVersion)")
            print("latest: \(status.latestVersion)")
            print("pending: \(status.pending.map { String($0.version) }.joined(separator: ","))")
            print("checksum_mismatches: \(status.checksumMismatches.map(String.init).joined(separator: ","))")
            if !status.pending.isEmpty || !status.checksumMismatches.isEmpty { throw Exit.runtimeError }
        }
    }
}
