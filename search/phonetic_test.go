package search

import "testing"

func TestSoundex(t *testing.T) {
	for _, c := range []struct{ word, want string }{
		{"Robert", "R163"}, {"Rupert", "R163"}, {"Rubin", "R150"}, {"Ashcraft", "A261"}, {"Ashcroft", "A261"},
		{"Tymczak", "T522"}, {"Pfister", "P236"}, {"Honeyman", "H555"}, {"Müller", "M460"}, {"Muller", "M460"},
		{"Lee", "L000"}, {"O'Brien", "O165"}, {"123", ""},
	} {
		if got := soundex(c.word); got != c.want {
			t.Errorf("soundex(%q) = %q, want %q", c.word, got, c.want)
		}
	}
}
