// Package rpc is the one request/response stack every process of the project
// speaks: the FUSE daemon to the master (TCP 19998) and to its local worker
// (a UNIX domain socket), clients to remote workers (TCP 29999), the CLI to
// the master and workers to the master.
//
// # Why not gRPC
//
// The framing is our own, and small, for four reasons:
//
//   - no code generation: a message is a Go struct encoded as JSON;
//   - one stack over TCP and UNIX sockets alike;
//   - bulk data (page contents) travels as a raw byte section next to the
//     message, never encoded as protobuf or JSON, and the client can read it
//     straight into the caller's buffer;
//   - open file descriptors ride in the same stream on UNIX connections
//     (SCM_RIGHTS). The worker hands a cached file's descriptor to the FUSE
//     daemon so the kernel can serve reads by passthrough; gRPC cannot carry
//     a descriptor.
//
// # Wire format
//
// All integers are big-endian. A connection carries a sequence of frames:
//
//	frame  = header body data
//	header = magic u16 (0xA1F5) | version u8 (1) | kind u8 (1 request, 2 response)
//	         | id u64 | nfds u8 | errno u32 (responses; 0 = ok)
//	         | mlen u8 | method [mlen bytes] (requests only; 0 for responses)
//	         | blen u32 | dlen u32
//	body   = blen bytes of JSON (the message; for an error response: the error text)
//	data   = dlen bytes, raw (page contents etc.)
//
// Limits: a method name is 1 to 64 bytes of [A-Za-z0-9_.]; body at most
// 4 MiB ([MaxBodyLen]); data at most 64 MiB + 4 KiB ([MaxDataLen]); at most 8
// descriptors per frame ([MaxFDs]). A request has errno 0 and nfds 0; a
// response has no method. A frame that breaks any rule, or ends early, is a
// [*FrameError] naming the peer and the fault; the receiver closes that
// connection.
//
// The client numbers its requests; the server answers each with a response of
// the same id, in any order, so many calls share one connection. An error
// response carries the errno (found in the handler's error with errors.As,
// EIO by default) and the error text; the client returns it as an [*Error]
// that unwraps to the errno, so errors.Is(err, fs.ErrNotExist) works across
// the wire.
//
// # File descriptors
//
// Only responses carry descriptors, and only on UNIX connections. The server
// writes the frame's header and body in one sendmsg whose SCM_RIGHTS
// ancillary data holds the descriptors, and sets nfds. The receiver reads with
// recvmsg (close-on-exec set), queues arriving descriptors in order, and after
// decoding a header with nfds = k takes the next k from that queue.
package rpc
