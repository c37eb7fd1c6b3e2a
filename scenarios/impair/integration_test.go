//go:build integration

package impair

import (
	"context"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/fluidos-lab/testbed/internal/dockerx"
	"golang.org/x/sys/unix"
)

// TestIntegrationNftablesSenderKeepsSending applies the nftables backend to
// a sender's interface in its own network namespace (veth to a receiver
// namespace) and checks what the FLUIDOS NM needs: every write succeeds
// (no EPERM, unlike an iptables OUTPUT drop), the receiver gets about
// (1-p)·N datagrams (binomial bounds), and the counters agree with what was
// sent and received. Needs root, ip and nft (apt-get install -y nftables).
func TestIntegrationNftablesSenderKeepsSending(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (creates network namespaces)")
	}
	for _, bin := range []string{"ip", "nft", "nsenter"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("needs %s on PATH (apt-get install -y iproute2 nftables util-linux)", bin)
		}
	}
	ctx := context.Background()
	caps, err := Probe(ctx, dockerx.Local{}, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("host capabilities: %+v", caps)
	if !caps.NftEgress {
		t.Skipf("kernel has no nftables netdev egress hook: %s", caps.NftErr)
	}

	for _, tc := range []struct {
		name      string
		multicast bool
		lossPct   float64
	}{
		{"unicast-25", false, 25},
		{"multicast-25", true, 25},
		{"unicast-0", false, 0},
		{"multicast-60", true, 60},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runSenderTest(t, tc.multicast, tc.lossPct)
		})
	}
}

func runSenderTest(t *testing.T, multicast bool, lossPct float64) {
	ctx := context.Background()
	const N = 2000
	suffix := fmt.Sprintf("%d%d", os.Getpid()%10000, time.Now().UnixNano()%1000)
	snd, rcv := "tbi-s"+suffix, "tbi-r"+suffix
	sh(t, "ip", "netns", "add", snd)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", snd).Run() })
	sh(t, "ip", "netns", "add", rcv)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", rcv).Run() })
	sh(t, "ip", "-n", snd, "link", "add", "snd0", "type", "veth", "peer", "name", "rcv0", "netns", rcv)
	for _, ns := range []string{snd, rcv} {
		sh(t, "ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1")
		sh(t, "ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.default.disable_ipv6=1")
		sh(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	sh(t, "ip", "-n", snd, "addr", "add", "10.97.0.1/24", "dev", "snd0")
	sh(t, "ip", "-n", rcv, "addr", "add", "10.97.0.2/24", "dev", "rcv0")
	sh(t, "ip", "-n", snd, "link", "set", "snd0", "up")
	sh(t, "ip", "-n", rcv, "link", "set", "rcv0", "up")
	sh(t, "ip", "-n", snd, "route", "add", "239.0.0.0/8", "dev", "snd0")
	sh(t, "ip", "-n", rcv, "route", "add", "239.0.0.0/8", "dev", "rcv0")
	// A permanent neighbour: no ARP on the impaired path, so every packet
	// the nft counter sees is one of our datagrams.
	mac := strings.TrimSpace(sh(t, "ip", "netns", "exec", rcv, "cat", "/sys/class/net/rcv0/address"))
	sh(t, "ip", "-n", snd, "neigh", "replace", "10.97.0.2", "lladdr", mac, "dev", "snd0", "nud", "permanent")

	group := net.IPv4(239, 11, 11, 1)
	var conn *net.UDPConn
	inNS(t, "/var/run/netns/"+rcv, func() {
		var err error
		if multicast {
			ifi, ierr := net.InterfaceByName("rcv0")
			if ierr != nil {
				t.Fatal(ierr)
			}
			conn, err = net.ListenMulticastUDP("udp4", ifi, &net.UDPAddr{IP: group, Port: 5000})
		} else {
			conn, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 97, 0, 2), Port: 5000})
		}
		if err != nil {
			t.Fatal(err)
		}
	})
	defer conn.Close()
	raw, err := conn.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	_ = raw.Control(func(fd uintptr) { _ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 16<<20) })

	// Start the sender's socket before the impairment: it exists across
	// Apply, as the NM's does.
	var out *net.UDPConn
	inNS(t, "/var/run/netns/"+snd, func() {
		out, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 97, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
	})
	defer out.Close()

	nft := NewNftables(dockerx.Local{})
	sndNS := "/var/run/netns/" + snd
	if err := nft.applyNS(ctx, "", sndNS, "snd0", lossPct); err != nil {
		t.Fatalf("apply: %v", err)
	}

	dst := &net.UDPAddr{IP: net.IPv4(10, 97, 0, 2), Port: 5000}
	if multicast {
		dst = &net.UDPAddr{IP: group, Port: 5000}
	}
	var writeErrs []error
	payload := make([]byte, 64)
	for i := 0; i < N; i++ {
		copy(payload, fmt.Sprintf("announce %06d", i))
		if _, err := out.WriteToUDP(payload, dst); err != nil {
			writeErrs = append(writeErrs, err)
		}
	}
	// A sentinel after the drop rule is removed marks the end of the
	// stream; no timing guess about when the last datagram has arrived.
	tab, err := nft.statsNS(ctx, "", sndNS)
	if err != nil {
		t.Fatalf("stats: %v", err)
	}
	if err := nft.removeNS(ctx, "", sndNS); err != nil {
		t.Fatalf("remove: %v", err)
	}
	if err := nft.removeNS(ctx, "", sndNS); err != nil {
		t.Fatalf("second remove (idempotent): %v", err)
	}
	if _, err := out.WriteToUDP([]byte("end"), dst); err != nil {
		t.Fatalf("sentinel: %v", err)
	}
	received := 0
	buf := make([]byte, 256)
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second)) // a hang guard, not synchronisation
	for {
		n, _, err := conn.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("receive after %d datagrams: %v", received, err)
		}
		if string(buf[:n]) == "end" {
			break
		}
		received++
	}

	if len(writeErrs) > 0 {
		t.Errorf("%d of %d writes failed, first: %v", len(writeErrs), N, writeErrs[0])
	}
	st := tab.Stats
	p := lossPct / 100
	mean := float64(N) * (1 - p)
	sd := math.Sqrt(float64(N) * p * (1 - p))
	lo, hi := mean-5*sd, mean+5*sd
	achieved := st.AchievedLossPct()
	t.Logf("requested %.1f%% loss, sent %d, nft seen %d dropped %d (achieved %.2f%%), received %d (expected %.0f ± %.0f)",
		lossPct, N, st.Seen, st.Dropped, deref(achieved), received, mean, 5*sd)
	if st.Seen != N {
		t.Errorf("nft counted %d packets, sent %d", st.Seen, N)
	}
	if got := int64(received); got != st.Seen-st.Dropped {
		t.Errorf("received %d, but counters say %d passed", got, st.Seen-st.Dropped)
	}
	if float64(received) < lo || float64(received) > hi {
		t.Errorf("received %d, outside binomial bounds [%.0f, %.0f]", received, lo, hi)
	}
}

// inNS runs f on an OS thread switched into the network namespace at path;
// sockets created there stay in it. The thread is discarded afterwards.
func inNS(t *testing.T, path string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Errorf("open %s: %v", path, err)
			return
		}
		defer unix.Close(fd)
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			t.Errorf("unshare: %v", err)
			return
		}
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			t.Errorf("setns %s: %v", path, err)
			return
		}
		f()
	}()
	<-done
	if t.Failed() {
		t.FailNow()
	}
}

func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
