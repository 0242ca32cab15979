package message

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/inboxbot/inboxbot/mailbridge/message/messagetest"
)

func TestCIDWriter(t *testing.T) {
	html := `<img src="cid:image001.png@01DA7B8C.5E6F7A80"><img src='CID:a%40B.example'>` +
		`<td background=cid:bg@Example.COM>` + `lucid:no@x.example <a href="cid:">` +
		`style="background:url(cid:css@x.example)"`
	want := map[string]bool{"image001.png@01da7b8c.5e6f7a80": true, "a@b.example": true, "bg@example.com": true, "css@x.example": true}
	// (kept in lower case: compared without case)
	for _, chunk := range []int{1, 2, 7, len(html)} {
		cids := map[string]bool{}
		w := &cidWriter{cids: cids}
		for i := 0; i < len(html); i += chunk {
			w.Write([]byte(html[i:min(i+chunk, len(html))]))
		}
		if fmt.Sprint(cids) != fmt.Sprint(want) {
			t.Errorf("chunks of %d: %v, want %v", chunk, cids, want)
		}
	}
}

func TestParseReferenced(t *testing.T) {
	m := parseFile(t, filepath.Join("testdata", "inline-images.eml"))
	got := map[string]bool{}
	for _, a := range m.Attachments {
		got[a.Name] = a.Referenced
	}
	want := map[string]bool{"image001.png": true, "image002.png": true, "photo.jpg": false, "errors.csv": false}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Referenced: %v, want %v", got, want)
	}
	// The HTML that is shown is looked at too, and may come after the
	// images it shows.
	in := "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: image/gif\r\nContent-ID: <Logo@X.example>\r\n\r\nGIF\r\n" +
		"--b\r\nContent-Type: text/html\r\n\r\n<p>hi<img src=\"cid:logo@x.example\"></p>\r\n--b--\r\n"
	m, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if m.Text != "hi" || len(m.Attachments) != 1 || !m.Attachments[0].Referenced || m.Attachments[0].ContentID != "Logo@x.example" {
		t.Errorf("Text %q attachments %+v", m.Text, m.Attachments)
	}
}

// stored is what an Attachment callback was handed.
type stored struct {
	name string
	sum  [32]byte
	n    int64
}

func storeAll(got *[]stored) func(a *Attachment, r io.Reader) error {
	return func(a *Attachment, r io.Reader) error {
		h := sha256.New()
		n, err := io.Copy(h, r)
		var s stored
		s.name, s.n = a.Name, n
		copy(s.sum[:], h.Sum(nil))
		*got = append(*got, s)
		a.Ref = fmt.Sprintf("spool/%d", len(*got))
		return err
	}
}

func TestParseAttachmentCallback(t *testing.T) {
	for _, path := range fixtures(t) {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		plain, err := Parse(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		var got []stored
		m, err := ParseOptions{Attachment: storeAll(&got)}.Parse(iotest.HalfReader(bytes.NewReader(raw)))
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(m.Attachments) {
			t.Fatalf("%s: callback called %d times for %d attachments", path, len(got), len(m.Attachments))
		}
		for i, a := range m.Attachments {
			if got[i].name != a.Name || got[i].n != a.Size || a.Ref != fmt.Sprintf("spool/%d", i+1) || a.Error != "" {
				t.Errorf("%s: attachment %d %+v, callback saw %q (%d bytes)", path, i, a, got[i].name, got[i].n)
			}
			a.Ref = ""
			m.Attachments[i] = a
		}
		// The callback changes nothing else.
		if string(marshal(t, m)) != string(marshal(t, plain)) {
			t.Errorf("%s: result differs with a callback:\n%s", path, lineDiff(string(marshal(t, plain)), string(marshal(t, m))))
		}
	}
}

func TestParseAttachmentCallbackContent(t *testing.T) {
	in := "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nbody\r\n" +
		"--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=a.bin\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n" +
		"--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Disposition: attachment; filename=l.txt\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe\r\n--b--\r\n"
	var contents []string
	m, err := ParseOptions{Attachment: func(a *Attachment, r io.Reader) error {
		b, err := io.ReadAll(r)
		contents = append(contents, string(b))
		return err
	}}.Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	// Decoded from the transfer encoding, not converted from its charset:
	// the file as it was sent.
	if len(contents) != 2 || contents[0] != "\x00\x01\x02\x03" || contents[1] != "Gr\xfc\xdfe" || m.Text != "body" {
		t.Errorf("contents %q, Text %q", contents, m.Text)
	}
}

var errDiskFull = errors.New("no space left on device")

func TestParseAttachmentCallbackError(t *testing.T) {
	in := "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nbody text\r\n" +
		"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=one.pdf\r\n\r\n" + strings.Repeat("x", 10000) + "\r\n" +
		"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=two.pdf\r\n\r\nPDF\r\n" +
		"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=bad.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC!!!!\r\n" +
		"--b\r\n\r\nmore text\r\n--b--\r\n"
	var calls []string
	m, err := ParseOptions{Attachment: func(a *Attachment, r io.Reader) error {
		calls = append(calls, a.Name)
		switch a.Name {
		case "one.pdf": // the disk fills up half-way
			if _, err := io.CopyN(io.Discard, r, 5000); err != nil {
				return err
			}
			return fmt.Errorf("writing spool: %w", errDiskFull)
		case "two.pdf": // the callback does not read at all
			return nil
		}
		_, err := io.Copy(io.Discard, r)
		return fmt.Errorf("copy: %w", err) // the part's own read error, wrapped
	}}.Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(calls, ",") != "one.pdf,two.pdf,bad.pdf" || m.Text != "body text\n\nmore text" {
		t.Fatalf("calls %q Text %q", calls, m.Text)
	}
	a := m.Attachments
	if len(a) != 3 || a[0].Error != "writing spool: no space left on device" || a[0].Size != 10000 ||
		a[1].Error != "" || a[1].Size != 3 || a[2].Error != "" {
		t.Errorf("attachments %+v", a)
	}
	// bad.pdf's broken base64 is reported like without a callback.
	if len(m.Warnings) != 1 || !strings.Contains(m.Warnings[0], "base64") {
		t.Errorf("warnings %q", m.Warnings)
	}
}

// A caller that writes each attachment to disk keeps memory flat: the
// 20 MB attachment goes through in small pieces.
func TestParseAttachmentCallbackBig(t *testing.T) {
	const size = 20 << 20
	want := messagetest.BigAttachmentSize(size)
	dir := t.TempDir()
	save := func(a *Attachment, r io.Reader) error {
		f, err := os.Create(filepath.Join(dir, a.Name))
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(f, r)
		a.Ref = f.Name()
		return err
	}
	r := messagetest.BigAttachmentMail(size)
	var m *Message
	var err error
	alloc, _ := allocated(func() { m, err = ParseOptions{Attachment: save}.Parse(r) })
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Attachments) != 1 || m.Attachments[0].Size != want || m.Attachments[0].Error != "" {
		t.Fatalf("attachments %+v", m.Attachments)
	}
	fi, err := os.Stat(m.Attachments[0].Ref)
	if err != nil || fi.Size() != want {
		t.Fatalf("stored file: %v, %v", fi, err)
	}
	t.Logf("parsing a mail with a %.1f MiB attachment into a file allocated %d KiB", float64(want)/(1<<20), alloc>>10)
	if alloc > 4<<20 {
		t.Errorf("allocated %d bytes for a %d byte attachment; want < 4 MB", alloc, want)
	}
}

// Go's streaming base64 decoder makes different things of corrupt data
// depending on read sizes: the parse must not, on either side.
func TestParseBase64ReadSizes(t *testing.T) {
	for _, data := range []string{"000=0000", "AAEC!!!!", "AAECAw==AAECAw==", "QUJD\r\nR\r\nEVG=\r\n=", "QUJDREVG"} {
		in := "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: base64\r\n\r\n" + data +
			"\r\n--b\r\nContent-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n\r\n" + data + "\r\n--b--\r\n"
		var want *Message
		var wantContent string
		for _, tc := range []struct {
			name string
			in   func() io.Reader
			read func(io.Reader) io.Reader
		}{
			{"whole", func() io.Reader { return strings.NewReader(in) }, func(r io.Reader) io.Reader { return r }},
			{"one-byte input", func() io.Reader { return iotest.OneByteReader(strings.NewReader(in)) }, func(r io.Reader) io.Reader { return r }},
			{"one-byte reads of the content", func() io.Reader { return strings.NewReader(in) }, iotest.OneByteReader},
		} {
			var content []byte
			m, err := ParseOptions{Attachment: func(a *Attachment, r io.Reader) error {
				var err error
				content, err = io.ReadAll(tc.read(r))
				return err
			}}.Parse(tc.in())
			if err != nil {
				t.Fatal(err)
			}
			if want == nil {
				want, wantContent = m, string(content)
				continue
			}
			if string(marshal(t, m)) != string(marshal(t, want)) || string(content) != wantContent {
				t.Errorf("%q, %s: got %s %q, want %s %q", data, tc.name, marshal(t, m), content, marshal(t, want), wantContent)
			}
		}
	}
}
