import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A per-key rule: returns a problem message for a bad value, nil when it is fine.
/// Rules only see values that already have the key's type.
public struct ConfigCheck: Sendable {
    public let apply: @Sendable (ConfigValue) -> String?
    public init(_ apply: @escaping @Sendable (ConfigValue) -> String?) { self.apply = apply }
}

extension ConfigCheck {
    public static func intRange(_ range: ClosedRange<Int>) -> ConfigCheck {
        ConfigCheck { v in
            guard let n = v.intValue, !range.contains(n) else { return nil }
            if range.upperBound == Int.max { return "must be at least \(range.lowerBound), got \(n)" }
            return "must be between \(range.lowerBound) and \(range.upperBound), got \(n)"
        }
    }

    public static func doubleRange(_ range: ClosedRange<Double>) -> ConfigCheck {
        ConfigCheck { v in
            guard let n = v.doubleValue, !range.contains(n) else { return nil }
            return "must be between \(range.lowerBound) and \(range.upperBound), got \(n)"
        }
    }

    /// An enumeration; on a list, every element must be one of the options.
    public static func oneOf(_ options: [String]) -> ConfigCheck {
        ConfigCheck { v in
            let items: [String]
            switch v {
            case .string(let s): items = [s]
            case .list(let l): items = l
            default: return nil
            }
            for item in items where !options.contains(item) {
                return "invalid value \"\(item)\" (expected one of: \(options.joined(separator: ", ")))"
            }
            return nil
        }
    }

    public static let nonNegativeDuration = ConfigCheck { v in
        guard let d = v.durationValue, d.nanoseconds < 0 else { return nil }
        return "must not be negative, got \(d)"
    }

    public static let positiveDuration = ConfigCheck { v in
        guard let d = v.durationValue, d.nanoseconds <= 0 else { return nil }
        return "must be positive, got \(d)"
    }

    public static let nonEmpty = ConfigCheck { v in
        guard let s = v.stringValue else { return nil }
        return s.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty ? "must not be empty" : nil
    }

    /// IDs, names: printable, no whitespace, at most 128 bytes.
    public static let identifier = ConfigCheck { v in
        guard let s = v.stringValue else { return nil }
        if s.isEmpty || s.utf8.count > 128 { return "must be 1 to 128 bytes" }
        if s.unicodeScalars.contains(where: { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F }) {
            return "must not contain whitespace or control characters"
        }
        return nil
    }

    public static let httpURL = ConfigCheck { v in
        guard let s = v.stringValue else { return nil }
        return isHTTPURL(s) ? nil : "invalid URL \"\(s)\" (expected http:// or https:// with a host)"
    }

    public static let hostOrIP = ConfigCheck { v in
        guard let s = v.stringValue else { return nil }
        return isHostname(s) || isIPAddress(s) ? nil : "invalid host \"\(s)\" (expected a DNS name or an IP address)"
    }

    /// `server.preview_domain`: a DNS name, optionally `:port`.
    public static let previewDomain = ConfigCheck { v in
        guard let s = v.stringValue else { return nil }
        var host = Substring(s)
        if let colon = s.lastIndex(of: ":") {
            guard let port = Int(s[s.index(after: colon)...]), (1...65535).contains(port) else {
                return "invalid port in \"\(s)\""
            }
            host = s[..<colon]
        }
        return isHostname(String(host)) ? nil : "invalid domain \"\(s)\" (expected a DNS name, optionally with :port)"
    }

    /// `*`, or `http(s)://host[:port]` with nothing after it (the form browsers send).
    public static let origins = ConfigCheck { v in
        guard let list = v.listValue else { return nil }
        for origin in list where origin != "*" && !isOrigin(origin) {
            return "invalid origin \"\(origin)\" (expected \"*\" or http(s)://host[:port])"
        }
        return nil
    }

    /// CIDRs (`10.0.0.0/8`, `fd00::/8`); a bare address counts as a single-host CIDR.
    public static let cidrs = ConfigCheck { v in
        guard let list = v.listValue else { return nil }
        for entry in list where !isCIDR(entry) {
            return "invalid CIDR \"\(entry)\""
        }
        return nil
    }

    public static let ports = ConfigCheck { v in
        guard let list = v.intListValue else { return nil }
        for port in list where !(1...65535).contains(port) {
            return "invalid port \(port) (expected 1-65535)"
        }
        return nil
    }

    /// Paths inside the sandbox: absolute.
    public static let absolutePaths = ConfigCheck { v in
        guard let list = v.listValue else { return nil }
        for p in list where !p.hasPrefix("/") {
            return "path \"\(p)\" must be absolute"
        }
        return nil
    }

    public static let autoOrAbsolutePath = ConfigCheck { v in
        guard let s = v.stringValue, s != "auto", !s.hasPrefix("/") else { return nil }
        return "must be \"auto\" or an absolute path, got \"\(s)\""
    }

    public static let hex64 = ConfigCheck { v in
        guard let s = v.stringValue else { return nil }
        return isHex64(s) ? nil : "must be 64 hexadecimal characters (a SHA-256)"
    }

    /// The embedded worker's ID: the worker ID pattern (README §4), and `local` or
    /// `local-*`, which are reserved for embedded workers.
    public static let embeddedWorkerID = ConfigCheck { v in
        guard let s = v.stringValue else { return nil }
        guard isWorkerID(s) else { return "invalid worker ID \"\(s)\"" }
        return s == "local" || s.hasPrefix("local-") ? nil : "must be \"local\" or start with \"local-\""
    }

    /// `worker.id`: the worker ID pattern (README §4); `local` and `local-*` belong to embedded workers.
    public static let remoteWorkerID = ConfigCheck { v in
        guard let s = v.stringValue else { return nil }
        guard isWorkerID(s) else { return "invalid worker ID \"\(s)\" (1-63 of letters, digits, '.', '_', '-', starting alphanumeric)" }
        return s.lowercased().hasPrefix("local") ? "\"\(s)\" is reserved for embedded workers (local*)" : nil
    }

    /// A base URL: `http(s)://host[:port]` with no path beyond `/` (`worker.control_plane_url`).
    public static let baseURL = ConfigCheck { v in
        guard let s = v.stringValue else { return nil }
        return isBaseURL(s) ? nil : "invalid URL \"\(s)\" (expected http:// or https:// with a host and no path)"
    }

    /// An http(s) URL whose host another machine can dial: not a wildcard address.
    public static let advertisableURL = ConfigCheck { v in
        guard let s = v.stringValue else { return nil }
        guard isHTTPURL(s) else { return "invalid URL \"\(s)\" (expected http:// or https:// with a host)" }
        return isWildcardHost(urlHost(s)) ? "\"\(s)\" has a wildcard host; advertise an address others can reach" : nil
    }

    /// `host:port` for a listener; empty means "no listener".
    public static let listenAddress = ConfigCheck { v in
        guard let s = v.stringValue, !s.isEmpty else { return nil }
        return isListenAddress(s) ? nil : "invalid address \"\(s)\" (expected host:port, e.g. 127.0.0.1:7430 or :7430)"
    }

    /// An inclusive duration range, bounds in Go syntax (`"1s"`, `"5m"`).
    public static func durationRange(_ low: String, _ high: String) -> ConfigCheck {
        let lower = try! GoDuration.parse(low), upper = try! GoDuration.parse(high)
        return ConfigCheck { v in
            guard let d = v.durationValue, d < lower || d > upper else { return nil }
            return "must be between \(lower) and \(upper), got \(d)"
        }
    }

    /// `providers.namespace.images`: image name → root directory.
    public static let imageMap = ConfigCheck { v in
        guard let m = v.mapValue else { return nil }
        for name in m.keys.sorted() {
            if name.isEmpty { return "image names must not be empty" }
            if m[name]!.isEmpty { return "image \"\(name)\" needs a directory" }
        }
        return nil
    }

    /// `auth.api_keys`: `[{sha256, role, tenant_id?, owner_id?}]`.
    public static let apiKeyRecords = ConfigCheck { v in
        guard let records = v.recordsValue else { return nil }
        let allowed: Set<String> = ["sha256", "role", "tenant_id", "owner_id", "description"]
        for (index, record) in records.enumerated() {
            if let extra = record.keys.sorted().first(where: { !allowed.contains($0) }) {
                return "entry \(index): unknown field \"\(extra)\""
            }
            guard let hash = record["sha256"], isHex64(hash) else {
                return "entry \(index): sha256 must be 64 hexadecimal characters"
            }
            guard let role = record["role"], KeyTable.roles.contains(role) else {
                return "entry \(index): role must be one of \(KeyTable.roles.joined(separator: ", "))"
            }
        }
        return nil
    }
}

// MARK: - Syntax helpers

func isHex64(_ s: String) -> Bool {
    s.utf8.count == 64 && s.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) || ($0 >= 65 && $0 <= 70) }
}

func isWorkerID(_ s: String) -> Bool {
    let bytes = Array(s.utf8)
    guard (1...63).contains(bytes.count) else { return false }
    func alnum(_ c: UInt8) -> Bool { (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) }
    return alnum(bytes[0]) && bytes.allSatisfy { alnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
}

/// RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens.
func isHostname(_ s: String) -> Bool {
    let bytes = Array(s.utf8)
    guard !bytes.isEmpty, bytes.count <= 253 else { return false }
    for label in s.split(separator: ".", omittingEmptySubsequences: false) {
        let l = Array(label.utf8)
        guard (1...63).contains(l.count), l.first != UInt8(ascii: "-"), l.last != UInt8(ascii: "-") else { return false }
        guard l.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == UInt8(ascii: "-") }) else {
            return false
        }
    }
    return true
}

func isIPv4(_ s: String) -> Bool {
    var addr = in_addr()
    return inet_pton(AF_INET, s, &addr) == 1
}

func isIPv6(_ s: String) -> Bool {
    var addr = in6_addr()
    return inet_pton(AF_INET6, s, &addr) == 1
}

func isIPAddress(_ s: String) -> Bool { isIPv4(s) || isIPv6(s) }

func isCIDR(_ s: String) -> Bool {
    let parts = s.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count <= 2 else { return false }
    let address = String(parts[0])
    let maxBits: Int
    if isIPv4(address) { maxBits = 32 } else if isIPv6(address) { maxBits = 128 } else { return false }
    guard parts.count == 2 else { return true }
    let bits = parts[1]
    guard !bits.isEmpty, bits.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let n = Int(bits) else { return false }
    return n <= maxBits
}

/// host[:port] where host is a DNS name, an IPv4 address or a bracketed IPv6 address.
func isHostPort(_ s: Substring) -> Bool {
    var host = s
    var portText: Substring? = nil
    if s.hasPrefix("[") {
        guard let close = s.firstIndex(of: "]") else { return false }
        host = s[s.index(after: s.startIndex)..<close]
        let rest = s[s.index(after: close)...]
        if !rest.isEmpty {
            guard rest.hasPrefix(":") else { return false }
            portText = rest.dropFirst()
        }
        guard isIPv6(String(host)) else { return false }
    } else {
        if let colon = s.lastIndex(of: ":") {
            host = s[..<colon]
            portText = s[s.index(after: colon)...]
        }
        guard isHostname(String(host)) || isIPv4(String(host)) else { return false }
    }
    if let p = portText {
        guard !p.isEmpty, p.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let n = Int(p), (1...65535).contains(n) else {
            return false
        }
    }
    return true
}

/// `http(s)://host[:port]` with at most a trailing `/`.
func isBaseURL(_ s: String) -> Bool {
    guard isHTTPURL(s), let afterScheme = s.range(of: "://") else { return false }
    let rest = s[afterScheme.upperBound...]
    guard let slash = rest.firstIndex(where: { "/?#".contains($0) }) else { return true }
    return rest[slash...] == "/"
}

/// The host part of an http(s) URL (brackets of IPv6 removed), "" when there is none.
public func urlHost(_ s: String) -> String {
    guard let afterScheme = s.range(of: "://") else { return "" }
    let authority = s[afterScheme.upperBound...].prefix { !"/?#".contains($0) }
    if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
        return String(authority[authority.index(after: authority.startIndex)..<close])
    }
    if let colon = authority.lastIndex(of: ":") { return String(authority[..<colon]) }
    return String(authority)
}

/// Hosts that mean "every interface" when listening, so nobody can dial them.
public func isWildcardHost(_ host: String) -> Bool {
    host.isEmpty || host == "0.0.0.0" || host == "::" || host == "[::]"
}

/// `host:port` or `:port` (every interface); port 0 asks the kernel for a free one.
func isListenAddress(_ s: String) -> Bool {
    guard let colon = s.lastIndex(of: ":") else { return false }
    let host = s[..<colon], port = s[s.index(after: colon)...]
    guard !port.isEmpty, port.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let n = Int(port), (0...65535).contains(n) else {
        return false
    }
    return host.isEmpty || isHostPort(host)
}

/// A browser origin: `http(s)://host[:port]`, no path, query, fragment or user info.
func isOrigin(_ s: String) -> Bool {
    for scheme in ["http://", "https://"] where s.lowercased().hasPrefix(scheme) {
        let rest = s.dropFirst(scheme.count)
        if rest.contains(where: { "/?#@ ".contains($0) }) { return false }
        return isHostPort(rest)
    }
    return false
}

/// An absolute http(s) URL with a valid host (paths allowed).
func isHTTPURL(_ s: String) -> Bool {
    guard let c = URLComponents(string: s), let scheme = c.scheme?.lowercased(),
          scheme == "http" || scheme == "https" else { return false }
    guard let afterScheme = s.range(of: "://") else { return false }
    let authority = s[afterScheme.upperBound...].prefix { !"/?#".contains($0) }
    if authority.contains("@") || authority.isEmpty { return false }
    return isHostPort(authority)
}

// MARK: - Rules that involve several keys

/// Checks that need more than one key, on the effective, typed values (secret
/// `_file` contents already read). The secret-forms conflict is checked by the loader.
func crossValidate(_ values: [String: ConfigValue]) -> [ConfigProblem] {
    var problems: [ConfigProblem] = []
    func has(_ key: String) -> Bool { values[key] != nil }
    func str(_ key: String) -> String? { values[key]?.stringValue }

    // PostgreSQL needs a DSN.
    if str("database.driver") == "postgres" && !has("database.dsn") && !has("database.dsn_file") {
        problems.append(ConfigProblem(key: "database.dsn", message: "required when database.driver is postgres"))
    }

    let authConfigured = has("auth.api_key") || has("auth.api_key_sha256") || has("auth.api_key_file")
        || has("auth.admin_api_key") || has("auth.admin_api_key_sha256") || has("auth.admin_api_key_file")
        || !(values["auth.api_keys"]?.recordsValue ?? []).isEmpty
        || values["auth.oidc_enabled"]?.boolValue == true

    if values["server.cors_allowed_origins"]?.listValue?.contains("*") == true && !authConfigured {
        problems.append(ConfigProblem(key: "server.cors_allowed_origins",
                                      message: "\"*\" requires authentication (an API key, admin key, auth.api_keys or OIDC)"))
    }
    if values["auth.enabled"]?.boolValue == true && !authConfigured {
        problems.append(ConfigProblem(key: "auth.enabled",
                                      message: "true requires a credential (an API key, admin key, auth.api_keys or OIDC)"))
    }

    if values["auth.oidc_enabled"]?.boolValue == true {
        if !has("auth.oidc_issuer") {
            problems.append(ConfigProblem(key: "auth.oidc_issuer", message: "required when auth.oidc_enabled is true"))
        }
        if !has("auth.oidc_jwks_url") && !has("auth.oidc_public_key") && !has("auth.oidc_public_key_file") {
            problems.append(ConfigProblem(key: "auth.oidc_jwks_url",
                                          message: "auth.oidc_enabled needs auth.oidc_jwks_url or auth.oidc_public_key"))
        }
    }

    if has("server.tls.cert_file") != has("server.tls.key_file") {
        let missing = has("server.tls.cert_file") ? "server.tls.key_file" : "server.tls.cert_file"
        problems.append(ConfigProblem(key: missing, message: "server.tls needs both cert_file and key_file"))
    }

    if let ttl = values["defaults.ttl"]?.durationValue, let max = values["defaults.max_ttl"]?.durationValue,
       max.nanoseconds > 0, ttl > max {
        problems.append(ConfigProblem(key: "defaults.ttl", message: "\(ttl) exceeds defaults.max_ttl \(max)"))
    }
    if let t = values["defaults.default_exec_timeout"]?.durationValue,
       let max = values["defaults.max_exec_timeout"]?.durationValue, t > max {
        problems.append(ConfigProblem(key: "defaults.default_exec_timeout",
                                      message: "\(t) exceeds defaults.max_exec_timeout \(max)"))
    }
    if let mem = values["defaults.memory_mb"]?.intValue, let max = values["limits.max_memory_mb"]?.intValue, mem > max {
        problems.append(ConfigProblem(key: "defaults.memory_mb", message: "\(mem) exceeds limits.max_memory_mb \(max)"))
    }
    if let cpus = values["defaults.vcpus"]?.intValue, let max = values["limits.max_vcpus"]?.intValue, cpus > max {
        problems.append(ConfigProblem(key: "defaults.vcpus", message: "\(cpus) exceeds limits.max_vcpus \(max)"))
    }
    if let net = str("providers.namespace.network"),
       let allowed = values["providers.namespace.allowed_networks"]?.listValue, !allowed.contains(net) {
        problems.append(ConfigProblem(key: "providers.namespace.network",
                                      message: "\"\(net)\" is not in providers.namespace.allowed_networks"))
    }
    if let stale = values["workers.stale_after_intervals"]?.intValue,
       let lost = values["workers.lost_after_intervals"]?.intValue, lost <= stale {
        problems.append(ConfigProblem(key: "workers.lost_after_intervals",
                                      message: "\(lost) must be greater than workers.stale_after_intervals \(stale)"))
    }
    // A worker listening on every interface must say where the control plane can reach it.
    if let listen = str("worker.listen_addr"), !listen.isEmpty, !has("worker.advertise_url") {
        let host = listen.hasPrefix("[") ? String(listen.dropFirst().prefix { $0 != "]" }) : String(listen[..<(listen.lastIndex(of: ":") ?? listen.endIndex)])
        if isWildcardHost(host) {
            problems.append(ConfigProblem(key: "worker.advertise_url",
                                          message: "required when worker.listen_addr (\(listen)) listens on every interface"))
        }
    }
    if values["worker.rpc_tls.enabled"]?.boolValue == true {
        for key in ["worker.rpc_tls.server_cert_file", "worker.rpc_tls.server_key_file"] where !has(key) {
            problems.append(ConfigProblem(key: key, message: "required when worker.rpc_tls.enabled is true"))
        }
    }
    return problems
}
