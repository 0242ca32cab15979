// Package mailtest provides mail-server counterparts for tests of the
// inboxbot mail bridge. It is imported only by _test.go files.
//
// In-process counterparts (no installs, any platform):
//
//   - [NewIMAPServer]: go-imap v2 imapserver + imapmemserver on 127.0.0.1:0,
//     one user with an INBOX, plaintext only.
//   - [NewSMTPServer]: a go-smtp server that records every accepted message
//     and can inject failures per transaction.
//   - [NewTokenServer]: a local OAuth2 token endpoint issuing short-lived
//     access tokens, which both servers accept by XOAUTH2 (and OAUTHBEARER
//     on IMAP) once their AcceptOAuth is called.
//
// Real servers for interop tests (Linux, run as root, Debian packages
// dovecot-imapd and postfix):
//
//   - [StartDovecot]: Dovecot 2.3 in the foreground with a private config.
//   - [StartPostfix]: Postfix 3.x in the foreground with a private config,
//     delivering into the Dovecot user's maildir and into a catch-all
//     maildir for every other domain.
//
// The real servers are skipped when their binaries are missing, unless the
// environment variable INBOXBOT_REQUIRE_REAL_SERVERS=1 is set, in which case
// the test fails instead. Every server is stopped by t.Cleanup and its log
// is printed (t.Log) when the test failed.
//
// All TLS endpoints use one self-signed certificate generated at first use
// (valid for 127.0.0.1, ::1, localhost and mx.example.test); clients can
// trust it through [ClientTLSConfig] or use InsecureSkipVerify.
package mailtest
