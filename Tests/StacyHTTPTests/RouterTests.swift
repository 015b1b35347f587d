import XCTest
@testable import StacyHTTP

final class RouterTests: XCTestCase {
    private func makeRouter() -> Router {
        var router = Router()
        let ok = RouteHandler.sync { _ in HTTPResponse(status: 200) }
        router.add(Route(RouteInfo(method: "GET", path: "/api/v1/sandboxes", operationID: "list", scope: "read:*"), handler: ok))
        router.add(Route(RouteInfo(method: "POST", path: "/api/v1/sandboxes", operationID: "spawn", scope: "api:*"), handler: ok))
        router.add(Route(RouteInfo(method: "POST", path: "/api/v1/sandboxes/admission", operationID: "admission", scope: "read:*"), handler: ok))
        router.add(Route(RouteInfo(method: "GET", path: "/api/v1/sandboxes/{id}", operationID: "get", scope: "read:*"), handler: ok))
        router.add(Route(RouteInfo(method: "DELETE", path: "/api/v1/sandboxes/{id}", operationID: "destroy", scope: "api:*"), handler: ok))
        router.add(Route(RouteInfo(method: "GET", path: "/api/v1/sandboxes/{id}/files", operationID: "read", scope: "read:*"), handler: ok))
        return router
    }

    private func operation(_ match: Router.Match) -> String? {
        if case .found(let route, _) = match { return route.info.operationID }
        return nil
    }

    func testStaticAndParameterRoutes() {
        let router = makeRouter()
        XCTAssertEqual(operation(router.match(method: "GET", path: "/api/v1/sandboxes")), "list")
        XCTAssertEqual(operation(router.match(method: "POST", path: "/api/v1/sandboxes")), "spawn")
        XCTAssertEqual(operation(router.match(method: "POST", path: "/api/v1/sandboxes/admission")), "admission")
        guard case .found(let route, let parameters) = router.match(method: "GET", path: "/api/v1/sandboxes/sb-1/files") else {
            return XCTFail("no match")
        }
        XCTAssertEqual(route.info.operationID, "read")
        XCTAssertEqual(parameters, ["id": "sb-1"])
    }

    func testStaticSegmentDoesNotHideParameterRouteOfAnotherMethod() {
        // GET /sandboxes/admission is getSandbox("admission"), not 405 from the POST-only static route.
        guard case .found(let route, let parameters) = makeRouter().match(method: "GET", path: "/api/v1/sandboxes/admission") else {
            return XCTFail("no match")
        }
        XCTAssertEqual(route.info.operationID, "get")
        XCTAssertEqual(parameters["id"], "admission")
    }

    func testOneTrailingSlashIsIgnored() {
        let router = makeRouter()
        XCTAssertEqual(operation(router.match(method: "GET", path: "/api/v1/sandboxes/")), "list")
        XCTAssertEqual(operation(router.match(method: "GET", path: "/api/v1/sandboxes/sb-1/")), "get")
    }

    func testPathSegmentsArePercentDecodedWithoutSplitting() {
        guard case .found(_, let parameters) = makeRouter().match(method: "GET", path: "/api/v1/sandboxes/a%2Fb%20c") else {
            return XCTFail("no match")
        }
        XCTAssertEqual(parameters["id"], "a/b c")
        // An escaped literal segment still matches its static route.
        XCTAssertEqual(operation(makeRouter().match(method: "GET", path: "/api/v1/%73andboxes")), "list")
    }

    func testWrongMethodListsAllowedMethods() {
        guard case .methodNotAllowed(let allowed) = makeRouter().match(method: "PUT", path: "/api/v1/sandboxes") else {
            return XCTFail("expected 405")
        }
        XCTAssertEqual(allowed, ["GET", "POST", "HEAD"])
        guard case .methodNotAllowed(let dynamicAllowed) = makeRouter().match(method: "PATCH", path: "/api/v1/sandboxes/sb-1") else {
            return XCTFail("expected 405")
        }
        XCTAssertEqual(dynamicAllowed, ["DELETE", "GET", "HEAD"])
    }

    func testUnknownAndMalformedPaths() {
        let router = makeRouter()
        guard case .notFound = router.match(method: "GET", path: "/api/v1/nothing") else { return XCTFail("expected 404") }
        guard case .notFound = router.match(method: "GET", path: "/api/v1/sandboxes/sb-1/files/extra") else { return XCTFail("expected 404") }
        guard case .notFound = router.match(method: "GET", path: "/api/v1/sandboxes//files") else { return XCTFail("empty parameter") }
        guard case .badPath = router.match(method: "GET", path: "/api/v1/sandboxes/%ZZ") else { return XCTFail("bad escape") }
        guard case .badPath = router.match(method: "GET", path: "/api/v1/sandboxes/%FF") else { return XCTFail("invalid UTF-8") }
    }

    func testHeadIsServedByGetRoutes() {
        XCTAssertEqual(operation(makeRouter().match(method: "HEAD", path: "/api/v1/sandboxes")), "list")
    }

    func testQueryDecodingFollowsFormRules() {
        XCTAssertEqual(PercentDecoding.decode("a+b%2Fc%2B".utf8, plusIsSpace: true), "a b/c+")
        XCTAssertEqual(PercentDecoding.decode("%2Fworkspace%2Fa.txt".utf8, plusIsSpace: true), "/workspace/a.txt")
        XCTAssertEqual(PercentDecoding.decode("caf%C3%A9".utf8, plusIsSpace: true), "café")
        XCTAssertNil(PercentDecoding.decode("%E9".utf8, plusIsSpace: true))
        XCTAssertNil(PercentDecoding.decode("100%".utf8, plusIsSpace: true))
        XCTAssertEqual(PercentDecoding.decode("a+b".utf8, plusIsSpace: false), "a+b")
    }

    func testRequestIDAcceptsOnlySafeValues() {
        XCTAssertEqual(RequestID.accept("abc-123:x_y.z"), "abc-123:x_y.z")
        let generated = RequestID.accept("has space")
        XCTAssertEqual(generated.count, 36)
        XCTAssertNotEqual(generated, RequestID.accept("has space"))
        XCTAssertEqual(Array(generated)[14], "4", "version 4 UUID")
        XCTAssertEqual(RequestID.accept(String(repeating: "a", count: 128)).count, 128)
        XCTAssertEqual(RequestID.accept(String(repeating: "a", count: 129)).count, 36)
        XCTAssertEqual(RequestID.accept(nil).count, 36)
    }

    func testDuplicateQueryKeysAreAnError() {
        let request = HTTPRequest(method: "GET", rawPath: "/", query: [("path", "/a"), ("path", "/b"), ("x", "1")])
        XCTAssertThrowsError(try request.queryValue("path")) { error in
            XCTAssertEqual((error as? APIError)?.status, 400)
        }
        XCTAssertEqual(try request.queryValue("x"), "1")
        XCTAssertNil(try request.queryValue("missing"))
    }

    func testHeadersAreCaseInsensitive() {
        let headers = HTTPHeaders([("Content-Type", "application/json"), ("x-request-id", "r1")])
        XCTAssertEqual(headers["content-type"], "application/json")
        XCTAssertEqual(headers["X-REQUEST-ID"], "r1")
        XCTAssertNil(headers["content-typ"])
    }
}

final class TimestampTests: XCTestCase {
    func testTimestampsAreRFC3339UTCWithMilliseconds() {
        XCTAssertEqual(Log.timestamp(unixMillis: 0), "1970-01-01T00:00:00.000Z")
        XCTAssertEqual(Log.timestamp(unixMillis: 1_778_320_800_123), "2026-05-09T10:00:00.123Z")
        XCTAssertEqual(Log.timestamp(unixMillis: 951_782_400_000), "2000-02-29T00:00:00.000Z", "leap day")
        XCTAssertEqual(Log.timestamp(unixMillis: 4_102_444_799_999), "2099-12-31T23:59:59.999Z")
        XCTAssertEqual(Log.timestamp(unixMillis: -1), "1969-12-31T23:59:59.999Z")
        XCTAssertEqual(Log.timestamp().count, 24)
    }
}
