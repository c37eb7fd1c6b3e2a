package preflight

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"regexp"
	"strconv"
	"strings"
)

// SysctlCheck requires a /proc/sys value of at least Min.
type SysctlCheck struct {
	// FS is the host filesystem rooted at "/" (os.DirFS("/") in production).
	FS  fs.FS
	Key string // e.g. fs.inotify.max_user_watches
	Min int64
	// Why explains what a low value breaks.
	Why string
}

// Name implements Check.
func (c SysctlCheck) Name() string { return c.Key }

// Run implements Check.
func (c SysctlCheck) Run(context.Context) Result {
	fix := fmt.Sprintf("sudo sysctl -w %s=%d && echo '%s = %d' | sudo tee /etc/sysctl.d/99-testbed-%s.conf",
		c.Key, c.Min, c.Key, c.Min, strings.ReplaceAll(c.Key, ".", "-"))
	v, err := Sysctl(c.FS, c.Key)
	if err != nil {
		return Result{Status: Warn, Detail: err.Error(), Fix: "check it by hand: sysctl " + c.Key}
	}
	if v < c.Min {
		return Result{Status: Fail, Detail: fmt.Sprintf("%d, need at least %d: %s", v, c.Min, c.Why), Fix: fix}
	}
	return Result{Status: Pass, Detail: fmt.Sprintf("%d (need ≥ %d)", v, c.Min)}
}

// Sysctl reads the integer sysctl key (e.g. fs.inotify.max_user_watches)
// from fsys, the root file system.
func Sysctl(fsys fs.FS, key string) (int64, error) {
	p := "proc/sys/" + strings.ReplaceAll(key, ".", "/")
	b, err := fs.ReadFile(fsys, p)
	if err != nil {
		return 0, fmt.Errorf("cannot read /%s: %w", p, err)
	}
	v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("/%s holds %q, not a number", p, strings.TrimSpace(string(b)))
	}
	return v, nil
}

// MemTotalMiB reads MemTotal from fsys's proc/meminfo, or -1.
func MemTotalMiB(fsys fs.FS) int64 {
	b, err := fs.ReadFile(fsys, "proc/meminfo")
	if err != nil {
		return -1
	}
	return meminfo(b, "MemTotal:")
}

// SysctlChecks are the kernel limits KinD needs for many clusters on one
// host (KinD known issues: "Pod errors due to too many open files").
func SysctlChecks(fsys fs.FS) []Check {
	return []Check{
		SysctlCheck{FS: fsys, Key: "fs.inotify.max_user_watches", Min: 524288, Why: "kubelets and kube-proxy fail with 'too many open files'"},
		SysctlCheck{FS: fsys, Key: "fs.inotify.max_user_instances", Min: 512, Why: "kubelets and kube-proxy fail with 'too many open files'"},
		SysctlCheck{FS: fsys, Key: "kernel.keys.maxkeys", Min: 20000, Why: "containers fail to start once the kernel keyring is full"},
		SysctlCheck{FS: fsys, Key: "kernel.keys.maxbytes", Min: 500000, Why: "containers fail to start once the kernel keyring is full"},
	}
}

// CgroupCheck reports the cgroup mode. Kubernetes ≥ 1.35 kubelets refuse
// cgroup v1 by default (failCgroupV1), so v1 with such a node image fails.
type CgroupCheck struct {
	FS        fs.FS
	NodeImage string
}

// Name implements Check.
func (c CgroupCheck) Name() string { return "cgroup mode" }

var kubeMinor = regexp.MustCompile(`:v1\.([0-9]+)\.`)

// Run implements Check.
func (c CgroupCheck) Run(context.Context) Result {
	if b, err := fs.ReadFile(c.FS, "sys/fs/cgroup/cgroup.controllers"); err == nil {
		return Result{Status: Pass, Detail: "cgroup v2 (controllers: " + strings.TrimSpace(string(b)) + ")"}
	}
	if _, err := fs.Stat(c.FS, "sys/fs/cgroup"); err != nil {
		return Result{Status: Fail, Detail: "no /sys/fs/cgroup: " + err.Error(), Fix: "mount cgroups (systemd does it at boot); KinD cannot run without them"}
	}
	fix := "switch the host to cgroup v2: add systemd.unified_cgroup_hierarchy=1 to the kernel command line (GRUB_CMDLINE_LINUX in /etc/default/grub), run sudo update-grub and reboot"
	if m := kubeMinor.FindStringSubmatch(c.NodeImage); m != nil {
		if minor, _ := strconv.Atoi(m[1]); minor >= 35 {
			return Result{Status: Fail,
				Detail: fmt.Sprintf("cgroup v1: the node image %s runs a kubelet that refuses cgroup v1 (Kubernetes ≥ 1.35)", c.NodeImage),
				Fix:    fix + "; or set TESTBED_NODE_IMAGE to a node image of Kubernetes v1.34 or older"}
		}
	}
	return Result{Status: Warn, Detail: "cgroup v1 (legacy): KinD works with Kubernetes ≤ 1.34 node images only", Fix: fix}
}

// UlimitCheck checks this process's open-file limit (RLIMIT_NOFILE).
type UlimitCheck struct {
	// Rlimit returns the soft and hard limits.
	Rlimit func() (soft, hard uint64, err error)
}

// Name implements Check.
func (c UlimitCheck) Name() string { return "ulimit -n" }

// Run implements Check.
func (c UlimitCheck) Run(context.Context) Result {
	soft, hard, err := c.Rlimit()
	if err != nil {
		return Result{Status: Warn, Detail: "cannot read RLIMIT_NOFILE: " + err.Error(), Fix: "check it by hand: ulimit -n"}
	}
	fix := "ulimit -n 65536 in this shell, or set 'nofile 65536' for your user in /etc/security/limits.conf and log in again"
	switch {
	case soft < 1024:
		return Result{Status: Fail, Detail: fmt.Sprintf("%d open files (hard %d): too few to watch many clusters", soft, hard), Fix: fix}
	case soft < 4096:
		return Result{Status: Warn, Detail: fmt.Sprintf("%d open files (hard %d): may run out with many clusters", soft, hard), Fix: fix}
	}
	return Result{Status: Pass, Detail: fmt.Sprintf("%d open files (hard %d)", soft, hard)}
}

// MacvlanCheck verifies the kernel can create macvlan links (the discovery
// network). With Probe (root only) it creates one in a throw-away network
// namespace; otherwise it reads the kernel config and module lists.
type MacvlanCheck struct {
	FS fs.FS
	// Release is the running kernel (uname -r).
	Release string
	// Probe creates and deletes a real macvlan link; nil when not root.
	Probe func(ctx context.Context) error
}

// Name implements Check.
func (c MacvlanCheck) Name() string { return "macvlan support" }

// Run implements Check.
func (c MacvlanCheck) Run(ctx context.Context) Result {
	noKernel := "use a kernel built with CONFIG_MACVLAN (every major distribution kernel has it as a module)"
	if c.Probe != nil {
		err := c.Probe(ctx)
		if err == nil {
			return Result{Status: Pass, Detail: "created a macvlan link in a throw-away network namespace"}
		}
		if errors.Is(err, ErrProbeUnsupported) {
			return Result{Status: Fail, Detail: "the kernel refused to create a macvlan link: " + err.Error(), Fix: "sudo modprobe macvlan; if that fails, " + noKernel}
		}
		// Fall through to the static evidence; say why the probe did not decide.
		res := c.static(noKernel)
		res.Detail += " (live probe failed: " + err.Error() + ")"
		return res
	}
	res := c.static(noKernel)
	return res
}

func (c MacvlanCheck) static(noKernel string) Result {
	if _, err := fs.Stat(c.FS, "sys/module/macvlan"); err == nil {
		return Result{Status: Pass, Detail: "macvlan module loaded"}
	}
	if b, err := fs.ReadFile(c.FS, "proc/modules"); err == nil && hasLinePrefix(b, "macvlan ") {
		return Result{Status: Pass, Detail: "macvlan module loaded"}
	}
	switch v := c.kernelConfig("CONFIG_MACVLAN"); v {
	case "y":
		return Result{Status: Pass, Detail: "macvlan built into the kernel (CONFIG_MACVLAN=y)"}
	case "m":
		return Result{Status: Pass, Detail: "macvlan available as a module (CONFIG_MACVLAN=m); the kernel loads it on first use"}
	case "n":
		return Result{Status: Fail, Detail: "the kernel is built without macvlan (CONFIG_MACVLAN is not set)", Fix: noKernel}
	}
	if c.Release != "" {
		dir := path.Join("lib/modules", c.Release)
		if b, err := fs.ReadFile(c.FS, dir+"/modules.builtin"); err == nil && bytes.Contains(b, []byte("/macvlan.ko")) {
			return Result{Status: Pass, Detail: "macvlan built into the kernel (modules.builtin)"}
		}
		if m, _ := fs.Glob(c.FS, dir+"/kernel/drivers/net/macvlan.ko*"); len(m) > 0 {
			return Result{Status: Pass, Detail: "macvlan module installed (/" + m[0] + ")"}
		}
	}
	return Result{Status: Warn, Detail: "could not tell whether the kernel supports macvlan (no module, kernel config or module list readable)",
		Fix: "run sudo testbed doctor to test it for real, or sudo modprobe macvlan"}
}

// kernelConfig returns y, m, n (explicitly unset) or "" (unknown) for key,
// from /proc/config.gz or /boot/config-<release>.
func (c MacvlanCheck) kernelConfig(key string) string {
	var data []byte
	if f, err := c.FS.Open("proc/config.gz"); err == nil {
		defer f.Close()
		if zr, err := gzip.NewReader(f); err == nil {
			data, _ = io.ReadAll(io.LimitReader(zr, 16<<20))
		}
	}
	if data == nil && c.Release != "" {
		data, _ = fs.ReadFile(c.FS, "boot/config-"+c.Release)
	}
	if data == nil {
		return ""
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "# "+key+" is not set" {
			return "n"
		}
		if v, ok := strings.CutPrefix(line, key+"="); ok {
			return v
		}
	}
	return "n"
}

func hasLinePrefix(b []byte, prefix string) bool {
	for _, l := range bytes.Split(b, []byte("\n")) {
		if bytes.HasPrefix(l, []byte(prefix)) {
			return true
		}
	}
	return false
}

// ErrProbeUnsupported marks a probe failure that proves the kernel lacks
// macvlan (as opposed to missing privileges).
var ErrProbeUnsupported = errors.New("macvlan not supported")

// MemoryCheck compares MemAvailable with the lab's estimated need.
type MemoryCheck struct {
	FS      fs.FS
	NeedMiB int
	// For names what the estimate covers, e.g. "the 24-cluster lab".
	For string
}

// Name implements Check.
func (c MemoryCheck) Name() string { return "free memory" }

// Run implements Check.
func (c MemoryCheck) Run(context.Context) Result {
	b, err := fs.ReadFile(c.FS, "proc/meminfo")
	if err != nil {
		return Result{Status: Warn, Detail: "cannot read /proc/meminfo: " + err.Error(), Fix: "check free memory by hand: free -m"}
	}
	total, avail := meminfo(b, "MemTotal:"), meminfo(b, "MemAvailable:")
	if total < 0 || avail < 0 {
		return Result{Status: Warn, Detail: "/proc/meminfo lacks MemTotal/MemAvailable", Fix: "check free memory by hand: free -m"}
	}
	detail := fmt.Sprintf("%d MiB available of %d MiB, %s needs about %d MiB", avail, total, c.For, c.NeedMiB)
	fix := "stop other containers or VMs, or use a smaller topology (fewer clusters or workers)"
	switch {
	case int64(c.NeedMiB) > total:
		return Result{Status: Fail, Detail: detail, Fix: fix}
	case int64(c.NeedMiB) > avail:
		return Result{Status: Warn, Detail: detail + " (more than is free now)", Fix: fix}
	}
	return Result{Status: Pass, Detail: detail}
}

// meminfo returns the value of key in MiB, or -1.
func meminfo(b []byte, key string) int64 {
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, key); ok {
			f := strings.Fields(rest)
			if len(f) == 0 {
				return -1
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			if err != nil {
				return -1
			}
			return kb / 1024
		}
	}
	return -1
}

// DiskCheck compares free space where Docker keeps its data with the need.
type DiskCheck struct {
	// Path is the Docker root dir (docker info: DockerRootDir).
	Path string
	// Free returns the bytes available to unprivileged users under path.
	Free    func(path string) (uint64, error)
	NeedMiB int
	For     string
}

// Name implements Check.
func (c DiskCheck) Name() string { return "free disk" }

// Run implements Check.
func (c DiskCheck) Run(context.Context) Result {
	free, err := c.Free(c.Path)
	if err != nil {
		return Result{Status: Warn, Detail: fmt.Sprintf("cannot stat %s: %v", c.Path, err), Fix: "check free space by hand: df -h " + c.Path}
	}
	freeMiB := int64(free >> 20)
	detail := fmt.Sprintf("%d MiB free in %s, %s needs about %d MiB", freeMiB, c.Path, c.For, c.NeedMiB)
	if freeMiB < int64(c.NeedMiB) {
		return Result{Status: Fail, Detail: detail, Fix: "free space (docker system prune removes unused images and containers) or use a smaller topology"}
	}
	return Result{Status: Pass, Detail: detail}
}
