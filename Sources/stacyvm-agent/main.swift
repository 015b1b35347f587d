#if canImport(Glibc)
import Glibc
#endif

// stacyvm-agent: the small, Foundation-free executable of the `namespace` provider (runtime.md §2.6).
//
//   stacyvm-agent shim --dir DIR --uid U --gid G [--keep-fd N] -- BWRAP ARGS...
//       Started by the provider. Prints the shim's PID and detaches (its own session), then starts
//       bubblewrap as the sandbox's host uid and stays its parent, so the sandbox outlives a restart
//       of the server or worker that launched it (bwrap runs with --die-with-parent).
//   stacyvm-agent serve SOCKET
//       Runs inside the sandbox: serves exec requests on a unix socket (AgentWire).

func fail(_ message: String) -> Never {
    let line = "stacyvm-agent: " + message + "\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    exit(2)
}

let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "shim":
    Shim.run(Array(arguments.dropFirst()))
case "serve":
    guard arguments.count == 2 else { fail("usage: stacyvm-agent serve SOCKET") }
    AgentServer.run(socketPath: arguments[1])
case "version":
    print("stacyvm-agent 1")
default:
    fail("usage: stacyvm-agent shim|serve|version ...")
}
