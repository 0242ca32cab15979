package main

import (
	"runtime/debug"
	"strings"
)

// Set by the Docker build (which has no .git for Go to read):
//
//	go build -ldflags "-X main.version=v1.2.3 -X main.revision=abc123" ./cmd/inboxbot
var version, revision string

// versionString is "inboxbot VERSION (REVISION[, modified])": the stamped
// values first, then what the Go toolchain recorded (module version, VCS
// revision), then "unknown".
func versionString() string {
	v, rev, modified := version, revision, false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" && bi.Main.Version != "" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if rev == "" {
					rev = s.Value
				}
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if v == "" {
		v = "(devel)"
	}
	if rev == "" {
		rev = "unknown revision"
	}
	var b strings.Builder
	b.WriteString("inboxbot " + v + " (" + rev)
	if modified {
		b.WriteString(", modified")
	}
	b.WriteString(")")
	return b.String()
}
