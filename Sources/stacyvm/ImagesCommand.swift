import ArgumentParser
import StacyConfig
import StacyJSON
import StacyProviders

/// `stacyvm images` (cli.md §3): root filesystems of the namespace provider, offline.
struct ImagesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "images",
                                                    abstract: "Root filesystems of the namespace provider: import and list.",
                                                    subcommands: [Import.self, List.self])

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy a root filesystem (a directory, or a tar archive, optionally gzip-compressed) "
                + "into providers.namespace.image_dir.")

        @Option(help: "Config file.")
        var config: String?
        @Argument(help: "Image name (':' and '/' become '_' in the directory name).")
        var name: String
        @Argument(help: "A root filesystem directory or a tar archive.")
        var source: String

        func run() throws {
            let images = try loadImages(config)
            do throws(ProviderError) {
                print(try images.importImage(name: name, from: source))
            } catch {
                reportImageError(error)
                throw Exit.runtimeError
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the built-in host image, the imported and the configured images, and the fallback.")

        @Option(help: "Config file.")
        var config: String?
        @Flag(help: "Print JSON: {\"images\":[{name, kind, bytes, path}], \"fallback\"}.")
        var json = false

        func run() throws {
            let images = try loadImages(config)
            let entries = images.sizes()
            if json {
                let document = listJSON(entries, fallback: images.fallback)
                print(String(decoding: try JanssonEncoder().encode(document), as: UTF8.self))
                return
            }
            printTable(entries)
            print(images.fallback.isEmpty ? "fallback: none (unknown images are refused)" : "fallback: \(images.fallback)")
        }

        private func listJSON(_ entries: [NamespaceImages.Entry], fallback: String) -> JSONValue {
            let rows: [JSONValue] = entries.map { entry in
                .object([("name", .string(entry.name)), ("kind", .string(entry.kind.rawValue)),
                         ("bytes", entry.bytes.map { .int($0) } ?? .null),
                         ("path", entry.path.map { .string($0) } ?? .null)])
            }
            return .object([("images", .array(rows)), ("fallback", .string(fallback))])
        }

        private func printTable(_ entries: [NamespaceImages.Entry]) {
            let rows = [["NAME", "KIND", "SIZE", "PATH"]]
                + entries.map { [$0.name, $0.kind.rawValue, $0.bytes.map(formatBytes) ?? "-", $0.path ?? "-"] }
            let widths = (0..<3).map { column in rows.map { $0[column].count }.max() ?? 0 }
            for row in rows {
                print((0..<3).map { row[$0].padding(widths[$0]) }.joined(separator: "  ") + "  " + row[3])
            }
        }
    }
}

/// The images as the configuration describes them. Invalid configuration exits 2 (loadConfig).
private func loadImages(_ configPath: String?) throws -> NamespaceImages {
    let config = try loadConfig(explicitPath: configPath).config
    guard let directory = config.value("providers.namespace.image_dir")?.stringValue, !directory.isEmpty else {
        printError("error: providers.namespace.image_dir is not set")
        throw Exit.usage
    }
    let fallback = config.value("providers.namespace.image_fallback")?.stringValue ?? NamespaceImages.hostName
    return NamespaceImages(imageDirectory: directory,
                           configured: config.value("providers.namespace.images")?.mapValue ?? [:], fallback: fallback)
}

/// One line on stderr, `error: <CODE>: <message>` (cli.md §1). This is the operator's own
/// command, so internal errors show their detail instead of the API's "internal error".
private func reportImageError(_ error: ProviderError) {
    let message: String
    if case .internal(let detail) = error { message = detail } else { message = error.message }
    printError("error: \(error.code): " + message.split(whereSeparator: \.isNewline).joined(separator: " "))
}

/// Sizes in binary units with one decimal (`512 B`, `1.5 KiB`, `12.0 MiB`).
private func formatBytes(_ bytes: Int64) -> String {
    guard bytes >= 1024 else { return "\(bytes) B" }
    var value = Double(bytes) / 1024
    for unit in ["KiB", "MiB", "GiB", "TiB"] {
        if value < 1024 || unit == "TiB" {
            let tenths = Int((value * 10).rounded())
            return "\(tenths / 10).\(tenths % 10) \(unit)"
        }
        value /= 1024
    }
    return "\(bytes) B"
}
