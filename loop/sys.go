package loop

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Raw syscalls: the fds are non-blocking, so the call never blocks and Go's
// syscall bookkeeping (which lets the runtime hand the scheduler slot away)
// is pure overhead. Each one retries on EINTR, which the runtime's
// preemption signal (SIGURG) can cause.

func rawWrite(fd int, buf []byte) (int, syscall.Errno) {
	for {
		n, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&buf[0])), uintptr(len(buf)))
		if e == unix.EINTR {
			continue
		}
		if e != 0 {
			return -1, e
		}
		return int(n), 0
	}
}

func epollCtl(epfd, op, fd int, events uint32) error {
	ev := unix.EpollEvent{Events: events, Fd: int32(fd)}
	for {
		err := unix.EpollCtl(epfd, op, fd, &ev)
		if err == unix.EINTR {
			continue
		}
		return err
	}
}
