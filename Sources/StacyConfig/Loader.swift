import Foundation

extension Config {
    /// Discovers, parses, layers (defaults < file < env < flags), resolves and validates.
    ///
    /// Throws only when an explicitly named file (`--config`, `STACYVM_CONFIG`) is missing
    /// or unreadable, or the file is not parseable YAML/JSON. Every other issue is a
    /// `ConfigProblem` (or a warning) in the result, all of them collected in one pass.
    ///
    /// Relative paths set in the file resolve against the file's directory; relative
    /// paths set by env vars or flags resolve against the working directory (where the
    /// person typing them is), as do file-less configurations. `~/` means the home dir.
    public static func load(_ options: LoadOptions) throws(ConfigError) -> LoadedConfig {
        var loader = Loader(options: options)
        return try loader.run()
    }
}

/// Raw value of one key in one layer.
private enum LayerInput {
    case node(RawNode)
    case text(String)
}

private struct Loader {
    let options: LoadOptions
    var problems: [ConfigProblem] = []
    var warnings: [ConfigProblem] = []
    var values: [String: ConfigValue] = [:]
    var sources: [String: ConfigSource] = [:]

    init(options: LoadOptions) { self.options = options }

    mutating func run() throws(ConfigError) -> LoadedConfig {
        let filePath = try discover()
        var fileLayer: [String: RawNode] = [:]
        var fileDir: String? = nil
        if let filePath {
            fileDir = (filePath as NSString).deletingLastPathComponent
            let root = try parseFile(filePath)
            switch root {
            case .null: break // empty file: defaults only
            case .map(let pairs): flatten(pairs, prefix: "", into: &fileLayer)
            default: problems.append(ConfigProblem(key: "config", message: "the file must hold a map of settings"))
            }
        }
        let envLayer = environmentLayer()
        var flagLayer: [String: String] = [:]
        for (key, text) in options.flags.sorted(by: { $0.key < $1.key }) {
            if KeyTable.byKey[key] != nil { flagLayer[key] = text } else {
                problems.append(ConfigProblem(key: key, message: "unknown key"))
            }
        }

        // Pick the winning layer for each key and type it. A rejected value is a problem
        // and leaves the key at its default.
        for entry in KeyTable.all {
            let candidate: (LayerInput, ConfigSource)?
            if let t = flagLayer[entry.key] { candidate = (.text(t), .flag) }
            else if let t = envLayer[entry.key] { candidate = (.text(t), .env) }
            else if let n = fileLayer[entry.key] { candidate = (.node(n), .file) }
            else { candidate = nil }
            guard let (input, source) = candidate else { continue }
            let outcome: Typer.Outcome
            switch input {
            case .node(let n): outcome = Typer.type(n, as: entry.type)
            case .text(let t): outcome = Typer.type(text: t, as: entry.type)
            }
            switch outcome {
            case .unset:
                continue
            case .problem(let message):
                problems.append(ConfigProblem(key: entry.key, message: message + origin(source)))
            case .value(var value):
                // An empty string for a key without a default means "not set" (a common
                // way to blank out an env var); keys with defaults keep "" (image_fallback).
                if value == .string(""), case .none = entry.defaultValue { continue }
                if entry.isPath {
                    let base = source == .file ? (fileDir ?? options.workingDirectory) : options.workingDirectory
                    value = resolvePaths(value, base: base)
                }
                values[entry.key] = value
                sources[entry.key] = source
            }
        }

        // Per-key rules on what was set explicitly; a rejected value is dropped so the
        // default below takes its place (defaults are valid by construction, and tested).
        for entry in KeyTable.all {
            guard let value = values[entry.key] else { continue }
            if let message = entry.checks.lazy.compactMap({ $0.apply(value) }).first {
                problems.append(ConfigProblem(key: entry.key, message: message))
                values[entry.key] = nil
                sources[entry.key] = nil
            }
        }

        // Defaults, in table order so derived ones can use `server.data_dir`.
        for entry in KeyTable.all where values[entry.key] == nil {
            let value: ConfigValue?
            switch entry.defaultValue {
            case .none: value = nil
            case .value(let v): value = v
            case .derived(let make):
                value = make(DefaultContext(isRoot: options.isRoot, homeDirectory: normalizePath(options.homeDirectory),
                                            environment: options.environment, values: values))
            }
            if let value {
                values[entry.key] = value
                sources[entry.key] = .default
            }
        }

        loadSecretFiles()

        problems.append(contentsOf: crossValidate(values))

        return LoadedConfig(config: Config(values: values, sources: sources), filePath: filePath,
                            problems: problems, warnings: warnings)
    }

    private func origin(_ source: ConfigSource) -> String {
        switch source {
        case .env: return " (from environment)"
        case .flag: return " (from flag)"
        default: return ""
        }
    }

    // MARK: Discovery (cli.md §2)

    /// `--config`, `STACYVM_CONFIG`, `./stacyvm.yaml`, `~/.stacyvm/config.yaml`, none.
    /// Only the explicitly named files must exist.
    private func discover() throws(ConfigError) -> String? {
        if let explicit = options.explicitPath {
            return try requireFile(explicit, from: "--config")
        }
        if let fromEnv = options.environment["STACYVM_CONFIG"], !fromEnv.isEmpty {
            return try requireFile(fromEnv, from: "STACYVM_CONFIG")
        }
        let candidates = [
            absolute("stacyvm.yaml", base: options.workingDirectory),
            absolute(".stacyvm/config.yaml", base: options.homeDirectory),
        ]
        return candidates.first { isRegularFile($0) }
    }

    private func requireFile(_ path: String, from origin: String) throws(ConfigError) -> String {
        let abs = absolute(expandTilde(path), base: options.workingDirectory)
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: abs, isDirectory: &isDir) else {
            throw ConfigError("config file \(path) (from \(origin)) does not exist")
        }
        if isDir.boolValue { throw ConfigError("config file \(path) (from \(origin)) is a directory") }
        return abs
    }

    private func isRegularFile(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && !isDir.boolValue
    }

    private func parseFile(_ path: String) throws(ConfigError) -> RawNode {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError("cannot read config file \(path)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError("config file \(path) is not UTF-8")
        }
        do {
            // JSON by name, as the spec says; everything else is YAML.
            if path.lowercased().hasSuffix(".json") { return try RawParser.parseJSON(text) }
            return try RawParser.parseYAML(text)
        } catch {
            throw ConfigError("\(path): \(error.message)")
        }
    }

    // MARK: Layers

    /// Nested maps become dotted key paths. A map at a known map-typed key is a value;
    /// a map at a section (`server`) is descended into; anything else is unknown, unless
    /// it is one of the original's unsupported keys, which only warns.
    private mutating func flatten(_ pairs: [(String, RawNode)], prefix: String, into layer: inout [String: RawNode]) {
        for (name, node) in pairs {
            let path = prefix.isEmpty ? name : prefix + "." + name
            if KeyTable.isUnsupported(path) {
                warnings.append(ConfigProblem(key: path, message: "unsupported in this version, ignored"))
                continue
            }
            if KeyTable.byKey[path] != nil {
                layer[path] = node
                continue
            }
            if KeyTable.sections.contains(path) {
                switch node {
                case .map(let children): flatten(children, prefix: path, into: &layer)
                case .null: break // an empty section
                default: problems.append(ConfigProblem(key: path, message: "expected a map of settings"))
                }
                continue
            }
            problems.append(ConfigProblem(key: path, message: "unknown key"))
        }
    }

    /// `STACYVM_<KEY>` variables, matched against the table's env names.
    private mutating func environmentLayer() -> [String: String] {
        var layer: [String: String] = [:]
        for (name, value) in options.environment.sorted(by: { $0.key < $1.key }) where name.hasPrefix("STACYVM_") {
            if let key = KeyTable.byEnvName[name] {
                layer[key] = value
            } else if !KeyTable.ignoredEnvNames.contains(name) {
                warnings.append(ConfigProblem(key: name, message: "unknown environment variable, ignored"))
            }
        }
        return layer
    }

    // MARK: Secrets

    /// A secret may be given inline, as `<key>_file` or (API keys) as `<key>_sha256`:
    /// exactly one form. The file's trimmed contents become `<key>`'s value, with the
    /// `_file` key's source.
    private mutating func loadSecretFiles() {
        for entry in KeyTable.base where entry.fileVariant || entry.sha256Variant {
            let fileKey = entry.key + "_file"
            let forms = [entry.key, fileKey, entry.key + "_sha256"].filter { values[$0] != nil }
            if forms.count > 1 {
                problems.append(ConfigProblem(key: forms.last!, message: "set only one of \(forms.joined(separator: ", "))"))
                continue
            }
            guard entry.fileVariant, let path = values[fileKey]?.stringValue else { continue }
            guard let data = FileManager.default.contents(atPath: path) else {
                problems.append(ConfigProblem(key: fileKey, message: "cannot read \(path)"))
                continue
            }
            let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            if text.isEmpty {
                problems.append(ConfigProblem(key: fileKey, message: "\(path) is empty"))
                continue
            }
            values[entry.key] = .string(text)
            sources[entry.key] = sources[fileKey]
        }
    }

    // MARK: Paths

    private func resolvePaths(_ value: ConfigValue, base: String) -> ConfigValue {
        switch value {
        case .string(let s):
            // SQLite's in-memory database is not a path; "" stays "" so its key's
            // non-empty rule reports it instead of it silently becoming the base dir.
            if s == ":memory:" || s.isEmpty { return value }
            return .string(absolute(expandTilde(s), base: base))
        case .map(let m):
            return .map(m.mapValues { absolute(expandTilde($0), base: base) })
        default:
            return value
        }
    }

    private func expandTilde(_ path: String) -> String {
        if path == "~" { return options.homeDirectory }
        if path.hasPrefix("~/") { return options.homeDirectory + String(path.dropFirst(1)) }
        return path
    }

    private func absolute(_ path: String, base: String) -> String {
        normalizePath(path.hasPrefix("/") ? path : base + "/" + path)
    }
}

/// Lexical normalisation (`.`, `..`, repeated slashes) of an absolute path; symlinks
/// are left alone on purpose, so the path shown is the path configured.
func normalizePath(_ path: String) -> String {
    var parts: [Substring] = []
    for part in path.split(separator: "/", omittingEmptySubsequences: true) {
        if part == "." { continue }
        if part == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
        parts.append(part)
    }
    return "/" + parts.joined(separator: "/")
}
