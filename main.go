// Command goloop is built with -buildmode=c-shared into the CPython
// extension module goloop/_goloop<EXT_SUFFIX>. Its C half is pyext/ (the
// module, the extension types, the loop iteration); this package is only
// the Go functions that C calls, one exports_<family>.go file per family,
// all behind the panic guard of exports.go.
package main

func main() {}
