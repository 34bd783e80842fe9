package sqlstore

import "testing"

func TestRebindLimitsByValue(t *testing.T) {
	d := &Dialect{LimitsByValue: true}
	for _, c := range []struct{ in, want string }{
		{"SELECT 1 FROM t WHERE a = ? LIMIT ?", "SELECT 1 FROM t WHERE a = ? LIMIT ?+0"},
		{"SELECT 1 FROM t LIMIT ? OFFSET ?", "SELECT 1 FROM t LIMIT ?+0 OFFSET ?+0"},
		{"SELECT 1 FROM t LIMIT 64 OFFSET ?2", "SELECT 1 FROM t LIMIT 64 OFFSET ?2+0"},
		{"UPDATE t SET a = ?1 WHERE id IN (SELECT id FROM t LIMIT ?3) RETURNING a",
			"UPDATE t SET a = ?1 WHERE id IN (SELECT id FROM t LIMIT ?3+0) RETURNING a"},
		{"SELECT 1 FROM (SELECT a FROM t LIMIT ?12) LIMIT ?", "SELECT 1 FROM (SELECT a FROM t LIMIT ?12+0) LIMIT ?+0"},
		{"SELECT 1 FROM t WHERE a = ? LIMIT 10", "SELECT 1 FROM t WHERE a = ? LIMIT 10"},
	} {
		for range 2 { // the second time from the cache
			if got := d.Rebind(c.in); got != c.want {
				t.Errorf("Rebind(%q) = %q, want %q", c.in, got, c.want)
			}
		}
	}
	if got := (&Dialect{}).Rebind("SELECT 1 LIMIT ?"); got != "SELECT 1 LIMIT ?" {
		t.Errorf("without LimitsByValue: %q", got)
	}
	if got := (&Dialect{Numbered: true}).Rebind("SELECT 1 WHERE a = ? LIMIT ?"); got != "SELECT 1 WHERE a = $1 LIMIT $2" {
		t.Errorf("numbered: %q", got)
	}
}
