import ArgumentParser
import StacyConfig
import StacyHTTP
import StacyStore
#if canImport(Glibc)
import Glibc
#endif

/// Exit codes of cli.md §1.
enum Exit {
    static let runtimeError = ExitCode(1)
    static let usage = ExitCode(2)
}

func printError(_ message: String) {
    var line = message + "\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}

/// Loads and validates config the way every offline command does; invalid config is exit 2
/// with every problem listed by key path.
func loadConfig(explicitPath: String?, flags: [String: String] = [:], requireValid: Bool = true) throws -> LoadedConfig {
    let loaded: LoadedConfig
    do {
        loaded = try Config.load(.process(explicitPath: explicitPath, flags: flags))
    } catch {
        printError("error: \(error.message)")
        throw Exit.usage
    }
    if requireValid && !loaded.problems.isEmpty {
        for problem in loaded.problems { printError("\(problem.key): \(problem.message)") }
        throw Exit.usage
    }
    return loaded
}

func makeLog(_ config: Config) -> Log {
    Log(level: Log.Level(name: config.logging.level) ?? .info, format: config.logging.format == "text" ? .text : .json)
}

/// Opens the configured store. Only the embedded SQLite driver exists in this version.
func openStore(_ config: Config) throws -> any Store {
    guard config.database.driver == "sqlite" else {
        printError("error: database.driver \(config.database.driver) is not available in this version (use sqlite)")
        throw Exit.usage
    }
    let path = config.database.path
    if path != ":memory:", let slash = path.lastIndex(of: "/") {
        makeDirectories(String(path[..<slash]))
    }
    do {
        let store = try SQLiteStore(path: path)
        // Only this process reads the database (it holds hashed keys); SQLite gives the WAL and
        // shared-memory files the database file's mode when it creates them.
        for file in [path, path + "-wal", path + "-shm"] where path != ":memory:" { chmod(file, 0o600) }
        return store
    } catch {
        printError("error: cannot open database \(path): \(error)")
        throw Exit.runtimeError
    }
}

/// `mkdir -p` with mode 0700: the data directory holds the database and keys.
func makeDirectories(_ path: String) {
    var current = ""
    for part in path.split(separator: "/") {
        current += "/" + part
        mkdir(current, 0o700)
    }
}

/// Blocks SIGTERM and SIGINT before any thread exists, so every thread inherits the mask and one
/// thread alone receives them through `sigwait` on the returned set.
func blockStopSignals() -> sigset_t {
    var signals = sigset_t()
    sigemptyset(&signals)
    sigaddset(&signals, SIGTERM)
    sigaddset(&signals, SIGINT)
    pthread_sigmask(SIG_BLOCK, &signals, nil)
    return signals
}
