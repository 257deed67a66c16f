package search

import "strings"

// The phonetic parameters (Patient, Practitioner, RelatedPerson and
// Organization "phonetic": "a portion of either family or given name
// using some kind of phonetic matching algorithm") use American Soundex:
// each word of each name part is indexed as its code in the norm column,
// and a search matches when the code of its value equals one of them.

// isPhonetic reports whether p is matched phonetically.
func isPhonetic(p *Param) bool { return p != nil && p.Type == TypeString && p.Code == "phonetic" }

// soundex is the American Soundex code of one word (letters only, after
// accent folding); "" when the word has no letter.
func soundex(word string) string {
	digit := func(c byte) byte {
		switch c {
		case 'b', 'f', 'p', 'v':
			return '1'
		case 'c', 'g', 'j', 'k', 'q', 's', 'x', 'z':
			return '2'
		case 'd', 't':
			return '3'
		case 'l':
			return '4'
		case 'm', 'n':
			return '5'
		case 'r':
			return '6'
		case 'h', 'w':
			return 'h' // neither coded nor a separator
		}
		return 0 // vowels separate equal codes
	}
	w := Normalize(word)
	out := make([]byte, 0, 4)
	var last byte
	for i := 0; i < len(w) && len(out) < 4; i++ {
		c := w[i]
		if c < 'a' || c > 'z' {
			continue
		}
		d := digit(c)
		if len(out) == 0 {
			out = append(out, c-'a'+'A')
			last = d
			continue
		}
		switch {
		case d == 'h':
		case d == 0:
			last = 0
		case d != last:
			out = append(out, d)
			last = d
		}
	}
	if len(out) == 0 {
		return ""
	}
	for len(out) < 4 {
		out = append(out, '0')
	}
	return string(out)
}

// appendPhoneticRows adds the Soundex codes of every word of a name.
func appendPhoneticRows(ix *Index, pid int32, v any) {
	var plain Index
	appendStringRows(&plain, pid, v)
	for _, r := range plain.Strings {
		for _, w := range strings.Fields(r.Exact) {
			if code := soundex(w); code != "" {
				ix.Strings = append(ix.Strings, StringRow{Param: pid, Norm: code, Exact: cut(w)})
			}
		}
	}
}

// phoneticCond matches rows whose code is the value's (a value of several
// words is matched by its first).
func (b *builder) phoneticCond(raw string, c col) string {
	code := soundex(raw)
	if f := strings.Fields(raw); len(f) > 0 {
		code = soundex(f[0])
	}
	return c.of("norm") + " = " + b.arg(code)
}
