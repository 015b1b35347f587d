import ArgumentParser
import StacyConfig

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "config", abstract: "Check or print the configuration.",
                                                    subcommands: [Validate.self, Show.self])

    struct Validate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate the configuration; print every problem with its key.")

        @Option(name: [.customLong("file"), .customLong("config")], help: "Config file to check.")
        var file: String?
        @Flag(help: "Also apply the rules for exposed deployments.")
        var production = false
        @Flag(help: "Treat warnings as errors.")
        var strict = false

        func run() throws {
            let loaded = try loadConfig(explicitPath: file, requireValid: false)
            var problems = loaded.problems
            if production { problems += loaded.productionProblems() }
            if strict { problems += loaded.warnings } else {
                for warning in loaded.warnings { print("warning: \(warning.key): \(warning.message)") }
            }
            if problems.isEmpty {
                print("ok")
                return
            }
            for problem in problems { print("\(problem.key): \(problem.message)") }
            throw Exit.usage
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print the effective configuration, secrets redacted.")

        @Option(name: [.customLong("file"), .customLong("config")], help: "Config file to load.")
        var file: String?
        @Flag(help: "Mark where each value came from.")
        var sources = false
        @Flag(help: "Print secrets instead of ***.")
        var showSecrets = false
        @Option(name: [.short, .customLong("output")], help: "yaml or json.")
        var output: String = "yaml"

        func run() throws {
            guard output == "yaml" || output == "json" else {
                printError("error: --output must be yaml or json")
                throw Exit.usage
            }
            let loaded = try loadConfig(explicitPath: file, requireValid: false)
            for problem in loaded.problems { printError("\(problem.key): \(problem.message)") }
            print(loaded.render(json: output == "json", showSecrets: showSecrets, sources: sources), terminator: output == "json" ? "\n" : "")
            if !loaded.problems.isEmpty { throw Exit.usage }
        }
    }
}
