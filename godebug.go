//go:build go1.25

// go.mod says go 1.21 (the oldest Go that builds goloop), and the go line
// also picks the runtime's GODEBUG defaults: built by Go 1.25+, goloop
// would otherwise get 1.21's, e.g. a GOMAXPROCS that ignores the cgroup CPU
// limit. These keep the defaults of the toolchain that builds it. Older
// toolchains do not know these settings, hence the build constraint.

//go:debug asynctimerchan=0
//go:debug containermaxprocs=1
//go:debug updatemaxprocs=1
//go:debug decoratemappings=1

package main
