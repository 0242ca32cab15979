package message

import (
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/transform"
)

// utf7Decoder decodes UTF-7 (RFC 2152) to UTF-8; x/text has no UTF-7 and
// the Go packages for it are unmaintained. Text is ASCII except for runs
// "+<modified base64 of UTF-16>", ended by any character outside the base64
// alphabet; a "-" ending a run is dropped, and "+-" is a plain "+". What
// cannot be decoded (bytes above 0x7F, unpaired surrogates) becomes U+FFFD.
type utf7Decoder struct {
	inRun bool   // inside a "+..." run
	empty bool   // no base64 character yet in this run
	bits  uint32 // base64 bits not yet decoded (the low nbits)
	nbits uint
	high  rune // a high surrogate waiting for its pair, 0 if none
}

func (d *utf7Decoder) Reset() { *d = utf7Decoder{} }

func (d *utf7Decoder) Transform(dst, src []byte, atEOF bool) (nDst, nSrc int, err error) {
	// Each byte of input gives at most two runes (a pending error and a
	// character): reserve room for both before consuming it.
	const room = 2 * utf8.UTFMax
	for nSrc < len(src) {
		if len(dst)-nDst < room {
			return nDst, nSrc, transform.ErrShortDst
		}
		c := src[nSrc]
		if !d.inRun {
			switch {
			case c == '+':
				d.inRun, d.empty = true, true
			case c < utf8.RuneSelf:
				dst[nDst] = c
				nDst++
			default:
				nDst += utf8.EncodeRune(dst[nDst:], utf8.RuneError)
			}
			nSrc++
			continue
		}
		if v := base64Value(c); v >= 0 {
			d.empty = false
			d.bits = d.bits<<6 | uint32(v)
			d.nbits += 6
			if d.nbits >= 16 {
				d.nbits -= 16
				unit := rune(d.bits >> d.nbits & 0xFFFF)
				d.bits &= 1<<d.nbits - 1
				nDst += d.unit(dst[nDst:], unit)
			}
			nSrc++
			continue
		}
		// The run ends.
		if c == '-' {
			nSrc++ // the "-" is absorbed
		}
		nDst += d.endRun(dst[nDst:])
		// Any other character is read again as direct text.
	}
	if atEOF && d.inRun {
		if len(dst)-nDst < room {
			return nDst, nSrc, transform.ErrShortDst
		}
		nDst += d.endRun(dst[nDst:])
	}
	return nDst, nSrc, nil
}

// unit writes the character a UTF-16 code unit completes.
func (d *utf7Decoder) unit(dst []byte, u rune) int {
	n := 0
	switch {
	case utf16.IsSurrogate(u) && u < 0xDC00: // high surrogate
		if d.high != 0 {
			n += utf8.EncodeRune(dst, utf8.RuneError)
		}
		d.high = u
		return n
	case d.high != 0:
		r := utf16.DecodeRune(d.high, u)
		d.high = 0
		if r == utf8.RuneError {
			n += utf8.EncodeRune(dst, utf8.RuneError)
			break
		}
		return utf8.EncodeRune(dst, r)
	}
	if utf16.IsSurrogate(u) { // a low surrogate alone
		u = utf8.RuneError
	}
	return n + utf8.EncodeRune(dst[n:], u)
}

// endRun ends a run: "+-" is a "+", and so is a "+" that no base64
// follows (ill-formed, but meant literally).
func (d *utf7Decoder) endRun(dst []byte) int {
	n := 0
	if d.empty {
		dst[0] = '+'
		n = 1
	}
	if d.high != 0 {
		n += utf8.EncodeRune(dst[n:], utf8.RuneError)
	}
	*d = utf7Decoder{}
	return n
}

func base64Value(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return int(c - 'A')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 26
	case c >= '0' && c <= '9':
		return int(c-'0') + 52
	case c == '+':
		return 62
	case c == '/':
		return 63
	}
	return -1
}
