package transports

import (
	"bytes"
	"errors"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// pair is a connected non-blocking Unix stream socket pair whose first end
// has a small send buffer, so that big writes are partial. A test that
// closes an end itself says so with closed, so the cleanup does not close a
// number that may belong to another fd by then.
func pair(t *testing.T) (int, int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.SetsockoptInt(fds[0], unix.SOL_SOCKET, unix.SO_SNDBUF, 4096); err != nil {
		t.Fatal(err)
	}
	open := &[2]bool{true, true}
	openFlag[fds[0]], openFlag[fds[1]] = &open[0], &open[1]
	t.Cleanup(func() {
		for i, fd := range fds {
			if open[i] {
				unix.Close(fd)
			}
		}
	})
	return fds[0], fds[1]
}

// openFlag maps an fd number to the flag of the pair end that has it now.
var openFlag = map[int]*bool{}

// closeFD closes an end of a pair before the test ends.
func closeFD(fd int) {
	unix.Close(fd)
	*openFlag[fd] = false
}

// drain reads everything the peer has now.
func drain(t *testing.T, fd int) []byte {
	t.Helper()
	var got []byte
	buf := make([]byte, 65536)
	for {
		n, err := unix.Read(fd, buf)
		if errors.Is(err, unix.EAGAIN) {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return got
		}
		got = append(got, buf[:n]...)
	}
}

func payload(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7 + i/251)
	}
	return p
}

// fill writes to fd until the socket takes no more.
func fill(t *testing.T, fd int) int {
	t.Helper()
	total := 0
	chunk := make([]byte, 4096)
	for {
		n, err := unix.Write(fd, chunk)
		if errors.Is(err, unix.EAGAIN) {
			return total
		}
		if err != nil {
			t.Fatal(err)
		}
		total += n
	}
}

func newStream(t *testing.T, fd int) *Stream {
	s := NewStream(fd)
	t.Cleanup(s.Free)
	return s
}

func TestPartialWriteIsBufferedAndAccounted(t *testing.T) {
	a, b := pair(t)
	s := newStream(t, a)
	data := payload(1 << 20)
	act, err := s.Write(data)
	if err != nil || act != StartWriter {
		t.Fatalf("Write = %v, %v; want StartWriter (a partial send)", act, err)
	}
	got := drain(t, b)
	if len(got) == 0 || len(got)+s.Pending() != len(data) {
		t.Fatalf("sent %d + pending %d != %d", len(got), s.Pending(), len(data))
	}
	// Behind pending data, a write is only buffered: nothing is sent
	// ahead of it, even though the socket has room now.
	more := payload(1000)
	before := s.Pending()
	if act, err := s.Write(more); err != nil || act != Nothing {
		t.Fatalf("Write behind pending data = %v, %v; want Nothing", act, err)
	}
	if s.Pending() != before+len(more) {
		t.Fatalf("pending %d, want %d", s.Pending(), before+len(more))
	}
	if extra := drain(t, b); len(extra) != 0 {
		t.Fatalf("%d bytes went out ahead of the buffer", len(extra))
	}
	for s.Pending() > 0 {
		pending := s.Pending()
		n, err := s.Flush()
		if err != nil && !errors.Is(err, unix.EAGAIN) {
			t.Fatal(err)
		}
		if s.Pending() != pending-n {
			t.Fatalf("flush sent %d: pending %d, want %d", n, s.Pending(), pending-n)
		}
		got = append(got, drain(t, b)...)
	}
	want := append(append([]byte{}, data...), more...)
	if !bytes.Equal(got, want) {
		t.Fatalf("the peer got %d bytes, not the %d written in order", len(got), len(want))
	}
	if n, err := s.Flush(); n != 0 || err != nil {
		t.Fatalf("Flush with nothing pending = %d, %v", n, err)
	}
}

func TestWriteSentAtOnceBuffersNothing(t *testing.T) {
	a, b := pair(t)
	s := newStream(t, a)
	if act, err := s.Write([]byte("hello")); err != nil || act != Nothing {
		t.Fatalf("Write = %v, %v", act, err)
	}
	if s.Pending() != 0 || string(drain(t, b)) != "hello" {
		t.Fatal("a write the socket took whole must not be buffered")
	}
}

func TestWriteErrorBuffersNothing(t *testing.T) {
	a, b := pair(t)
	s := newStream(t, a)
	closeFD(b)
	_, err := s.Write([]byte("x"))
	if !errors.Is(err, syscall.EPIPE) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("Write to a closed peer: %v, want EPIPE", err)
	}
	if s.Pending() != 0 {
		t.Fatalf("pending %d after a failed send", s.Pending())
	}
}

func TestFlowControlThresholds(t *testing.T) {
	a, b := pair(t)
	s := newStream(t, a)
	s.SetLimits(100, 10)
	fill(t, a) // nothing more goes: every write is buffered
	if act, _ := s.Write(payload(100)); act != StartWriter {
		t.Fatalf("first write: %v", act)
	}
	if s.ShouldPause() {
		t.Fatal("paused at the high mark (100 <= high)")
	}
	s.Write(payload(1))
	if !s.ShouldPause() || !s.ProtocolPaused() {
		t.Fatal("not paused above the high mark")
	}
	s.Write(payload(50))
	if s.ShouldPause() {
		t.Fatal("paused twice")
	}
	if s.ShouldResume() {
		t.Fatal("resumed above the low mark")
	}
	// The peer reads: the buffer drains in steps; resume exactly once,
	// when it is at or below the low mark.
	resumed := 0
	for s.Pending() > 0 {
		drain(t, b)
		if _, err := s.Flush(); err != nil && !errors.Is(err, unix.EAGAIN) {
			t.Fatal(err)
		}
		if s.ShouldResume() {
			resumed++
			if s.Pending() > 10 {
				t.Fatalf("resumed with %d pending (low 10)", s.Pending())
			}
		}
	}
	if resumed != 1 || s.ProtocolPaused() {
		t.Fatalf("resumed %d times", resumed)
	}
	// Lowering the high mark under what is pending pauses at once.
	fill(t, a)
	s.Write(payload(60))
	s.SetLimits(50, 5)
	if !s.ShouldPause() {
		t.Fatal("a lower high mark did not pause")
	}
}

func TestCloseWhileBufferedLosesOnceDrained(t *testing.T) {
	a, b := pair(t)
	s := newStream(t, a)
	fill(t, a)
	s.Write(payload(300))
	if act := s.Close(); act != LoseWhenDrained {
		t.Fatalf("Close with data pending = %v", act)
	}
	if s.ConnLost() != 0 || !s.Closing() {
		t.Fatal("close must wait for the buffer, closing")
	}
	if act := s.Close(); act != Nothing {
		t.Fatalf("second Close = %v", act)
	}
	for s.Pending() > 0 {
		drain(t, b)
		s.Flush()
	}
	if act := s.Drained(); act != LoseNow {
		t.Fatalf("Drained after close = %v", act)
	}
}

func TestCloseWithNothingPendingLosesNow(t *testing.T) {
	a, _ := pair(t)
	s := newStream(t, a)
	if act := s.Close(); act != LoseNow || s.ConnLost() != 1 {
		t.Fatalf("Close = %v, conn_lost %d", act, s.ConnLost())
	}
}

func TestAbortDropsTheBuffer(t *testing.T) {
	a, b := pair(t)
	s := newStream(t, a)
	fill(t, a)
	s.Write(payload(500))
	flags := s.ForceClose()
	if flags != ForceCloseDone|ForceCloseDropWriter|ForceCloseDropReader {
		t.Fatalf("ForceClose flags %b", flags)
	}
	if s.Pending() != 0 || s.ConnLost() != 1 || !s.Closing() {
		t.Fatal("abort must drop the buffer and count the loss")
	}
	drain(t, b)
	if n, _ := s.Flush(); n != 0 {
		t.Fatal("dropped data was sent")
	}
	if s.ForceClose() != 0 {
		t.Fatal("a second abort acted")
	}
	// Closing first, then aborting: the reader is already gone.
	c, _ := pair(t)
	s2 := newStream(t, c)
	fill(t, c)
	s2.Write(payload(10))
	s2.Close()
	if flags := s2.ForceClose(); flags != ForceCloseDone|ForceCloseDropWriter {
		t.Fatalf("abort after close: flags %b", flags)
	}
}

func TestWriteEOFWaitsForTheBuffer(t *testing.T) {
	a, b := pair(t)
	s := newStream(t, a)
	if act := s.WriteEOF(); act != ShutdownNow {
		t.Fatalf("write_eof with nothing pending = %v", act)
	}
	if act := s.WriteEOF(); act != Nothing {
		t.Fatalf("second write_eof = %v", act)
	}
	c, d := pair(t)
	s2 := newStream(t, c)
	fill(t, c)
	s2.Write(payload(10))
	if act := s2.WriteEOF(); act != ShutdownWhenDrained {
		t.Fatalf("write_eof with data pending = %v", act)
	}
	for s2.Pending() > 0 {
		drain(t, d)
		s2.Flush()
	}
	if act := s2.Drained(); act != ShutdownNow {
		t.Fatalf("Drained after write_eof = %v", act)
	}
	_ = b
	e, _ := pair(t)
	s3 := newStream(t, e)
	s3.Close()
	if act := s3.WriteEOF(); act != Nothing {
		t.Fatalf("write_eof after close = %v", act)
	}
}

// The hardening fix: once the transport gave its socket up, its fd is -1,
// so a late write fails with EBADF instead of reaching the socket the
// kernel handed that number to next.
func TestReleasedFdNeverReachesTheNextSocket(t *testing.T) {
	a, b := pair(t)
	s := newStream(t, a)
	fill(t, a)
	s.Write(payload(100))
	s.Release()
	if s.FD() != -1 || s.Pending() != 0 || !s.Closing() || s.ConnLost() != 1 {
		t.Fatalf("after release: fd %d pending %d closing %v lost %d",
			s.FD(), s.Pending(), s.Closing(), s.ConnLost())
	}
	closeFD(a)
	closeFD(b)
	// Reuse the numbers: the new pair gets the lowest free fds, a's among them.
	c, d := pair(t)
	if c != a && d != a {
		t.Logf("fd %d was not reused (got %d, %d); the check still holds", a, c, d)
	}
	if _, err := s.Write([]byte("late")); !errors.Is(err, unix.EBADF) {
		t.Fatalf("write after release: %v, want EBADF", err)
	}
	if got := drain(t, d); len(got) != 0 {
		t.Fatalf("the new socket got %q", got)
	}
	if got := drain(t, c); len(got) != 0 {
		t.Fatalf("the new socket got %q", got)
	}
}
