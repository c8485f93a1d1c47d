package rpc

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"
)

// maxQueuedFDs bounds descriptors received ahead of the frames that claim
// them. The kernel delivers one sendmsg's descriptors per recvmsg and a
// buffered reader only reads again once it has drained, so a conforming peer
// stays far below this; a peer that floods us is cut off.
const maxQueuedFDs = 8 * MaxFDs

// fdReader reads a UNIX stream socket with recvmsg and keeps the descriptors
// that arrive as SCM_RIGHTS in a FIFO, in the order they were sent. It sits
// under a bufio.Reader; the frame decoder takes descriptors with take once it
// has decoded the header they belong to.
type fdReader struct {
	conn     *net.UnixConn
	peer     string
	allowFDs bool // false on the server: requests never carry descriptors
	oob      []byte

	fdsMu sync.Mutex // guards fds and closed
	fds   []int
	// closed is set by closeAll; descriptors that arrive afterwards are closed
	// at once.
	closed bool
}

func newFDReader(conn *net.UnixConn, peer string, allowFDs bool) *fdReader {
	return &fdReader{
		conn:     conn,
		peer:     peer,
		allowFDs: allowFDs,
		oob:      make([]byte, syscall.CmsgSpace(4*MaxFDs)),
	}
}

// Read implements io.Reader over recvmsg. The standard library passes
// MSG_CMSG_CLOEXEC on Linux; close-on-exec is set again here so no received
// descriptor can leak into a child process even where that flag is missing.
func (r *fdReader) Read(p []byte) (int, error) {
	n, oobn, flags, _, err := r.conn.ReadMsgUnix(p, r.oob)
	if n < 0 { // recvmsg failed; the count is not a length
		n = 0
	}
	if errors.Is(err, io.EOF) {
		// ReadMsgUnix wraps EOF in a *net.OpError; readers such as
		// io.ReadFull recognise only the bare sentinel.
		err = io.EOF
	}
	if err == nil && oobn > 0 {
		if ferr := r.collect(r.oob[:oobn]); ferr != nil {
			return n, ferr
		}
	}
	if flags&syscall.MSG_CTRUNC != 0 {
		return n, &FrameError{Peer: r.peer, Reason: fmt.Sprintf("control data truncated (more than %d file descriptors in one message)", MaxFDs)}
	}
	return n, err
}

// collect parses ancillary data and queues the descriptors in it.
func (r *fdReader) collect(oob []byte) error {
	msgs, err := syscall.ParseSocketControlMessage(oob)
	if err != nil {
		return &FrameError{Peer: r.peer, Reason: "malformed control message: " + err.Error()}
	}
	var got []int
	for i := range msgs {
		if msgs[i].Header.Level != syscall.SOL_SOCKET || msgs[i].Header.Type != syscall.SCM_RIGHTS {
			continue
		}
		fds, err := syscall.ParseUnixRights(&msgs[i])
		if err != nil {
			return &FrameError{Peer: r.peer, Reason: "malformed SCM_RIGHTS message: " + err.Error()}
		}
		got = append(got, fds...)
	}
	for _, fd := range got {
		syscall.CloseOnExec(fd)
	}
	r.fdsMu.Lock()
	defer r.fdsMu.Unlock()
	switch {
	case r.closed:
		closeFDs(got)
		return nil
	case !r.allowFDs && len(got) > 0:
		closeFDs(got)
		return &FrameError{Peer: r.peer, Reason: fmt.Sprintf("%d unexpected file descriptors", len(got))}
	case len(r.fds)+len(got) > maxQueuedFDs:
		closeFDs(got)
		return &FrameError{Peer: r.peer, Reason: fmt.Sprintf("more than %d file descriptors queued without frames", maxQueuedFDs)}
	}
	r.fds = append(r.fds, got...)
	return nil
}

// take removes the next k descriptors from the FIFO and wraps them as files.
func (r *fdReader) take(k int) ([]*os.File, error) {
	if k == 0 {
		return nil, nil
	}
	r.fdsMu.Lock()
	defer r.fdsMu.Unlock()
	if len(r.fds) < k {
		return nil, &FrameError{Peer: r.peer, Reason: fmt.Sprintf("frame announces %d file descriptors but %d arrived", k, len(r.fds))}
	}
	files := make([]*os.File, k)
	for i, fd := range r.fds[:k] {
		files[i] = os.NewFile(uintptr(fd), fmt.Sprintf("rpc-fd:%s", r.peer))
	}
	r.fds = append(r.fds[:0], r.fds[k:]...)
	return files, nil
}

// closeAll closes every queued descriptor and any that arrive later.
func (r *fdReader) closeAll() {
	r.fdsMu.Lock()
	defer r.fdsMu.Unlock()
	r.closed = true
	closeFDs(r.fds)
	r.fds = nil
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		syscall.Close(fd)
	}
}

func closeFiles(files []*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}

// writeWithFDs writes parts to conn with files attached as SCM_RIGHTS. The
// header and body (and a small data section) go out in one sendmsg carrying
// the descriptors; a large data section follows in a second write rather than
// being copied. The caller holds the connection's write lock.
func writeWithFDs(conn *net.UnixConn, hdr, body, data []byte, files []*os.File) error {
	fds := make([]int, len(files))
	for i, f := range files {
		fds[i] = int(f.Fd())
	}
	const inlineData = 64 << 10
	first := make([]byte, 0, len(hdr)+len(body)+min(len(data), inlineData))
	first = append(append(first, hdr...), body...)
	if len(data) <= inlineData {
		first = append(first, data...)
		data = nil
	}
	n, _, err := conn.WriteMsgUnix(first, syscall.UnixRights(fds...), nil)
	runtime.KeepAlive(files)
	if err != nil {
		return err
	}
	// A stream socket may take part of the message; the descriptors went with
	// its first byte, the rest follows as plain bytes.
	_, err = writeBuffers(conn, first[n:], data)
	return err
}
