import StacyJSON

/// The one error type that crosses the HTTP boundary. Every failure a caller sees is one of
/// these, rendered as the envelope `{"code":"UPPER_CASE","message":"…"}` (api.md §2).
public struct APIError: Error, Sendable, Equatable, CustomStringConvertible {
    public let status: Int
    public let code: String
    public let message: String
    /// Extra response headers, e.g. `Allow` on 405 or `Retry-After` on 429.
    public var headers: [(String, String)]

    public init(status: Int, code: String, message: String, headers: [(String, String)] = []) {
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers
    }

    public var description: String { "\(status) \(code): \(message)" }

    public static func == (lhs: APIError, rhs: APIError) -> Bool {
        lhs.status == rhs.status && lhs.code == rhs.code && lhs.message == rhs.message
    }

    public static func badRequest(_ message: String) -> APIError {
        APIError(status: 400, code: "BAD_REQUEST", message: message)
    }
    public static func notFound(_ message: String = "not found") -> APIError {
        APIError(status: 404, code: "NOT_FOUND", message: message)
    }
    public static let routeNotFound = APIError(status: 404, code: "NOT_FOUND", message: "route not found")
    public static func methodNotAllowed(allowed: [String]) -> APIError {
        APIError(status: 405, code: "METHOD_NOT_ALLOWED", message: "method not allowed",
                 headers: [("Allow", allowed.joined(separator: ", "))])
    }
    public static func payloadTooLarge(limit: Int) -> APIError {
        APIError(status: 413, code: "PAYLOAD_TOO_LARGE", message: "request body exceeds \(limit) bytes")
    }
    public static func unsupportedMediaType(_ message: String) -> APIError {
        APIError(status: 415, code: "UNSUPPORTED_MEDIA_TYPE", message: message)
    }
    public static let internalError = APIError(status: 500, code: "INTERNAL_ERROR", message: "internal error")
    public static func unavailable(_ message: String) -> APIError {
        APIError(status: 503, code: "UNAVAILABLE", message: message)
    }
}

/// The wire shape of every error body.
public struct ErrorEnvelope: Codable, Sendable, Equatable {
    public let code: String
    public let message: String
    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }
}

extension APIError {
    /// The error as a response: envelope body, its status and extra headers.
    public var response: HTTPResponse {
        var response = HTTPResponse.json(ErrorEnvelope(code: code, message: message), status: status)
        response.headers.append(contentsOf: headers)
        return response
    }
}
