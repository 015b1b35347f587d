/// `stacyvm config validate --production` (cli.md): rules that a loopback development setup may
/// break but an exposed deployment must not.
extension LoadedConfig {
    public func productionProblems() -> [ConfigProblem] {
        let c = config
        var problems: [ConfigProblem] = []
        func has(_ key: String) -> Bool { c.value(key) != nil }

        let apiKeyRecords = c.value("auth.api_keys")?.recordsValue ?? []
        let authConfigured = has("auth.api_key") || has("auth.api_key_sha256") || has("auth.admin_api_key")
            || has("auth.admin_api_key_sha256") || !apiKeyRecords.isEmpty || c.value("auth.oidc_enabled")?.boolValue == true
        if !authConfigured {
            problems.append(ConfigProblem(key: "auth", message: "no API credential configured (api_key, admin_api_key, api_keys or OIDC)"))
        }

        let placeholders: Set<String> = ["change-me", "changeme", "replace-me"]
        for key in ["auth.api_key", "auth.admin_api_key", "auth.worker_token"] {
            guard let secret = c.value(key)?.stringValue else { continue }
            if secret.utf8.count < 32 {
                problems.append(ConfigProblem(key: key, message: "must be at least 32 bytes in production"))
            }
            if placeholders.contains(secret.lowercased()) {
                problems.append(ConfigProblem(key: key, message: "is a placeholder value"))
            }
            // The plaintext form is only acceptable when it came from a file.
            if key != "auth.worker_token" && !has(key + "_file") {
                problems.append(ConfigProblem(key: key, message: "plaintext secret in config; use \(key)_sha256 or \(key)_file"))
            }
        }
        if c.value("providers.default")?.stringValue == "mock" {
            problems.append(ConfigProblem(key: "providers.default", message: "mock provider gives no isolation"))
        }
        if has("auth.worker_token") {
            problems.append(ConfigProblem(key: "auth.worker_token", message: "shared worker token; issue per-worker credentials instead"))
        }
        if c.database.driver == "postgres" && c.source("auth.control_plane_signing_key_file") == .default {
            problems.append(ConfigProblem(key: "auth.control_plane_signing_key_file",
                                          message: "set an explicit signing key shared by every control plane"))
        }
        let loopback = ["127.0.0.1", "localhost", "::1", "[::1]"].contains(c.server.host) || c.server.host.hasPrefix("127.")
        if !loopback && c.server.tlsCertFile == nil && c.server.trustedProxies.isEmpty {
            problems.append(ConfigProblem(key: "server.host", message: "non-loopback listener needs TLS (server.tls.*) or server.trusted_proxies"))
        }
        return problems
    }
}
