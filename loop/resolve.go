package loop

import (
	"unsafe"

	"goloop/cgo"
)

// GetAddrInfo resolves host/port with libc getaddrinfo on a goroutine (no
// Python thread pool) and settles fut with socket.getaddrinfo's result.
func (e *Engine) GetAddrInfo(fut unsafe.Pointer, host, port string, hostNil, portNil bool, family, typ, proto, flags int) {
	var res cgo.AddrInfo
	var code, errno int
	j := &job{}
	j.complete = func() bool { return cgo.FinishAddrInfo(j.fut, res, code, errno) }
	j.discard = func() { res.Free() }
	e.start(fut, j, func() {
		res, code, errno = cgo.GetAddrInfo(host, port, hostNil, portNil, family, typ, proto, flags)
	})
}

// GetNameInfo runs libc getnameinfo on a goroutine and settles fut.
func (e *Engine) GetNameInfo(fut unsafe.Pointer, host, port string, flowinfo, scopeID uint32, v6 bool, flags int) {
	var ni cgo.NameInfo
	j := &job{}
	j.complete = func() bool { return cgo.FinishNameInfo(j.fut, ni) }
	j.discard = func() {}
	e.start(fut, j, func() {
		ni = cgo.GetNameInfo(host, port, flowinfo, scopeID, v6, flags)
	})
}
