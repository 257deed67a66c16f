package benchdb

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of /proc's CPU times (USER_HZ), 100 on every Linux
// architecture Go runs on; reading sysconf would need cgo.
const clockTick = 10 * time.Millisecond

// ServerCPU reads the CPU time PostgreSQL's processes have used: what the
// postmaster reaped from exited children (backends of closed connections,
// autovacuum workers) plus the live children's own. The difference of two
// readings is the server's CPU between them, whichever processes came and
// went. ok is false when the server does not run on this machine (or /proc
// cannot be read): benchmarks then leave the figure out.
func ServerCPU(adminURL string) (cpu time.Duration, ok bool) {
	pm, err := postmasterPID(adminURL)
	if err != nil {
		return 0, false
	}
	f, err := procStat(pm)
	if err != nil {
		return 0, false
	}
	ticks := f.cutime + f.cstime
	paths, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range paths {
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err != nil {
			continue
		}
		c, err := procStat(pid)
		if err != nil || c.ppid != pm {
			continue // gone meanwhile, or not the server's
		}
		ticks += c.utime + c.stime
	}
	return time.Duration(ticks) * clockTick, true
}

// postmasterPID finds the server's main process: the parent of the backend
// serving a connection, when both are PostgreSQL processes on this machine.
func postmasterPID(adminURL string) (int, error) {
	db, err := sql.Open("postgres", adminURL)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var backend int
	if err := db.QueryRow(`SELECT pg_backend_pid()`).Scan(&backend); err != nil {
		return 0, err
	}
	b, err := procStat(backend)
	if err != nil || !strings.HasPrefix(b.comm, "postgres") {
		return 0, fmt.Errorf("backend %d is not a local process", backend)
	}
	return b.ppid, nil
}

type stat struct {
	comm                         string
	ppid                         int
	utime, stime, cutime, cstime int64
}

// procStat reads /proc/PID/stat.
func procStat(pid int) (stat, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return stat{}, err
	}
	st, err := parseStat(string(b))
	if err != nil {
		return stat{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return st, nil
}

// parseStat parses a /proc/PID/stat line (proc(5)): the command name is in
// parentheses and may hold spaces and parentheses, so fields are counted
// after the last ')'.
func parseStat(s string) (stat, error) {
	open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || close < open {
		return stat{}, fmt.Errorf("unexpected format")
	}
	f := strings.Fields(s[close+1:]) // f[0] is field 3 (state)
	if len(f) < 15 {
		return stat{}, fmt.Errorf("%d fields after the command", len(f))
	}
	num := func(field int) int64 { // field numbers as in proc(5)
		v, _ := strconv.ParseInt(f[field-3], 10, 64)
		return v
	}
	return stat{comm: s[open+1 : close], ppid: int(num(4)),
		utime: num(14), stime: num(15), cutime: num(16), cstime: num(17)}, nil
}
