import ArgumentParser
import StacyJSON
import StacyServer

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print version and build facts.")

    @Flag(help: "Print JSON.")
    var json = false

    struct Info: Codable {
        var version: String
        var commit: String
        var built_at: String
        var swift: String
        var os: String
        var arch: String
        var protocol_version: Int
    }

    func run() throws {
        let info = Info(version: BuildInfo.version, commit: BuildInfo.commit, built_at: BuildInfo.builtAt,
                        swift: BuildInfo.swiftVersion, os: BuildInfo.os, arch: BuildInfo.arch,
                        protocol_version: BuildInfo.protocolVersion)
        if json {
            print(String(decoding: try JanssonEncoder().encode(info), as: UTF8.self))
        } else {
            print("stacyvm \(info.version) (commit \(info.commit), built \(info.built_at), Swift \(info.swift), \(info.os)/\(info.arch), worker protocol \(info.protocol_version))")
        }
    }
}
