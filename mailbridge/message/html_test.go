package message

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// htmlCases are HTMLToText's table test, and seeds of FuzzHTMLToText.
var htmlCases = []struct {
	name, in, want string
}{
	{"drop script style head", `<html><head><title>T</title><style>p{color:red}</style></head><body><script>alert(1)</script><p>Hi</p><noscript><p>x</p></noscript></body></html>`, "Hi"},
	{"self-closing script", `a<script/>var x = "<p>no</p>";</script>b`, "ab"},
	{"unclosed head", `<head><meta charset=utf-8><body>visible`, "visible"},
	{"paragraphs", `<p>one</p><p>two</p>three`, "one\n\ntwo\n\nthree"},
	{"divs", `<div>one</div><div><div>two</div></div>three`, "one\ntwo\nthree"},
	{"br", `a<br>b<br><br>c<br/><br><br><br>d`, "a\nb\n\nc\n\nd"},
	{"trailing br in block", `<div>a<br></div><div>b</div>`, "a\nb"},
	{"headings", `<h1>Title</h1><h2>Sub</h2>text`, "Title\n\nSub\n\ntext"},
	{"blockquote", `said:<blockquote>quoted</blockquote>after`, "said:\n\nquoted\n\nafter"},
	{"list", `<ul><li>a</li><li>b<ul><li>b1</li></ul></li></ul>after`, "• a\n• b\n  • b1\n\nafter"},
	{"ordered list", `<ol><li>first<li>second</ol>`, "• first\n• second"},
	{"empty li", `<ul><li></li><li>x</li></ul>`, "• x"},
	{"table", `<table><tr><th>A</th><th>B</th></tr><tr><td>1</td><td></td><td>3</td></tr></table>`, "A | B\n1 | 3"},
	{"layout table", `<table><tr><td><p>para one</p></td><td><p>para two</p></td></tr></table>`, "para one\n\npara two"},
	{"link differs", `See <a href="https://example.com/x">the docs</a>.`, "See the docs (https://example.com/x)."},
	{"link same", `<a href="https://www.example.com/">example.com</a>`, "example.com"},
	{"link mailto", `<a href="mailto:a@example.com">a@example.com</a>, <a href="mailto:b@example.com">Bob</a>`, "a@example.com, Bob (b@example.com)"},
	{"link anchor js", `<a href="#top">top</a> <a href="javascript:void(0)">js</a>`, "top js"},
	{"image link alt", `<a href="https://x.example/"><img src="l.png" alt="Logo"></a>`, "Logo (https://x.example/)"},
	{"image link no alt", `before <a href="https://x.example/"><img src="l.png"></a> after`, "before after"},
	{"link space inside", `<a href="https://x.example/a">click </a>here`, "click (https://x.example/a) here"},
	{"link spanning blocks", `<a href="https://x.example/"><div>one</div><div>two</div></a>`, "one\ntwo (https://x.example/)"},
	{"entities", `caf&eacute; &amp; &lt;tag&gt; &#8364;5 &euro;`, "café & <tag> €5 €"},
	{"whitespace", "  lots \n\t of   \r\n space&nbsp;&nbsp;here  ", "lots of space here"},
	{"inline tags", `a<b>b</b>c <i>d</i> e<span>f</span>`, "abc d ef"},
	{"pre", "<p>x</p><pre>  code\n    indented\n</pre>y", "x\n\n  code\n    indented\n\ny"},
	{"blank lines", `<p>a</p><p></p><p></p><div></div><br><br><p>b</p>`, "a\n\nb"},
	{"hidden preheader", `<div style="display: none; max-height:0">preview &zwnj;&nbsp;</div><p>body</p>`, "body"},
	{"hidden attr nested", `<div hidden>x<div>y</div>z</div>shown`, "shown"},
	{"hidden span in line", `a <span style="DISPLAY:NONE">secret</span>b`, "a b"},
	{"hidden unclosed", `<div style="display:none">not really hidden`, "not really hidden"},
	{"invisible chars", "a\u200bb\u00adc \u034f\u200c d", "abc d"},
	{"comments", `a<!-- hidden -->b<!--[if mso]><p>mso</p><![endif]-->c`, "abc"},
	{"not utf-8", "Gr\xfc\xdfe", "Grüße"},
	{"empty", "", ""},
	{"text only", "just text", "just text"},
}

func TestHTMLToText(t *testing.T) {
	for _, tc := range htmlCases {
		got, truncated, err := HTMLToText(strings.NewReader(tc.in), 0)
		if err != nil || truncated {
			t.Errorf("%s: err=%v truncated=%v", tc.name, err, truncated)
		}
		if got != tc.want {
			t.Errorf("%s:\n got %q\nwant %q", tc.name, got, tc.want)
		}
	}
}

func TestHTMLToTextLimit(t *testing.T) {
	in := strings.Repeat("<p>ünïcödé text</p>", 1000)
	got, truncated, err := HTMLToText(strings.NewReader(in), 100)
	if err != nil || !truncated || len(got) > 100 || !utf8.ValidString(got) {
		t.Errorf("len=%d truncated=%v err=%v valid=%v", len(got), truncated, err, utf8.ValidString(got))
	}
	got, truncated, _ = HTMLToText(strings.NewReader("<p>short</p>"), 100)
	if truncated || got != "short" {
		t.Errorf("short: %q %v", got, truncated)
	}
}

func TestHTMLToTextHugeToken(t *testing.T) {
	in := "<p>before</p><img src=\"data:image/png;base64," + strings.Repeat("A", maxHTMLToken+10) + "\"><p>after</p>"
	got, truncated, err := HTMLToText(strings.NewReader(in), 0)
	if err == nil || !truncated || got != "before" {
		t.Errorf("got %q truncated=%v err=%v", got, truncated, err)
	}
}
