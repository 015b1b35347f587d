import XCTest
import CLibPQ

/// The PostgreSQL store joins the contract suite later; this keeps its C shim compiling and
/// linking against the libpq the setup script installs, so a broken shim shows up now.
final class LibPQShimTests: XCTestCase {
    func testLibPQLinksAndReportsAVersion() {
        XCTAssertGreaterThanOrEqual(PQlibVersion(), 100_000)
        XCTAssertEqual(PQisthreadsafe(), 1, "the pooled store will share libpq across threads")
    }
}
