package main

import (
	"fmt"
	"io"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version string

// versionString returns the build-time version, else the module version
// recorded by "go install module@version", else "dev".
func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

func cmdVersion(stdout io.Writer) int {
	fmt.Fprintf(stdout, "sluice %s\n", versionString())
	return exitOK
}
