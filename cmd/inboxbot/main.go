// Command inboxbot runs a Slack channel as a team's shared email inbox.
// Configuration is by environment variables; see README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// Exit statuses.
const (
	exitOK     = 0
	exitFailed = 1 // a failure at run time; check found a problem
	exitConfig = 2 // bad configuration or command line; start-up found a problem only a change can fix
)

const usage = `inboxbot runs a Slack channel as your team's shared email inbox.

Usage:
  inboxbot [run]     run the bot (the default)
  inboxbot check     check the configuration, Slack, IMAP and SMTP, changing nothing
  inboxbot health    ask a running inboxbot (HTTP_ADDR) whether it is alive
  inboxbot version   print the version (also --version)
  inboxbot help      print this (also --help)

Configuration is by environment variables; see README.md.
Exit status: 0 fine, 1 failure at run time (or check failed), 2 bad configuration
or a problem found at start-up that only a change can fix.
`

func main() {
	os.Exit(cli(os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// cli runs one command line and returns the exit status.
func cli(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 {
		cmd = args[0]
		args = args[1:]
	}
	switch cmd {
	case "help", "--help", "-help", "-h":
		fmt.Fprint(stdout, usage)
		return exitOK
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, versionString())
		return exitOK
	}
	if len(args) > 0 {
		fmt.Fprintf(stderr, "inboxbot %s: unexpected argument %q\n\n%s", cmd, args[0], usage)
		return exitConfig
	}
	switch cmd {
	case "run":
		return runCommand(getenv, stderr)
	case "check":
		return checkCommand(getenv, stdout, stderr)
	case "health":
		return healthCommand(getenv, stdout, stderr)
	}
	fmt.Fprintf(stderr, "inboxbot: unknown command %q: use run, check, health, version or help\n", cmd)
	return exitConfig
}

// loadConfig reads the configuration, printing every problem, one per line.
func loadConfig(getenv func(string) string, stderr io.Writer) (Config, bool) {
	cfg, err := LoadConfig(getenv)
	if err != nil {
		for _, line := range strings.Split(err.Error(), "\n") {
			fmt.Fprintln(stderr, "inboxbot: configuration:", line)
		}
		return cfg, false
	}
	return cfg, true
}

func newLogger(cfg Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func runCommand(getenv func(string) string, stderr io.Writer) int {
	cfg, ok := loadConfig(getenv, stderr)
	if !ok {
		return exitConfig
	}
	log := newLogger(cfg, stderr)
	log.Info("inboxbot starting", "version", versionString())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-sigs
		log.Info("shutting down (signal again to exit at once)")
		cancel()
		<-sigs
		log.Warn("second signal: exiting now")
		os.Exit(exitFailed)
	}()

	m := NewMain(cfg, log)
	if err := m.Run(ctx); err != nil {
		fmt.Fprintln(stderr, "inboxbot:", err)
		return exitFailed
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-m.Failed():
	}
	if cerr := m.Close(); cerr != nil && err == nil {
		err = cerr
	}
	var se *StartupError
	switch {
	case errors.As(err, &se):
		for _, c := range se.Checks {
			fmt.Fprintln(stderr, "inboxbot:", c.Fix, "("+c.Name+": "+c.Detail+")")
		}
		return exitConfig
	case err != nil:
		log.Error("stopping after a fatal error", "err", err)
		fmt.Fprintln(stderr, "inboxbot:", err)
		return exitFailed
	}
	return exitOK
}
