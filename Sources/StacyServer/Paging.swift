import Foundation
import StacyHTTP

/// Optional cursor paging (api.md §1): `?limit=` (1–1000, default 100) and/or `?cursor=` switch a
/// list to `{"items":[…],"next_cursor":"…"|null}`; without them the plain array is returned.
/// Cursors are opaque base64url of the last key served.
struct Paging {
    let limit: Int
    let after: String?

    /// nil when the request asks for the plain array.
    static func parse(_ request: HTTPRequest) throws(APIError) -> Paging? {
        let rawLimit = try request.queryValue("limit")
        let rawCursor = try request.queryValue("cursor")
        guard rawLimit != nil || rawCursor != nil else { return nil }
        var limit = 100
        if let rawLimit {
            guard let parsed = Int(rawLimit), (1...1000).contains(parsed) else { throw .badRequest("limit must be between 1 and 1000") }
            limit = parsed
        }
        var after: String?
        if let rawCursor, !rawCursor.isEmpty {
            guard let key = decode(rawCursor) else { throw .badRequest("invalid cursor") }
            after = key
        }
        return Paging(limit: limit, after: after)
    }

    static func encode(_ key: String) -> String {
        Data(("v1:" + key).utf8).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ cursor: String) -> String? {
        var base64 = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), let text = String(data: data, encoding: .utf8),
              text.hasPrefix("v1:"), text.count > 3 else { return nil }
        return String(text.dropFirst(3))
    }

    struct Page<Item: Encodable>: Encodable {
        let items: [Item]
        let nextCursor: String?
        enum CodingKeys: String, CodingKey {
            case items
            case nextCursor = "next_cursor"
        }
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(items, forKey: .items)
            // `null` when there is no next page, not an omitted key.
            if let nextCursor { try container.encode(nextCursor, forKey: .nextCursor) } else { try container.encodeNil(forKey: .nextCursor) }
        }
    }

    /// `items` holds up to `limit + 1` entries; the extra one only says another page exists.
    func page<Item: Encodable>(_ items: [Item], key: (Item) -> String) -> HTTPResponse {
        page(Array(items.prefix(limit)), more: items.count > limit, key: key)
    }

    func page<Item: Encodable>(_ items: [Item], more: Bool, key: (Item) -> String) -> HTTPResponse {
        .json(Page(items: items, nextCursor: more ? items.last.map { Paging.encode(key($0)) } : nil))
    }
}
