import ArgumentParser
import StacyJSON
import StacyServer
import StacyWorker

struct RoutesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "routes", abstract: "Print the route table compiled into this binary.")

    @Flag(help: "Print JSON: [{method, path, scope, operation_id}], sorted by path then method.")
    var json = false
    @Flag(help: "The worker listener's routes instead of the control plane's.")
    var worker = false

    func run() throws {
        let entries = worker ? WorkerServer.entries() : ControlPlaneRoutes.entries()
        if json {
            print(String(decoding: try JanssonEncoder().encode(entries), as: UTF8.self))
            return
        }
        let methodWidth = max(6, entries.map(\.method.count).max() ?? 0)
        let pathWidth = entries.map(\.path.count).max() ?? 0
        for entry in entries {
            let method = entry.method.padding(methodWidth)
            let path = entry.path.padding(pathWidth)
            print("\(method)  \(path)  \(entry.scope.padding(8))  \(entry.operationID)")
        }
    }
}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}
