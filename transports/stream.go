package transports

/*
#cgo CFLAGS: -Wall -Werror=implicit-function-declaration
#include <stdlib.h>
#include "stream_io.h"
*/
import "C"

import (
	"syscall"
	"unsafe"
)

// Action is what a transition asks the transport's face to do next.
type Action int

// The actions of stream_io.h.
const (
	Nothing             Action = C.SIO_NOTHING
	StartWriter         Action = C.SIO_START_WRITER
	LoseNow             Action = C.SIO_LOSE_NOW
	LoseWhenDrained     Action = C.SIO_LOSE_WHEN_DRAINED
	ShutdownNow         Action = C.SIO_SHUTDOWN_NOW
	ShutdownWhenDrained Action = C.SIO_SHUTDOWN_WHEN_DRAINED
	errNoMemory         Action = C.SIO_ERR_NOMEM
	errSend             Action = C.SIO_ERR_SEND
)

// ForceClose's flags.
const (
	ForceCloseDone       = C.SIO_FC_DONE        // it acted: schedule connection_lost
	ForceCloseDropWriter = C.SIO_FC_DROP_WRITER // pending data dropped: unregister the writer
	ForceCloseDropReader = C.SIO_FC_DROP_READER // was not closing: unregister the reader
)

// Stream is one stream transport's I/O state, in C memory, driven through
// the C functions pyext/stream.c uses. Not safe for concurrent use (the
// loop thread owns it).
type Stream struct{ io *C.sio_stream }

// NewStream makes the state of a transport that owns fd (non-blocking).
func NewStream(fd int) *Stream {
	io := (*C.sio_stream)(C.malloc(C.sizeof_sio_stream))
	C.sio_init(io, C.int(fd))
	return &Stream{io}
}

// Free releases the buffer and the state (the fd is not closed).
func (s *Stream) Free() {
	C.sio_free_buffer(s.io)
	C.free(unsafe.Pointer(s.io))
	s.io = nil
}

// FD is the fd while owned, -1 once released or disowned.
func (s *Stream) FD() int { return int(s.io.fd) }

// Pending is the number of buffered bytes not sent yet.
func (s *Stream) Pending() int { return int(C.sio_pending(s.io)) }

// ConnLost is the lost-connection count (0 while connected).
func (s *Stream) ConnLost() int { return int(s.io.conn_lost) }

// Closing reports whether close() (or a forced close) was called.
func (s *Stream) Closing() bool { return s.io.closing != 0 }

// ProtocolPaused reports whether the protocol's writing is paused.
func (s *Stream) ProtocolPaused() bool { return s.io.protocol_paused != 0 }

// Write sends p at once if nothing is pending, buffering what is left:
// StartWriter when the buffer was empty and now holds data, else Nothing.
// A send error other than EAGAIN is returned (nothing is buffered then).
func (s *Stream) Write(p []byte) (Action, error) {
	var ptr *C.char
	if len(p) > 0 {
		ptr = (*C.char)(unsafe.Pointer(&p[0]))
	}
	r, errno := C.sio_write(s.io, ptr, C.ssize_t(len(p)))
	switch Action(r) {
	case errSend:
		return Nothing, errno
	case errNoMemory:
		return Nothing, syscall.ENOMEM
	}
	return Action(r), nil
}

// Flush sends what the socket takes of the buffer: the bytes sent, or
// the error (EAGAIN: nothing went).
func (s *Stream) Flush() (int, error) {
	w, errno := C.sio_flush(s.io)
	if w < 0 {
		return 0, errno
	}
	return int(w), nil
}

// Discard forgets the pending bytes.
func (s *Stream) Discard() { C.sio_discard(s.io) }

// SetLimits sets the high- and low-water marks of the write buffer.
func (s *Stream) SetLimits(high, low int) {
	s.io.high = C.ssize_t(high)
	s.io.low = C.ssize_t(low)
}

// ShouldPause reports (once) that the buffer went above the high mark.
func (s *Stream) ShouldPause() bool { return C.sio_should_pause(s.io) != 0 }

// ShouldResume reports (once) that a paused buffer is down to the low mark.
func (s *Stream) ShouldResume() bool { return C.sio_should_resume(s.io) != 0 }

// Close is close(): Nothing, LoseNow or LoseWhenDrained.
func (s *Stream) Close() Action { return Action(C.sio_close(s.io)) }

// ForceClose is abort(): ForceClose* flags, 0 if the connection was lost.
func (s *Stream) ForceClose() int { return int(C.sio_force_close(s.io)) }

// WriteEOF is write_eof(): Nothing, ShutdownNow or ShutdownWhenDrained.
func (s *Stream) WriteEOF() Action { return Action(C.sio_write_eof(s.io)) }

// Drained says what waited for the buffer to drain.
func (s *Stream) Drained() Action { return Action(C.sio_drained(s.io)) }

// Release gives the socket up: the fd becomes -1, the buffer is freed.
func (s *Stream) Release() { C.sio_release(s.io) }
