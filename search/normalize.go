package search

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// MaxIndexedString bounds indexed string values; longer values are cut (the
// resource keeps them whole), and search values are cut the same way so
// that starts-with still finds them.
const MaxIndexedString = 256

// Normalize folds a string for matching: accents removed, lower case,
// whitespace collapsed (search.html: string matching is case- and
// accent-insensitive).
func Normalize(s string) string {
	if s == "" {
		return ""
	}
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			ascii = false
			break
		}
	}
	if !ascii {
		t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
		if out, _, err := transform.String(t, s); err == nil {
			s = out
		}
	}
	return strings.Join(strings.Fields(strings.ToLower(s)), " ")
}

// cut shortens s to MaxIndexedString bytes on a rune boundary.
func cut(s string) string {
	if len(s) <= MaxIndexedString {
		return s
	}
	i := MaxIndexedString
	for i > 0 && s[i]&0xC0 == 0x80 {
		i--
	}
	return s[:i]
}

// prefixEnd is the smallest string greater than every string starting with
// s, turning starts-with into an index range. Both stores compare these
// columns bytewise (COLLATE "C" on PostgreSQL, BINARY on SQLite), and UTF-8
// byte order is code point order, so incrementing the last code point (not
// byte: the result must stay valid UTF-8 for PostgreSQL) gives that bound.
func prefixEnd(s string) string {
	rs := []rune(s)
	for i := len(rs) - 1; i >= 0; i-- {
		switch r := rs[i]; {
		case r == utf8.MaxRune:
			continue
		case r == 0xD7FF: // skip the surrogate gap
			rs[i] = 0xE000
		default:
			rs[i] = r + 1
		}
		return string(rs[:i+1])
	}
	return s + string(utf8.MaxRune)
}

// splitEscaped splits on sep, honouring backslash escapes (search.html
// "Escaping Search Parameters": \, \| \$ \\); the parts keep their escapes.
func splitEscaped(s string, sep byte) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case sep:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// unescape removes the search escapes from one part.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) {
			i++
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
