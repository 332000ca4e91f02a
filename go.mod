module goloop

// The oldest Go that builds goloop (checked with GOTOOLCHAIN=go1.21.0);
// setup.py reads the version from here. No toolchain line: a distribution's
// Go >= 1.21 builds without downloading another.
go 1.21

require golang.org/x/sys v0.30.0
