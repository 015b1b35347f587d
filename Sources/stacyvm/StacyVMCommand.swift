import ArgumentParser

@main
struct StacyVMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stacyvm",
        abstract: "Self-hosted sandboxes for AI agents, code runners and developer tools.",
        subcommands: [ServeCommand.self, ConfigCommand.self, DBCommand.self, ImagesCommand.self, RoutesCommand.self,
                      VersionCommand.self, SpawnCommand.self, ExecCommand.self, ListCommand.self, KillCommand.self,
                      TemplatesCommand.self]
    )
}
