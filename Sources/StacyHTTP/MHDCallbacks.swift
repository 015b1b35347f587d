import CMicroHTTPD
#if canImport(Glibc)
import Glibc
#endif

/// The C callbacks handed to libmicrohttpd. They live as `static let`s of a nonisolated type
/// (not at top level of a main file, where they would silently become main-actor isolated; see
/// the design notes §4) and reach Swift state only through their `cls` pointers.
enum MHDCallbacks {
    /// Called several times per request: headers, then body chunks, then once with no data.
    static let access: MHD_AccessHandlerCallback = { cls, connection, url, method, _, uploadData, uploadDataSize, requestCls in
        guard let cls, let connection, let requestCls, let uploadDataSize else { return .NO }
        let core = Unmanaged<ServerCore>.fromOpaque(cls).takeUnretainedValue()

        guard let existing = requestCls.pointee else {
            // A path that is not UTF-8 is kept as nil (not repaired), so it gets a 400.
            let context = core.makeContext(connection: connection,
                                           method: method.map { String(cString: $0) } ?? "GET",
                                           rawPath: url.flatMap { String(validatingCString: $0) })
            requestCls.pointee = Unmanaged.passRetained(context).toOpaque()
            if let early = core.earlyResponse(context) { return core.queue(early, context, connection) }
            return .YES
        }
        let context = Unmanaged<RequestContext>.fromOpaque(existing).takeUnretainedValue()
        if context.responded { return .YES }  // an early answer was queued; ignore the rest

        if uploadDataSize.pointee > 0, let uploadData {
            let keep = core.receive(context, uploadData, uploadDataSize.pointee)
            uploadDataSize.pointee = 0
            return keep ? .YES : .NO
        }
        if context.pending.withLock({ $0.running || $0.response != nil }) {
            return core.resumeAfterHandler(context, connection: connection)
        }
        return core.dispatch(context, connection: connection)
    }

    static let completed: MHD_RequestCompletedCallback = { cls, _, requestCls, termination in
        guard let cls, let requestCls, let pointer = requestCls.pointee else { return }
        let core = Unmanaged<ServerCore>.fromOpaque(cls).takeUnretainedValue()
        let context = Unmanaged<RequestContext>.fromOpaque(pointer).takeRetainedValue()
        requestCls.pointee = nil
        core.completed(context, termination: termination)
    }

    static let streamRead: MHD_ContentReaderCallback = { cls, _, buffer, max in
        guard let cls, let buffer else { return MHD_CONTENT_READER_END_WITH_ERROR }
        return Unmanaged<ResponseStream>.fromOpaque(cls).takeUnretainedValue().read(into: buffer, max: max)
    }

    /// Called exactly once per stream response, however it ended.
    static let streamFree: MHD_ContentReaderFreeCallback = { cls in
        guard let cls else { return }
        let stream = Unmanaged<ResponseStream>.fromOpaque(cls).takeRetainedValue()
        stream.owner.streamReleased(stream)
    }

    /// Leaves `%XX` escapes alone so a `%2F` inside a path segment cannot split it; the router
    /// and the query decoder decode once, strictly.
    static let keepEscapes: @convention(c) (UnsafeMutableRawPointer?, OpaquePointer?, UnsafeMutablePointer<CChar>?) -> Int = { _, _, text in
        guard let text else { return 0 }
        return strlen(text)
    }

    static let collectPair: MHD_KeyValueIterator = { cls, _, key, value in
        guard let cls, let key else { return .YES }
        let box = Unmanaged<PairBox>.fromOpaque(cls).takeUnretainedValue()
        box.pairs.append((String(cString: key), value.map { String(cString: $0) } ?? ""))
        return .YES
    }

    /// libmicrohttpd's own messages go to the structured log instead of raw stderr.
    static let logSink: @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?) -> Void = { cls, line in
        guard let cls, let line else { return }
        let core = Unmanaged<ServerCore>.fromOpaque(cls).takeUnretainedValue()
        guard core.log.enabled(.warn) else { return }
        var message = String(cString: line)
        while message.hasSuffix("\n") { message.removeLast() }
        core.log.warn("libmicrohttpd", [("detail", .string(message))])
    }
}
