// Package messagetest makes mail for the tests of inboxbot's mail packages.
// Like package message, it imports nothing else of the project.
package messagetest

import (
	"bytes"
	"encoding/base64"
	"io"
)

// block is the decoded size of one block of the attachment: 1024 lines of
// base64, 57 decoded bytes (76 characters) each.
const block = 57 * 1024

// BigAttachmentMail streams a multipart/mixed mail with a base64 attachment
// (big.zip) of BigAttachmentSize(size) decoded bytes, generated on the fly:
// a test reads a mail of any size without it ever being in memory.
func BigAttachmentMail(size int) io.Reader {
	head := "From: a@example.com\r\nTo: b@example.com\r\nSubject: big\r\nMessage-ID: <big@example.com>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"BIG\"\r\n\r\n" +
		"--BIG\r\nContent-Type: text/plain\r\n\r\nSee attachment.\r\n" +
		"--BIG\r\nContent-Type: application/zip\r\nContent-Disposition: attachment; filename=\"big.zip\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n"
	tail := "\r\n--BIG--\r\n"
	raw := bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, block/4+1)[:block]
	var encoded bytes.Buffer
	for i := 0; i < block; i += 57 {
		encoded.WriteString(base64.StdEncoding.EncodeToString(raw[i : i+57]))
		encoded.WriteString("\r\n")
	}
	pr, pw := io.Pipe()
	go func() {
		if _, err := pw.Write([]byte(head)); err != nil {
			return
		}
		for range size / block {
			if _, err := pw.Write(encoded.Bytes()); err != nil {
				return
			}
		}
		pw.Write([]byte(tail))
		pw.Close()
	}()
	return pr
}

// BigAttachmentSize is the decoded size of the attachment of
// BigAttachmentMail(size): size rounded down to whole blocks of 57 KiB.
func BigAttachmentSize(size int) int64 { return int64(size / block * block) }
