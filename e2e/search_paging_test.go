package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// TestSearchPagingWhileWriting: next links hold keyset positions, so a
// client paging through a result while others write sees every resource
// that existed before it started and did not change, exactly once; a
// resource created before the cursor position is not shown on later pages,
// and deleted ones simply drop out.
func TestSearchPagingWhileWriting(t *testing.T) {
	forEachStore(t, func(t *testing.T, s *Server) {
		var entries []any
		for i := 0; i < 30; i++ {
			entries = append(entries, map[string]any{
				"resource": map[string]any{"resourceType": "Patient", "id": fmt.Sprintf("pg-%02d", i),
					"name": []any{map[string]any{"family": fmt.Sprintf("F%02d", (i*7)%30)}}, "gender": "other"},
				"request": map[string]any{"method": "PUT", "url": fmt.Sprintf("Patient/pg-%02d", i)}})
		}
		s.Do(t, "POST", "", map[string]any{"resourceType": "Bundle", "type": "transaction", "entry": entries}).Expect(t, 200)
		create := func(id, family string) {
			s.Do(t, "PUT", "Patient/"+id, fmt.Sprintf(`{"resourceType":"Patient","id":%q,"name":[{"family":%q}],"gender":"other"}`, id, family)).Expect(t, 201)
		}
		for _, c := range []struct {
			query string
			// between the first and the second page
			change func(seen []string)
			// ids that must not appear after the first page
			absent []string
		}{
			{"Patient?gender=other&_count=10", func(seen []string) {
				create("pg-new-1", "F99")                              // after the cursor: shown later
				s.Do(t, "DELETE", "Patient/pg-15", nil).Expect(t, 204) // not yet shown: gone
				s.Do(t, "PUT", "Patient/pg-20", `{"resourceType":"Patient","id":"pg-20","name":[{"family":"Changed"}],"gender":"other"}`).Expect(t, 200)
			}, []string{"pg-15"}},
			{"Patient?gender=other&_sort=family&_count=10", func(seen []string) {
				create("pg-new-2", "A00")                                           // sorts before the cursor
				create("pg-new-3", "Z99")                                           // sorts after it
				s.Do(t, "DELETE", "Patient/"+seen[len(seen)-1], nil).Expect(t, 204) // the cursor row itself
			}, []string{"pg-new-2"}},
		} {
			t.Run(c.query, func(t *testing.T) {
				before := sqFetchIDs(t, s, c.query, 1000)
				first := s.Do(t, "GET", c.query, nil).Expect(t, 200).JSON(t)
				seen := sqIDs(sqEntries(first, "match"))
				c.change(seen)
				count := map[string]int{}
				for _, id := range seen {
					count[id]++
				}
				var later []string
				for link := sqLink(first, "next"); link != ""; {
					b := s.Do(t, "GET", link, nil).Expect(t, 200).JSON(t)
					for _, id := range sqIDs(sqEntries(b, "match")) {
						count[id]++
						later = append(later, id)
					}
					link = sqLink(b, "next")
				}
				for id, n := range count {
					if n > 1 {
						t.Errorf("%s shown %d times", id, n)
					}
				}
				for _, id := range before {
					deleted := id == "pg-15" || strings.HasPrefix(c.query, "Patient?gender=other&_sort") && id == seen[len(seen)-1]
					if count[id] == 0 && !deleted && id != "pg-20" {
						t.Errorf("%s, there before paging began and unchanged, was never shown", id)
					}
				}
				for _, id := range c.absent {
					for _, l := range later {
						if l == id {
							t.Errorf("%s shown after the first page", id)
						}
					}
				}
			})
		}
	})
}
