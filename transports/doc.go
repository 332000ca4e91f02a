// Package transports holds the transports' I/O state machines, with no
// Python in them, so they can be tested without an interpreter.
//
// stream_io.h is the TCP/Unix stream transport's: the fd it owns (-1 once
// given up, so a late write fails with EBADF instead of reaching the next
// socket with that number), the write buffer and its partial-write
// accounting, the flow-control thresholds (when to pause and resume the
// protocol's writing) and the close / write_eof sequencing. The
// transport's Python face, pyext/stream.c (StreamCore), includes it and
// does what it decides: register the writer, call pause_writing(),
// schedule connection_lost. It is plain C and header-only (static inline)
// because it sits on every write's path: see the header's comment.
//
// The Go API here (Stream) drives the same C functions; stream_test.go uses
// it over real sockets. pyext imports this package so that Go rebuilds the
// extension whenever the header changes (Go tracks a package's own files,
// not headers another package includes).
package transports
