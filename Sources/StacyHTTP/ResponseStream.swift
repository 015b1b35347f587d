import CMicroHTTPD
import Synchronization

/// What a streaming producer writes into. `write` returns false once the client is gone, the
/// server is shutting down, or the stream was otherwise closed; the producer should then stop.
public final class StreamWriter: Sendable {
    let stream: ResponseStream

    init(stream: ResponseStream) { self.stream = stream }

    /// Queues `bytes` for the client. Waits (without holding a server thread) while more than
    /// the stream's buffer cap is still unsent, so a slow reader cannot grow memory unbounded.
    @discardableResult
    public func write(_ bytes: [UInt8]) async -> Bool { await stream.push(bytes) }

    @discardableResult
    public func write(_ text: String) async -> Bool { await stream.push(Array(text.utf8)) }

    /// True while the client can still receive data.
    public var isOpen: Bool { stream.isOpen }
}

/// The bridge between a producer task and libmicrohttpd's content reader.
///
/// When the buffer is empty the reader suspends the connection and returns 0; the next push
/// resumes it. Suspend and resume both happen under `state`'s lock, which closes the race where
/// a push lands between "buffer empty" and "suspended" (see the design notes, §4–5).
final class ResponseStream: Sendable {
    struct State: @unchecked Sendable {  // `connection` is only touched under the lock.
        var connection: OpaquePointer?
        var buffer: [UInt8] = []
        var offset = 0
        var finished = false
        var failed = false
        var suspended = false
        var closed = false
        var waiter: CheckedContinuation<Bool, Never>?
        var producer: Task<Void, Never>?
    }

    let state = Mutex(State())
    let capacity: Int
    let shutdownTrailer: [UInt8]?
    /// The server that tracks this stream; it is told when libmicrohttpd releases it.
    let owner: ServerCore

    init(capacity: Int, shutdownTrailer: [UInt8]?, owner: ServerCore) {
        self.capacity = capacity
        self.shutdownTrailer = shutdownTrailer
        self.owner = owner
    }

    var isOpen: Bool { state.withLock { !$0.closed && !$0.failed && !$0.finished } }

    func attach(connection: OpaquePointer) { state.withLock { $0.connection = connection } }

    func setProducer(_ task: Task<Void, Never>) {
        let cancelNow = state.withLock { s -> Bool in
            s.producer = task
            return s.closed || s.failed
        }
        if cancelNow { task.cancel() }
    }

    private enum PushOutcome { case queued, closed, full }

    func push(_ bytes: [UInt8]) async -> Bool {
        while true {
            let outcome = state.withLock { s -> PushOutcome in
                if s.closed || s.failed || s.finished { return .closed }
                if s.buffer.count - s.offset >= capacity { return .full }
                s.buffer.append(contentsOf: bytes)
                Self.resumeIfSuspended(&s)
                return .queued
            }
            switch outcome {
            case .queued: return true
            case .closed: return false
            case .full:
                let room = await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                    state.withLock { s in
                        if s.closed || s.failed || s.finished { continuation.resume(returning: false) }
                        else if s.buffer.count - s.offset < capacity { continuation.resume(returning: true) }
                        else { s.waiter = continuation }
                    }
                }
                if !room { return false }
            }
        }
    }

    /// The producer is done: send what is buffered, then end the body cleanly.
    func finish() {
        state.withLock { s in
            s.finished = true
            Self.resumeIfSuspended(&s)
        }
    }

    /// Server shutdown: append the trailer (if the producer has not finished) and end the body.
    /// A finished stream never suspends again, so the daemon can stop once it drains.
    func finishForShutdown() {
        let producer = state.withLock { s -> Task<Void, Never>? in
            if !s.finished && !s.closed && !s.failed, let trailer = shutdownTrailer {
                s.buffer.append(contentsOf: trailer)
            }
            s.finished = true
            s.waiter?.resume(returning: false)
            s.waiter = nil
            Self.resumeIfSuspended(&s)
            return s.producer
        }
        producer?.cancel()
    }

    /// The watchdog saw the client go away while the connection was suspended.
    func clientGone() {
        let producer = state.withLock { s -> Task<Void, Never>? in
            s.failed = true
            s.waiter?.resume(returning: false)
            s.waiter = nil
            Self.resumeIfSuspended(&s)
            return s.producer
        }
        producer?.cancel()
    }

    /// libmicrohttpd released the response: nothing more can be sent.
    func released() {
        let producer = state.withLock { s -> Task<Void, Never>? in
            s.closed = true
            s.connection = nil
            s.waiter?.resume(returning: false)
            s.waiter = nil
            return s.finished ? nil : s.producer
        }
        producer?.cancel()
    }

    /// The socket of a suspended connection, for the disconnect watchdog; -1 when not suspended.
    func suspendedSocket() -> Int32 {
        state.withLock { s in
            guard s.suspended, !s.closed, let connection = s.connection else { return -1 }
            return stacy_mhd_connection_fd(connection)
        }
    }

    /// The content reader: called by libmicrohttpd on its own thread.
    func read(into destination: UnsafeMutablePointer<CChar>, max: Int) -> Int {
        state.withLock { s in
            let available = s.buffer.count - s.offset
            if available > 0 {
                let count = min(available, max)
                s.buffer.withUnsafeBufferPointer { source in
                    UnsafeMutableRawPointer(destination).copyMemory(from: source.baseAddress! + s.offset, byteCount: count)
                }
                s.offset += count
                if s.offset == s.buffer.count {
                    s.buffer.removeAll(keepingCapacity: s.buffer.capacity <= 1 << 16)
                    s.offset = 0
                } else if s.offset >= 1 << 16 {
                    s.buffer.removeFirst(s.offset)
                    s.offset = 0
                }
                if let waiter = s.waiter, s.buffer.count - s.offset < capacity / 2 {
                    s.waiter = nil
                    waiter.resume(returning: true)
                }
                return count
            }
            if s.failed { return MHD_CONTENT_READER_END_WITH_ERROR }
            if s.finished { return MHD_CONTENT_READER_END_OF_STREAM }
            guard let connection = s.connection else { return MHD_CONTENT_READER_END_WITH_ERROR }
            s.suspended = true
            MHD_suspend_connection(connection)
            return 0
        }
    }

    /// Resumes only what this stream suspended: resuming a connection that is not suspended is
    /// undefined behaviour in libmicrohttpd.
    private static func resumeIfSuspended(_ s: inout State) {
        if s.suspended, let connection = s.connection {
            s.suspended = false
            MHD_resume_connection(connection)
        }
    }
}
