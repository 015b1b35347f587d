import Crypto
import Foundation
import StacyStore

/// The control plane's Ed25519 key (workers.md §2, §3.2): it signs every RPC token sent to workers;
/// workers verify with the public half, which heartbeat responses and credential issuance carry.
///
/// The file holds the 32-byte private seed in base64 on one line, mode 0600. It is generated on
/// first start; every control plane of a cluster must be given the same file.
public struct ControlPlaneSigningKey: Sendable {
    /// The key, derived once: re-deriving it from the seed per RPC cost more than the signature.
    private let signer: Signer
    public let publicKey: [UInt8]

    /// Crypto's key type is not declared Sendable; signing only reads it.
    private final class Signer: @unchecked Sendable {
        let key: Curve25519.Signing.PrivateKey
        init(_ key: Curve25519.Signing.PrivateKey) { self.key = key }
    }

    /// `ed25519:<base64 of the 32-byte public key>` (api.md §8.8).
    public var publicKeyText: String { "ed25519:" + Data(publicKey).base64EncodedString() }

    /// First 16 hex characters of the SHA-256 of the public key: names the key in logs and responses.
    public var keyID: String { String(StacyStore.SHA256.hex(publicKey).prefix(16)) }

    public init(privateKey: Curve25519.Signing.PrivateKey) {
        signer = Signer(privateKey)
        publicKey = Array(privateKey.publicKey.rawRepresentation)
    }

    /// An Ed25519 signature of `message`.
    public func sign(_ message: [UInt8]) throws -> [UInt8] {
        Array(try signer.key.signature(for: message))
    }

    /// Loads the key at `path`, or creates it (exclusively, 0600) when the file does not exist.
    public static func loadOrCreate(path: String) throws -> ControlPlaneSigningKey {
        if let text = try? String(contentsOfFile: path, encoding: .utf8) {
            return try parse(text, path: path)
        }
        let key = Curve25519.Signing.PrivateKey()
        let line = key.rawRepresentation.base64EncodedString() + "\n"
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o711])
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            // Another process created it first: use theirs, so both sign with one key.
            if errno == EEXIST, let text = try? String(contentsOfFile: path, encoding: .utf8) { return try parse(text, path: path) }
            throw StartupError("cannot create control-plane signing key \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let bytes = Array(line.utf8)
        guard write(fd, bytes, bytes.count) == bytes.count, fsync(fd) == 0 else {
            throw StartupError("cannot write control-plane signing key \(path): \(String(cString: strerror(errno)))")
        }
        return ControlPlaneSigningKey(privateKey: key)
    }

    static func parse(_ text: String, path: String) throws -> ControlPlaneSigningKey {
        guard let raw = Data(base64Encoded: text.trimmingCharacters(in: .whitespacesAndNewlines)),
              let key = try? Curve25519.Signing.PrivateKey(rawRepresentation: raw) else {
            throw StartupError("\(path) is not a control-plane signing key (expected the base64 of a 32-byte Ed25519 seed)")
        }
        return ControlPlaneSigningKey(privateKey: key)
    }
}

/// A start-up failure with a message for the operator.
public struct StartupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
