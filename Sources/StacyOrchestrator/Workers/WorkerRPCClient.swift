import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import StacyAPI
import StacyJSON
import StacyWorkerProto

/// Where and how to reach one worker.
public struct WorkerAddress: Sendable, Equatable {
    public var id: String
    public var rpcURL: String
    public init(id: String, rpcURL: String) {
        self.id = id
        self.rpcURL = rpcURL
    }
}

/// The control plane's typed RPC client (workers.md §3.2, §7): one envelope per call, signed with a
/// fresh single-use token bound to that envelope, with a per-method timeout.
public final class WorkerRPCClient: Sendable {
    private let instanceID: String
    private let key: ControlPlaneSigningKey
    private let session: URLSession

    public init(instanceID: String, key: ControlPlaneSigningKey) {
        self.instanceID = instanceID
        self.key = key
        let configuration = URLSessionConfiguration.ephemeral
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        configuration.httpMaximumConnectionsPerHost = 64
        session = URLSession(configuration: configuration)
    }

    deinit { session.finishTasksAndInvalidate() }

    public func call<Params: Encodable, Result: Decodable>(
        _ method: RPCMethod, on worker: WorkerAddress, sandboxID: String? = nil, lease: LeaseToken? = nil,
        params: Params, timeoutSeconds: Double, as: Result.Type = Result.self
    ) async throws(RPCError) -> Result {
        let id = Self.requestID(method, sandboxID: sandboxID)
        let envelope: [UInt8]
        let token: String
        do {
            envelope = try JanssonEncoder().encode(RPCRequest(id: id, method: method.rawValue, workerID: worker.id,
                                                              lease: lease, params: try RPCJSON.value(params)))
            let now = Int64(Date().timeIntervalSince1970)
            let claims = ControlPlaneClaims(iss: instanceID, workerID: worker.id, scopes: [method.scope], iat: now,
                                            exp: now + ControlPlaneToken.maxLifetimeSeconds, jti: Self.randomHex(16), req: id)
            token = try ControlPlaneToken.mint(claims, sign: key.sign)
        } catch {
            throw RPCError(.internal, "cannot build the RPC request: \(error)")
        }
        var base = worker.rpcURL
        while base.hasSuffix("/") { base.removeLast() }
        guard let url = URL(string: base + "/rpc") else { throw RPCError(code: "INTERNAL", message: "bad rpc_url \(worker.rpcURL)", transport: true) }
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.timeoutInterval = timeoutSeconds
        request.httpBody = Data(envelope)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue(worker.id, forHTTPHeaderField: "X-Worker-ID")
        request.setValue(token, forHTTPHeaderField: "X-Worker-Token")
        let (status, body) = try await send(request)
        guard let response = try? JanssonDecoder().decode(RPCResponse.self, from: body) else {
            throw RPCError(code: "INTERNAL", message: "worker answered HTTP \(status) without an RPC envelope", transport: true)
        }
        if let error = response.error { throw RPCError(code: error.code, message: error.message) }
        guard response.id == id else { throw RPCError(.internal, "worker answered another request (\(response.id))") }
        do { return try RPCJSON.decode(Result.self, from: response.result) } catch {
            throw RPCError(.internal, "worker result does not fit \(method.rawValue)")
        }
    }

    private func send(_ request: URLRequest) async throws(RPCError) -> (Int, [UInt8]) {
        let session = self.session
        let outcome: Result<(Int, [UInt8]), RPCError> = await withCheckedContinuation { continuation in
            session.dataTask(with: request) { data, response, error in
                if let error {
                    continuation.resume(returning: .failure(Self.transportError(error)))
                } else if let http = response as? HTTPURLResponse {
                    continuation.resume(returning: .success((http.statusCode, [UInt8](data ?? Data()))))
                } else {
                    continuation.resume(returning: .failure(RPCError(code: "INTERNAL", message: "no HTTP response",
                                                                     ambiguous: true, transport: true)))
                }
            }.resume()
        }
        return try outcome.get()
    }

    /// Refused connections never reached the worker; a timeout or a connection lost after
    /// sending may have (workers.md §8, steps 5 and 6).
    static func transportError(_ error: Error) -> RPCError {
        let code = (error as? URLError)?.code
        let unreached: Set<URLError.Code> = [.cannotConnectToHost, .cannotFindHost, .dnsLookupFailed, .badURL,
                                             .unsupportedURL, .secureConnectionFailed]
        let ambiguous = code.map { !unreached.contains($0) } ?? true
        return RPCError(code: "INTERNAL", message: "worker unreachable: \(error.localizedDescription)",
                        ambiguous: ambiguous, transport: true)
    }

    /// `<method>-<sandbox>-<random>` (workers.md §7.2): unique per call.
    static func requestID(_ method: RPCMethod, sandboxID: String?) -> String {
        let name = method.rawValue.replacingOccurrences(of: "worker.", with: "")
        return [name, sandboxID, randomHex(6)].compactMap { $0 }.joined(separator: "-")
    }

    static func randomHex(_ bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255, using: &generator)) }.joined()
    }
}
