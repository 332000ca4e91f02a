// Package policy holds goloop's process-wide services in Go, shared by
// every loop. Today that is the DNS resolver: libc getaddrinfo and
// getnameinfo on goroutines, at most maxBlockingJobs OS threads over all
// loops, each loop's finished lookups handed back to its thread through the
// loop's wake-up fd (resolver.go).
//
// The other process-wide services of the design card are deliberately not
// Go, and live where they must run:
//   - the fork state (a pthread_atfork child handler setting the flag that
//     every C entry point checks) is pyext/module.c: a forked child must
//     see it without running any Go code, since the Go runtime does not
//     survive fork();
//   - signal wake-up routing stays in Python's hands (signal.set_wakeup_fd
//     onto the loop's pipe, which package loop creates and pyext/run.c
//     polls); Go must never own a signal Python handles;
//   - children are watched with pidfd_open on each loop's poller
//     (python/goloop/_subprocess.py), so there is no process-wide watcher.
package policy
