package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/inboxbot/inboxbot/bot"
	"github.com/inboxbot/inboxbot/mailbridge"
)

// checkCommand checks everything inboxbot needs without sending mail or
// posting anything, printing one line per check; it exits 0 only if all
// pass.
func checkCommand(getenv func(string) string, stdout, stderr io.Writer) int {
	cfg, ok := loadConfig(getenv, stderr)
	if !ok {
		return exitConfig
	}
	fmt.Fprintln(stdout, "✓ Configuration")
	m := NewMain(cfg, slog.New(slog.DiscardHandler))
	if m.runChecks(context.Background(), stdout) {
		return exitOK
	}
	return exitFailed
}

// runChecks runs every check of `inboxbot check` and prints them.
func (m *Main) runChecks(ctx context.Context, out io.Writer) bool {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var all []check
	all = append(all, checks(bot.CheckSlack(ctx, m.slackAPI(nil), m.channels(), m.appTokenCheck(true)))...)
	for _, in := range m.Config.Inboxes {
		cs := append(checks(mailbridge.CheckIMAP(ctx, m.imapConfig(in, nil))), checks(mailbridge.CheckSMTP(ctx, m.smtpConfig(in, nil)))...)
		if len(m.Config.Inboxes) > 1 {
			for i := range cs {
				cs[i].Name = in.Address + ": " + cs[i].Name
			}
		}
		all = append(all, cs...)
	}
	ok := true
	for _, c := range all {
		if c.OK {
			line := "✓ " + c.Name
			if c.Detail != "" {
				line += ": " + c.Detail
			}
			fmt.Fprintln(out, line)
			continue
		}
		ok = false
		fmt.Fprintf(out, "✗ %s: %s\n", c.Name, c.Detail)
		if c.Fix != "" {
			fmt.Fprintf(out, "    fix: %s\n", c.Fix)
		}
		if !c.Permanent {
			fmt.Fprintln(out, "    (this may pass by itself: run check again later)")
		}
	}
	return ok
}
