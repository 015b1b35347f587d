/// Tiny JSON writer for values the store binds itself (e.g. a list of states for json_each), and the
/// matching reader for the one JSON shape the store decodes itself (a worker credential's scopes).
/// Not a general codec: the JSON layer proper lives in StacyJSON.
enum JSONText {
    static func array(of strings: [String]) -> String {
        "[" + strings.map(quoted).joined(separator: ",") + "]"
    }

    static func quoted(_ string: String) -> String {
        var out = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let c where c.value < 0x20:
                let hex = String(c.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// Parses a JSON array of strings (what `array(of:)` writes, or any equivalent JSON text with
    /// whitespace and escapes). nil for anything else: another JSON type, a non-string element,
    /// invalid escapes or trailing text.
    static func stringArray(_ text: String) -> [String]? {
        var parser = StringArrayParser(scalars: Array(text.unicodeScalars))
        return parser.parse()
    }
}

private struct StringArrayParser {
    let scalars: [Unicode.Scalar]
    var index = 0

    mutating func parse() -> [String]? {
        skipWhitespace()
        guard consume("[") else { return nil }
        var items: [String] = []
        skipWhitespace()
        if !consume("]") {
            while true {
                skipWhitespace()
                guard let item = string() else { return nil }
                items.append(item)
                skipWhitespace()
                if consume("]") { break }
                guard consume(",") else { return nil }
            }
        }
        skipWhitespace()
        return index == scalars.count ? items : nil
    }

    private mutating func consume(_ scalar: Unicode.Scalar) -> Bool {
        guard index < scalars.count, scalars[index] == scalar else { return false }
        index += 1
        return true
    }

    private mutating func skipWhitespace() {
        while index < scalars.count, [" ", "\t", "\n", "\r"].contains(scalars[index]) { index += 1 }
    }

    private mutating func string() -> String? {
        guard consume("\"") else { return nil }
        var out = String.UnicodeScalarView()
        while index < scalars.count {
            let scalar = scalars[index]
            index += 1
            switch scalar {
            case "\"":
                return String(out)
            case "\\":
                guard index < scalars.count else { return nil }
                let escape = scalars[index]
                index += 1
                switch escape {
                case "\"": out.append("\"")
                case "\\": out.append("\\")
                case "/": out.append("/")
                case "b": out.append("\u{08}")
                case "f": out.append("\u{0C}")
                case "n": out.append("\n")
                case "r": out.append("\r")
                case "t": out.append("\t")
                case "u":
                    guard let unit = hex4() else { return nil }
                    if (0xD800...0xDBFF).contains(unit) {
                        // A high surrogate must be followed by an escaped low one.
                        guard consume("\\"), consume("u"), let low = hex4(), (0xDC00...0xDFFF).contains(low),
                              let combined = Unicode.Scalar(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
                        else { return nil }
                        out.append(combined)
                    } else {
                        guard let plain = Unicode.Scalar(unit) else { return nil }  // a lone low surrogate
                        out.append(plain)
                    }
                default:
                    return nil
                }
            default:
                guard scalar.value >= 0x20 else { return nil }  // raw control characters are invalid JSON
                out.append(scalar)
            }
        }
        return nil
    }

    private mutating func hex4() -> UInt32? {
        guard index + 4 <= scalars.count else { return nil }
        var value: UInt32 = 0
        for scalar in scalars[index..<index + 4] {
            guard let digit = Int(String(scalar), radix: 16) else { return nil }
            value = value * 16 + UInt32(digit)
        }
        index += 4
        return value
    }
}
