package benchdb

import (
	"os"
	"testing"
)

func TestParseStat(t *testing.T) {
	// A postgres backend's line, its command name holding ") (" as a process
	// title may; fields 14–17 are utime, stime, cutime, cstime.
	line := "4242 (post) (gres) S 17 4242 4242 0 -1 4194560 500 0 0 0 1234 56 7890 12 20 0 1 0 100 200000000 3000 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n"
	st, err := parseStat(line)
	if err != nil {
		t.Fatal(err)
	}
	want := stat{comm: "post) (gres", ppid: 17, utime: 1234, stime: 56, cutime: 7890, cstime: 12}
	if st != want {
		t.Errorf("got %+v, want %+v", st, want)
	}
	for _, bad := range []string{"", "4242 no parentheses S 1", "4242 (x) S 1 2 3"} {
		if _, err := parseStat(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// This process's own line names its parent.
func TestProcStatSelf(t *testing.T) {
	st, err := procStat(os.Getpid())
	if err != nil {
		t.Skipf("no /proc here: %v", err)
	}
	if st.ppid != os.Getppid() {
		t.Errorf("ppid %d, want %d", st.ppid, os.Getppid())
	}
}
