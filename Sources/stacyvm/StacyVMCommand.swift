import ArgumentParser
import Foundation

@main
struct StacyVMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stacyvm",
        abstract: "Self-hosted sandboxes for AI agents, code runners and developer tools.",
        subcommands: [ServeCommand.self, ConfigCommand.self, DBCommand.self, ImagesCommand.self, RoutesCommand.self,
                      VersionCommand.self, SpawnCommand.self, ExecCommand.self, ListCommand.self, KillCommand.self,
                      TemplatesCommand.self, WorkerCommand.self, WorkersCommand.self, TokenCommand.self]
    )

    /// cli.md §1: a usage error exits 2 (ArgumentParser's own code for it is 64, EX_USAGE).
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(Exit.usage.rawValue)
            }
            exit(withError: error)
        }
    }
}
