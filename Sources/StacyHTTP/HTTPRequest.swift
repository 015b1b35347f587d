import StacyJSON

/// Request headers with case-insensitive lookup. Names keep the case the client sent.
public struct HTTPHeaders: Sendable, Sequence {
    private var entries: [(name: String, value: String)] = []

    public init(_ entries: [(String, String)] = []) {
        self.entries = entries.map { (name: $0.0, value: $0.1) }
    }

    mutating func append(name: String, value: String) { entries.append((name, value)) }

    /// The first value of `name`, compared without regard to case.
    public subscript(name: String) -> String? {
        for entry in entries where entry.name.utf8.count == name.utf8.count && equalsIgnoringCase(entry.name, name) {
            return entry.value
        }
        return nil
    }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { entries.makeIterator() }
}

private func equalsIgnoringCase(_ a: String, _ b: String) -> Bool {
    var left = a.utf8.makeIterator()
    var right = b.utf8.makeIterator()
    while let x = left.next() {
        guard let y = right.next() else { return false }
        if x == y { continue }
        let lx = (x >= 65 && x <= 90) ? x + 32 : x
        let ly = (y >= 65 && y <= 90) ? y + 32 : y
        if lx != ly { return false }
    }
    return right.next() == nil
}

/// One decoded request, as handlers see it.
public struct HTTPRequest: Sendable {
    public let method: String
    /// The path as sent, not percent-decoded.
    public let rawPath: String
    /// `{name}` values of the matched route pattern, percent-decoded.
    public internal(set) var pathParameters: [String: String]
    /// Query items in the order sent, form-decoded; duplicates kept.
    public let query: [(name: String, value: String)]
    public let headers: HTTPHeaders
    public let body: [UInt8]
    public let requestID: String
    public let remoteAddress: String
    /// Limit the JSON decoder enforces (the transport already refused larger bodies).
    public let maxBodyBytes: Int

    public init(method: String, rawPath: String, pathParameters: [String: String] = [:],
                query: [(name: String, value: String)] = [], headers: HTTPHeaders = HTTPHeaders(),
                body: [UInt8] = [], requestID: String = "test", remoteAddress: String = "127.0.0.1",
                maxBodyBytes: Int = 1 << 20) {
        self.method = method
        self.rawPath = rawPath
        self.pathParameters = pathParameters
        self.query = query
        self.headers = headers
        self.body = body
        self.requestID = requestID
        self.remoteAddress = remoteAddress
        self.maxBodyBytes = maxBodyBytes
    }

    public func header(_ name: String) -> String? { headers[name] }

    public func pathParameter(_ name: String) -> String { pathParameters[name] ?? "" }

    /// The value of query parameter `name`. A parameter sent twice is ambiguous, and guessing
    /// which one the caller meant could act on the wrong thing, so it is a 400.
    public func queryValue(_ name: String) throws(APIError) -> String? {
        var found: String?
        for item in query where item.name == name {
            if found != nil { throw .badRequest("query parameter '\(name)' given more than once") }
            found = item.value
        }
        return found
    }

    /// Decodes the JSON body under the transport rules of api.md §1: an empty body counts as
    /// `{}`; `application/json` is expected; a body without a content type or sent
    /// form-encoded (what `curl -d` does) is accepted only when it parses as JSON and no
    /// `Origin` header says a browser sent it.
    public func decodeJSON<T: Decodable>(_ type: T.Type) throws(APIError) -> T {
        let content = body.isEmpty ? Array("{}".utf8) : body
        if !body.isEmpty {
            let mediaType = (header("Content-Type") ?? "").split(separator: ";").first
                .map { $0.trimmingSpaces().lowercased() } ?? ""
            switch mediaType {
            case "application/json":
                break
            case "", "application/x-www-form-urlencoded":
                if header("Origin") != nil {
                    throw .unsupportedMediaType("request body must be application/json")
                }
            default:
                throw .unsupportedMediaType("request body must be application/json, not \(mediaType)")
            }
        }
        do {
            return try JanssonDecoder().decode(type, from: content)
        } catch {
            throw .badRequest(error.message)
        }
    }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var s = self
        while let first = s.first, first == " " || first == "\t" { s = s.dropFirst() }
        while let last = s.last, last == " " || last == "\t" { s = s.dropLast() }
        return s
    }
}
