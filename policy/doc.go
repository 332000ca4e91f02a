// Package policy will hold process-wide services shared by every loop: the
// child-process watcher (pidfd) and signal routing (issue 5). The fork
// guard lives in cgo/module.c because it must run without the Go runtime.
package policy
