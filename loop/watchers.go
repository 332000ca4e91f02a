package loop

import (
	"golang.org/x/sys/unix"

	"goloop/cgo"
)

// watcherTable maps an fd to its watcher: a slice indexed by fd, as fds
// are small dense integers (a map lookup per ready fd showed in profiles).
type watcherTable []*watcher

func (t watcherTable) get(fd int) *watcher {
	if fd < 0 || fd >= len(t) {
		return nil
	}
	return t[fd]
}

func (t *watcherTable) set(fd int, w *watcher) {
	if fd >= len(*t) {
		grown := make(watcherTable, max(fd+1, 2*len(*t), 64))
		copy(grown, *t)
		*t = grown
	}
	(*t)[fd] = w
}

func (t watcherTable) del(fd int) {
	if fd >= 0 && fd < len(t) {
		t[fd] = nil
	}
}

func (w *watcher) mask() uint32 {
	var m uint32
	if !w.reader.Nil() {
		m |= unix.EPOLLIN
	}
	if !w.writer.Nil() {
		m |= unix.EPOLLOUT
	}
	return m
}

// register (re)applies fd's interest set to epoll. A stale registration
// (the fd was closed and its number reused) is handled by switching
// between ADD and MOD.
func (e *Engine) register(fd int, old, mask uint32) error {
	switch {
	case mask == 0:
		err := epollCtl(e.epfd, unix.EPOLL_CTL_DEL, fd, 0)
		if err == unix.ENOENT || err == unix.EBADF {
			err = nil
		}
		return err
	case old == 0:
		err := epollCtl(e.epfd, unix.EPOLL_CTL_ADD, fd, mask)
		if err == unix.EEXIST {
			err = epollCtl(e.epfd, unix.EPOLL_CTL_MOD, fd, mask)
		}
		return err
	default:
		err := epollCtl(e.epfd, unix.EPOLL_CTL_MOD, fd, mask)
		if err == unix.ENOENT {
			err = epollCtl(e.epfd, unix.EPOLL_CTL_ADD, fd, mask)
		}
		return err
	}
}

// Watch installs h (one reference taken over) as fd's reader or writer
// and returns the handle it replaces (a reference the caller now owns).
func (e *Engine) Watch(fd int, write bool, h cgo.Handle) (cgo.Handle, error) {
	w := e.watchers.get(fd)
	if w == nil {
		w = &watcher{}
	}
	oldMask := w.mask()
	var prev cgo.Handle
	if write {
		prev, w.writer = w.writer, h
	} else {
		prev, w.reader = w.reader, h
	}
	if err := e.register(fd, oldMask, w.mask()); err != nil {
		if write {
			w.writer = prev
		} else {
			w.reader = prev
		}
		if w.mask() == 0 {
			e.watchers.del(fd)
		}
		return cgo.Handle{}, err
	}
	e.watchers.set(fd, w)
	return prev, nil
}

// Unwatch removes fd's reader or writer and returns it (a reference the
// caller now owns), or a nil Handle when there was none. A non-nil only
// removes the watcher only while it is that handle: a transport or a
// pending sock_* call names the registration it owns, so once its fd
// number was closed and handed to another socket, whose registration
// replaced it, it cannot remove the newcomer's.
func (e *Engine) Unwatch(fd int, write bool, only cgo.Handle) (cgo.Handle, error) {
	w := e.watchers.get(fd)
	if w == nil {
		return cgo.Handle{}, nil
	}
	cur := w.reader
	if write {
		cur = w.writer
	}
	if cur.Nil() || (!only.Nil() && cur != only) {
		return cgo.Handle{}, nil
	}
	oldMask := w.mask()
	prev := cur
	if write {
		w.writer = cgo.Handle{}
	} else {
		w.reader = cgo.Handle{}
	}
	if w.mask() == 0 {
		e.watchers.del(fd)
	}
	// A closed fd is already gone from epoll: that is not an error.
	_ = e.register(fd, oldMask, w.mask())
	return prev, nil
}

// Mask is the interest set registered on fd: EPOLLIN for a reader,
// EPOLLOUT for a writer, 0 when nothing watches it.
func (e *Engine) Mask(fd int) uint32 {
	if w := e.watchers.get(fd); w != nil {
		return w.mask()
	}
	return 0
}
