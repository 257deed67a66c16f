package interaction

import (
	"strconv"
	"sync"

	"github.com/immunis/immunis/fhir"
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

// quote appends s as a JSON string (strings may come from the client:
// quotes, backslashes and control characters escaped, invalid UTF-8
// replaced by U+FFFD).
func (w *jsonBuf) quote(s string) { w.b = fhir.AppendString(w.b, s) }
