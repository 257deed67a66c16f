package interaction

import (
	"strconv"
	"sync"
	"unicode/utf8"
)

// jsonBuf appends JSON to a byte slice. The $immds-forecast answer is
// written with it rather than encoding/json: a 20-dose child's answer has
// some 60 resources, and reflection and intermediate maps would cost more
// than the engine itself (the budget is 2× the engine time).
// need records whether the next member or element needs a comma.
type jsonBuf struct {
	b    []byte
	need bool
}

var jsonBufPool = sync.Pool{New: func() any { return &jsonBuf{b: make([]byte, 0, 64<<10)} }}

func getJSONBuf() *jsonBuf {
	w := jsonBufPool.Get().(*jsonBuf)
	w.b, w.need = w.b[:0], false
	return w
}

// putJSONBuf returns w to the pool; huge buffers are dropped so that one
// large answer does not pin memory.
func putJSONBuf(w *jsonBuf) {
	if cap(w.b) <= 1<<20 {
		jsonBufPool.Put(w)
	}
}

func (w *jsonBuf) sep() {
	if w.need {
		w.b = append(w.b, ',')
	}
	w.need = false
}

// key starts a member.
func (w *jsonBuf) key(k string) {
	w.sep()
	w.b = append(w.b, '"')
	w.b = append(w.b, k...)
	w.b = append(w.b, '"', ':')
}

// obj and arr open a value (after key, elem or at the top).
func (w *jsonBuf) obj() { w.b = append(w.b, '{'); w.need = false }
func (w *jsonBuf) arr() { w.b = append(w.b, '['); w.need = false }

// end closes an object or array.
func (w *jsonBuf) end(c byte) { w.b = append(w.b, c); w.need = true }

// elem starts an array element.
func (w *jsonBuf) elem() { w.sep() }

func (w *jsonBuf) str(k, v string) {
	w.key(k)
	w.quote(v)
	w.need = true
}

// lit writes a member whose value needs no escaping: this package's
// constants, codes, validated ids and dates. It skips quote's scan, which
// is most of the cost of the answer.
func (w *jsonBuf) lit(k, v string) {
	w.key(k)
	w.b = append(w.b, '"')
	w.b = append(w.b, v...)
	w.b = append(w.b, '"')
	w.need = true
}

func (w *jsonBuf) int(k string, n int) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, int64(n), 10)
	w.need = true
}

func (w *jsonBuf) bool(k string, v bool) {
	w.key(k)
	w.b = strconv.AppendBool(w.b, v)
	w.need = true
}

// raw writes a member whose value is already JSON.
func (w *jsonBuf) raw(k string, v []byte) {
	w.key(k)
	w.b = append(w.b, v...)
	w.need = true
}

const hexDigits = "0123456789abcdef"

// quote appends s as a JSON string: quotes, backslashes and control
// characters escaped, invalid UTF-8 replaced by U+FFFD (strings may come
// from the client).
func (w *jsonBuf) quote(s string) {
	b := append(w.b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	w.b = append(b, '"')
}
