package capacity

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/fluidos-lab/testbed/internal/preflight"
)

// ProcFS reads the host-side figures from procfs (Root "" is "/").
type ProcFS struct{ Root string }

var _ Probe = ProcFS{}

func (p ProcFS) path(elem ...string) string {
	return filepath.Join(append([]string{p.Root, "/proc"}, elem...)...)
}

// Inotify walks every process, attributes it to the container whose ID its
// cgroup path names, and counts its inotify file descriptors and watches.
func (p ProcFS) Inotify(ids []string) (map[string]int, map[string]int, error) {
	inst, watches := map[string]int{}, map[string]int{}
	entries, err := os.ReadDir(p.path())
	if err != nil {
		return nil, nil, err
	}
	for _, e := range entries {
		pid := e.Name()
		if _, err := strconv.Atoi(pid); err != nil {
			continue
		}
		cg, err := os.ReadFile(p.path(pid, "cgroup"))
		if err != nil {
			continue // the process exited
		}
		id := ownerOf(cg, ids)
		if id == "" {
			continue
		}
		i, w := p.inotifyOf(pid)
		inst[id] += i
		watches[id] += w
	}
	return inst, watches, nil
}

func ownerOf(cgroup []byte, ids []string) string {
	for _, id := range ids {
		if id != "" && bytes.Contains(cgroup, []byte(id)) {
			return id
		}
	}
	return ""
}

func (p ProcFS) inotifyOf(pid string) (instances, watches int) {
	fds, err := os.ReadDir(p.path(pid, "fd"))
	if err != nil {
		return 0, 0
	}
	for _, fd := range fds {
		link, err := os.Readlink(p.path(pid, "fd", fd.Name()))
		if err != nil || link != "anon_inode:inotify" {
			continue
		}
		instances++
		info, err := os.ReadFile(p.path(pid, "fdinfo", fd.Name()))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(info), "\n") {
			if strings.HasPrefix(line, "inotify wd:") {
				watches++
			}
		}
	}
	return instances, watches
}

// RootKeys reads root's qnkeys from /proc/key-users
// ("0: usage nkeys/nikeys qnkeys/maxkeys qnbytes/maxbytes").
func (p ProcFS) RootKeys() (int, error) {
	b, err := os.ReadFile(p.path("key-users"))
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 4 && f[0] == "0:" {
			q, _, _ := strings.Cut(f[3], "/")
			n, err := strconv.Atoi(q)
			if err != nil {
				return 0, fmt.Errorf("key-users: %q: %w", sc.Text(), err)
			}
			return n, nil
		}
	}
	return 0, nil
}

// Neighbours counts the complete entries on bridge in /proc/net/arp.
func (p ProcFS) Neighbours(bridge string) (int, error) {
	b, err := os.ReadFile(p.path("net", "arp"))
	if err != nil {
		return 0, err
	}
	n := 0
	for i, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 6 {
			continue
		}
		if f[5] == bridge && f[2] != "0x0" {
			n++
		}
	}
	return n, nil
}

// HostLimits reads what this host offers from fsys (the root file system:
// proc/meminfo, proc/sys/...); a value it cannot read is 0 (left out of
// Bounds).
func HostLimits(fsys fs.FS, cpus int) Host {
	read := func(key string) int64 {
		v, err := preflight.Sysctl(fsys, key)
		if err != nil {
			return 0
		}
		return v
	}
	return Host{
		CPUs:             cpus,
		MemoryMiB:        max(preflight.MemTotalMiB(fsys), 0),
		InotifyInstances: read("fs.inotify.max_user_instances"),
		InotifyWatches:   read("fs.inotify.max_user_watches"),
		RootMaxKeys:      read("kernel.keys.root_maxkeys"),
		GCThresh3:        read("net.ipv4.neigh.default.gc_thresh3"),
	}
}
