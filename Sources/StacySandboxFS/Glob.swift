/// Glob matching of one path component (runtime.md §5): `*`, `?`, `[...]` (ranges, `!`/`^`
/// negation) and `\` escapes. `**` is handled by the tree walker, not here.
enum Glob {
    static let maxResults = 10_000

    static func hasMeta(_ component: String) -> Bool {
        component.contains(where: { $0 == "*" || $0 == "?" || $0 == "[" || $0 == "\\" })
    }

    /// Whether `name` matches `pattern`. A leading `.` in a name is matched only by a literal `.`
    /// at the start of the pattern, so hidden files stay hidden from `*`.
    static func match(_ pattern: String, _ name: String) -> Bool {
        let p = Array(pattern.unicodeScalars), n = Array(name.unicodeScalars)
        if n.first == ".", p.first != "." { return false }
        return match(p, 0, n, 0)
    }

    private static func match(_ p: [Unicode.Scalar], _ pi: Int, _ n: [Unicode.Scalar], _ ni: Int) -> Bool {
        var pi = pi, ni = ni
        // Iterative with one backtrack point for the last `*`: linear-ish, no exponential blowup.
        var starP = -1, starN = -1
        while ni < n.count {
            if pi < p.count {
                switch p[pi] {
                case "*":
                    starP = pi; starN = ni; pi += 1
                    continue
                case "?":
                    pi += 1; ni += 1
                    continue
                case "[":
                    if let (matched, next) = matchClass(p, pi, n[ni]) {
                        if matched { pi = next; ni += 1; continue }
                    } else if n[ni] == "[" {  // unterminated class: a literal "["
                        pi += 1; ni += 1; continue
                    }
                case "\\" where pi + 1 < p.count:
                    if p[pi + 1] == n[ni] { pi += 2; ni += 1; continue }
                default:
                    if p[pi] == n[ni] { pi += 1; ni += 1; continue }
                }
            }
            if starP >= 0 {
                pi = starP + 1; starN += 1; ni = starN
                continue
            }
            return false
        }
        while pi < p.count, p[pi] == "*" { pi += 1 }
        return pi == p.count
    }

    /// Matches `c` against the class starting at `p[start] == "["`. Returns nil when the class is
    /// unterminated, else whether it matched and the index after `]`.
    private static func matchClass(_ p: [Unicode.Scalar], _ start: Int, _ c: Unicode.Scalar) -> (Bool, Int)? {
        var i = start + 1
        var negate = false
        if i < p.count, p[i] == "!" || p[i] == "^" { negate = true; i += 1 }
        var matched = false
        var first = true
        while i < p.count {
            if p[i] == "]", !first { return (matched != negate, i + 1) }
            first = false
            var lo = p[i]
            if lo == "\\", i + 1 < p.count { i += 1; lo = p[i] }
            if i + 2 < p.count, p[i + 1] == "-", p[i + 2] != "]" {
                var hi = p[i + 2]
                i += 3
                if hi == "\\", i < p.count { hi = p[i]; i += 1 }
                if lo.value <= c.value, c.value <= hi.value { matched = true }
            } else {
                if lo == c { matched = true }
                i += 1
            }
        }
        return nil
    }
}
