package search

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
)

// EncodeCursor makes the opaque _cursor value of the page after c.
func EncodeCursor(c Cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor parses a _cursor value.
func DecodeCursor(s string) (*Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("malformed _cursor")
	}
	var c Cursor
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("malformed _cursor")
	}
	return &c, nil
}
