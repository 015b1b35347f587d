import XCTest
@testable import StacyConfig

final class DurationTests: XCTestCase {
    private func ns(_ s: String, file: StaticString = #filePath, line: UInt = #line) -> Int64? {
        do { return try GoDuration.parse(s).nanoseconds } catch {
            XCTFail("\(s): \(error)", file: file, line: line)
            return nil
        }
    }

    private func assertInvalid(_ s: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try GoDuration.parse(s), "\(s) should be invalid", file: file, line: line)
    }

    func testParsesGoSyntax() {
        XCTAssertEqual(ns("0"), 0)
        XCTAssertEqual(ns("+0"), 0)
        XCTAssertEqual(ns("-0"), 0)
        XCTAssertEqual(ns("0s"), 0)
        XCTAssertEqual(ns("10s"), 10_000_000_000)
        XCTAssertEqual(ns("1.5s"), 1_500_000_000)
        XCTAssertEqual(ns(".5s"), 500_000_000)
        XCTAssertEqual(ns("5.s"), 5_000_000_000)
        XCTAssertEqual(ns("1h2m3s"), 3_723_000_000_000)
        XCTAssertEqual(ns("1h30m"), 5_400_000_000_000)
        XCTAssertEqual(ns("2160h"), 2160 * 3_600_000_000_000)
        XCTAssertEqual(ns("300ms"), 300_000_000)
        XCTAssertEqual(ns("12.3ms"), 12_300_000)
        XCTAssertEqual(ns("7ns"), 7)
        XCTAssertEqual(ns("5us"), 5_000)
        XCTAssertEqual(ns("5\u{00B5}s"), 5_000) // micro sign
        XCTAssertEqual(ns("5\u{03BC}s"), 5_000) // Greek mu
        XCTAssertEqual(ns("-1.5h"), -5_400_000_000_000)
        XCTAssertEqual(ns("+2m"), 120_000_000_000)
        XCTAssertEqual(ns("1m1m"), 120_000_000_000)
        XCTAssertEqual(ns("9223372036854775807ns"), Int64.max)
        XCTAssertEqual(ns("-9223372036854775808ns"), Int64.min)
        XCTAssertEqual(ns("2562047h47m16.854775807s"), Int64.max)
        // Fraction digits beyond what fits are dropped, as in Go.
        XCTAssertEqual(ns("0.100000000000000000000h"), 360_000_000_000)
    }

    func testRejectsJunkAndOverflow() {
        for junk in ["", "10", "-1", "s", "1x", "1.2.3s", "1 s", " 1s", "1s ", "1S", "abc", ".s", "+", "-", "1h-2m",
                     "1e3s", "0x10s", "1sec"] {
            assertInvalid(junk)
        }
        assertInvalid("9223372036854775808ns")
        assertInvalid("-9223372036854775809ns")
        assertInvalid("2562048h")
        assertInvalid("99999999999999999999s")
        assertInvalid("9223372037s") // 9223372037 × 1e9 > Int64.max
        XCTAssertEqual(ns("9223372036s"), 9_223_372_036_000_000_000)
    }

    func testErrorMessages() {
        XCTAssertThrowsError(try GoDuration.parse("10")) { error in
            XCTAssertTrue("\(error)".contains("missing unit"), "\(error)")
        }
        XCTAssertThrowsError(try GoDuration.parse("10y")) { error in
            XCTAssertTrue("\(error)".contains("unknown unit"), "\(error)")
        }
        XCTAssertThrowsError(try GoDuration.parse("9999999999h")) { error in
            XCTAssertTrue("\(error)".contains("overflow"), "\(error)")
        }
    }

    func testFormatsLikeGo() {
        func f(_ n: Int64) -> String { GoDuration(nanoseconds: n).description }
        XCTAssertEqual(f(0), "0s")
        XCTAssertEqual(f(1_500_000_000), "1.5s")
        XCTAssertEqual(f(12_300_000), "12.3ms")
        XCTAssertEqual(f(30 * GoDuration.minute), "30m0s")
        XCTAssertEqual(f(GoDuration.hour), "1h0m0s")
        XCTAssertEqual(f(24 * GoDuration.hour), "24h0m0s")
        XCTAssertEqual(f(3_723_000_000_000), "1h2m3s")
        XCTAssertEqual(f(500_000), "500\u{00B5}s")
        XCTAssertEqual(f(1_000), "1\u{00B5}s")
        XCTAssertEqual(f(10 * GoDuration.second), "10s")
        XCTAssertEqual(f(GoDuration.minute + 500 * GoDuration.millisecond), "1m0.5s")
        XCTAssertEqual(f(-1_500_000_000), "-1.5s")
        XCTAssertEqual(f(-GoDuration.hour), "-1h0m0s")
        XCTAssertEqual(f(2160 * GoDuration.hour), "2160h0m0s")
        XCTAssertEqual(f(1), "0s") // rounds to the microsecond first
    }

    func testRoundsToMicrosecondLikeGo() {
        func f(_ n: Int64) -> String { GoDuration(nanoseconds: n).description }
        XCTAssertEqual(f(1_499), "1\u{00B5}s")
        XCTAssertEqual(f(1_500), "2\u{00B5}s") // halves away from zero
        XCTAssertEqual(f(-1_500), "-2\u{00B5}s")
        XCTAssertEqual(f(499), "0s")
        XCTAssertEqual(f(1_234_567), "1.235ms")
        XCTAssertEqual(f(1_000_000_400), "1s")
        XCTAssertEqual(f(1_000_000_600), "1.000001s")
        // Saturates instead of wrapping (Go's Round).
        XCTAssertEqual(f(Int64.max), "2562047h47m16.854775807s")
        XCTAssertEqual(f(Int64.min), "-2562047h47m16.854775808s")
        // The exact form keeps nanoseconds.
        XCTAssertEqual(GoDuration(nanoseconds: 1_234_567).goString, "1.234567ms")
        XCTAssertEqual(GoDuration(nanoseconds: 7).goString, "7ns")
        XCTAssertEqual(GoDuration(nanoseconds: Int64.max).goString, "2562047h47m16.854775807s")
    }

    func testRoundTripAndConversions() throws {
        for s in ["0s", "1.5s", "12.3ms", "30m0s", "1h0m0s", "24h0m0s", "1h2m3s", "500\u{00B5}s", "-2m30s"] {
            XCTAssertEqual(try GoDuration.parse(s).description, s)
        }
        XCTAssertEqual(GoDuration(seconds: 1.5).nanoseconds, 1_500_000_000)
        XCTAssertEqual(GoDuration(seconds: 2).seconds, 2)
        XCTAssertEqual(GoDuration(seconds: 1e30).nanoseconds, Int64.max)
        XCTAssertEqual(GoDuration(nanoseconds: 250_000_000).timeInterval, 0.25)
        XCTAssertEqual(GoDuration(nanoseconds: 250_000_000).duration, .milliseconds(250))
        XCTAssertLessThan(try GoDuration.parse("59s"), try GoDuration.parse("1m"))
    }
}
