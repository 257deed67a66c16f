package search

import "strings"

// URI parameters (search.html "uri"): exact match; :below matches URIs
// that start with the value, :above those the value starts with (at path
// boundaries).
//
// Rows: (param, uri).

// appendURIRows adds the row of one uri parameter value.
func appendURIRows(ix *Index, pid int32, v any) {
	if s, ok := v.(string); ok && s != "" {
		ix.URIs = append(ix.URIs, URIRow{Param: pid, URI: cut(s)})
	}
}

// uriCond is the condition on one idx_uri row for one value.
func (b *builder) uriCond(mod string, v Value, c col) string {
	uri := c.of("uri")
	switch mod {
	case "below":
		return uri + " >= " + b.arg(v.Raw) + " AND " + uri + " < " + b.arg(prefixEnd(v.Raw))
	case "above":
		// the stored uri is the value or one of its parent paths
		var parents []string
		s := v.Raw
		for s != "" {
			parents = append(parents, b.arg(s))
			i := strings.LastIndexByte(s, '/')
			if i <= 0 || strings.HasSuffix(s[:i], ":/") || strings.HasSuffix(s[:i], ":") {
				break
			}
			s = s[:i]
		}
		return uri + " IN (" + strings.Join(parents, ", ") + ")"
	}
	return uri + " = " + b.arg(v.Raw)
}
