package provenance

import (
	"bufio"
	"bytes"
	"io/fs"
	"runtime"
	"strconv"
	"strings"

	"github.com/fluidos-lab/testbed/results"
)

// ReadHost describes the machine from a root file system (os.DirFS("/") in
// production, a fixture in tests). Unreadable facts are left empty.
func ReadHost(root fs.FS) results.Host {
	h := results.Host{CPUs: runtime.NumCPU()}
	if b, err := fs.ReadFile(root, "proc/sys/kernel/osrelease"); err == nil {
		h.Kernel = strings.TrimSpace(string(b))
	}
	h.CgroupMode = cgroupMode(root)
	if b, err := fs.ReadFile(root, "proc/cpuinfo"); err == nil {
		model, n := parseCPUInfo(b)
		h.CPUModel = model
		if n > 0 {
			h.CPUs = n
		}
	}
	if b, err := fs.ReadFile(root, "proc/meminfo"); err == nil {
		h.MemoryMiB = parseMemTotalMiB(b)
	}
	return h
}

// cgroupMode is "v2" on the unified hierarchy, "v1" on a legacy or hybrid one.
func cgroupMode(root fs.FS) string {
	if _, err := fs.Stat(root, "sys/fs/cgroup/cgroup.controllers"); err == nil {
		return "v2"
	}
	if _, err := fs.Stat(root, "sys/fs/cgroup"); err == nil {
		return "v1"
	}
	return ""
}

func parseCPUInfo(b []byte) (model string, processors int) {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "processor":
			processors++
		case "model name":
			if model == "" {
				model = strings.TrimSpace(v)
			}
		}
	}
	return model, processors
}

func parseMemTotalMiB(b []byte) int {
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.Atoi(f[1])
			if err != nil {
				return 0
			}
			return kb / 1024
		}
	}
	return 0
}
