package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// The fixtures in testdata:
//   - announce.pcap and igmp.pcap were captured on a bridge by
//     TestIntegrationCapture (CAPTURE_WRITE_FIXTURES=1, as root): hosts
//     192.0.2.1 and .2 announcing to 239.11.11.1:4000 and
//     239.11.11.2:4001 every 10 ms with their send time in the payload;
//     .2 joining and leaving with IGMPv2, .3 with IGMPv3, the bridge
//     (.254) becoming querier.
//   - malformed.pcap holds the hand-made frames of malformedFrames,
//     written by TestFixtureMalformed with CAPTURE_WRITE_FIXTURES=1.

// readFrames reads the raw records of a pcap fixture.
func readFrames(t testing.TB, name string) ([][]byte, []gopacket.CaptureInfo) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	var frames [][]byte
	var cis []gopacket.CaptureInfo
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return frames, cis
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		frames = append(frames, data)
		cis = append(cis, ci)
	}
}

func readFixture(t *testing.T, name string) ([]Packet, Stats) {
	t.Helper()
	f, err := os.Open(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pkts, st, err := ReadPcap(f)
	if err != nil {
		t.Fatalf("ReadPcap(%s): %v", name, err)
	}
	return pkts, st
}

func TestFixtureAnnounce(t *testing.T) {
	pkts, st := readFixture(t, "announce.pcap")
	frames, _ := readFrames(t, "announce.pcap")
	if st.Read != 12 || st.Kept != 12 || len(pkts) != 12 {
		t.Fatalf("stats %+v, %d packets: want 12 announcements", st, len(pkts))
	}
	want := map[netip.Addr]Group{netip.MustParseAddr("192.0.2.1"): group1, netip.MustParseAddr("192.0.2.2"): group2}
	seqs := map[netip.Addr][]uint32{}
	for i, p := range pkts {
		if p.Kind != KindAnnouncement || want[p.SrcIP] != p.Group || p.DstPort != p.Group.Port || p.PayloadLen != 66 || p.Truncated {
			t.Errorf("packet %d: %+v", i, p)
			continue
		}
		// The payload: magic, sender, sequence, send time.
		payload := frames[i][ethLen+20+udpLen:]
		if !bytes.HasPrefix(payload, []byte("tbcap")) || HashPayload(payload) != p.Hash {
			t.Errorf("packet %d: payload %x, hash %x", i, payload, p.Hash)
			continue
		}
		seqs[p.SrcIP] = append(seqs[p.SrcIP], binary.BigEndian.Uint32(payload[6:]))
		sentAt := time.Unix(0, int64(binary.BigEndian.Uint64(payload[10:])))
		if d := p.Time.Sub(sentAt); d < 0 || d > 5*time.Millisecond {
			t.Errorf("packet %d: captured %v after it was sent", i, d)
		}
	}
	for src, s := range seqs {
		if !slices.Equal(s, []uint32{0, 1, 2, 3, 4, 5}) {
			t.Errorf("%s: sequence %v", src, s)
		}
	}
	for _, tl := range Timelines(pkts) {
		if per, ok := Period(tl.Times()); !ok || per < 9*time.Millisecond || per > 11*time.Millisecond {
			t.Errorf("%s: period %v, %v; sent every 10ms", tl.Sender, per, ok)
		}
		if l := Lost(tl, 10*time.Millisecond, tl.Announcements[0].Time, tl.Announcements[5].Time); l.Count != 0 || !l.Bracketed {
			t.Errorf("%s: lost %+v", tl.Sender, l)
		}
	}
}

func TestFixtureIGMP(t *testing.T) {
	pkts, st := readFixture(t, "igmp.pcap")
	if st.DecodeErrors != 0 || st.Ignored != 0 {
		t.Fatalf("stats %+v", st)
	}
	ip := netip.MustParseAddr
	type ev struct {
		src     netip.Addr
		kind    Kind
		group   netip.Addr
		op      Op
		version uint8
		rec     uint8
	}
	// In this order, possibly with retransmissions in between.
	want := []ev{
		{ip("192.0.2.2"), KindMembership, group2.Addr, OpJoin, 2, 0},
		{ip("192.0.2.3"), KindMembership, group1.Addr, OpJoin, 3, recChangeToExclude},
		{ip("192.0.2.2"), KindMembership, group2.Addr, OpLeave, 2, 0},
		{ip("192.0.2.3"), KindMembership, group1.Addr, OpLeave, 3, recChangeToInclude},
		{ip("192.0.2.254"), KindQuery, ip("0.0.0.0"), 0, 3, 0},
		{ip("192.0.2.3"), KindMembership, group1.Addr, OpJoin, 3, recModeIsExclude},
	}
	var got []ev
	for i, p := range pkts {
		if i > 0 && p.Time.Before(pkts[i-1].Time) {
			t.Errorf("packet %d out of time order", i)
		}
		if p.Kind == KindQuery {
			got = append(got, ev{p.SrcIP, p.Kind, p.Group.Addr, 0, p.IGMPVersion, 0})
		}
		for _, e := range p.Events {
			got = append(got, ev{p.SrcIP, p.Kind, e.Group, e.Op, e.Version, e.RecordType})
		}
	}
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	if i != len(want) {
		t.Errorf("events %+v\ndo not contain, in order, %+v (matched %d)", got, want, i)
	}
	// Ready by IGMP join for .3, and Lost/FirstAfter on a timeline with
	// no announcements.
	for _, tl := range Timelines(pkts) {
		if tl.Sender != ip("192.0.2.3") {
			continue
		}
		at, by, ok := Ready(tl, group1, pkts[0].Time)
		if !ok || by != ReadyByJoin || !at.Equal(tl.Joins[0].Time) {
			t.Errorf("Ready = %v, %v, %v", at, by, ok)
		}
		if _, ok := FirstAfter(tl, pkts[0].Time); ok {
			t.Error("FirstAfter found an announcement of an IGMP-only host")
		}
		if len(tl.Leaves) != 1 {
			t.Errorf("leaves %+v", tl.Leaves)
		}
	}
}

// malformedFrames are hand-made frames: each decodes to the error class
// given (nil: decodes).
func malformedFrames() []struct {
	name  string
	frame []byte
	err   error
} {
	ann := announce("192.0.2.1", group1, []byte("fluidos"))
	set := func(f []byte, off int, v byte) []byte { f = slices.Clone(f); f[off] = v; return f }
	v3 := igmpFrame("192.0.2.3", "224.0.0.22", igmpV3(v3rec{typ: recChangeToExclude, group: "239.11.11.1"}))
	return []struct {
		name  string
		frame []byte
		err   error
	}{
		{"valid announcement", ann, nil},
		{"10-byte runt", ann[:10], ErrMalformed},
		{"IPv4 header cut at 12 bytes", ann[:ethLen+12], ErrMalformed},
		{"IHL 4", set(ann, ethLen, 0x44), ErrMalformed},
		{"IHL 15 with 20 header bytes", set(ann, ethLen, 0x4f)[:ethLen+40], ErrMalformed},
		{"total length 10", set(set(ann, ethLen+2, 0), ethLen+3, 10), ErrMalformed},
		{"UDP header cut", ann[:ethLen+20+4], ErrMalformed},
		{"UDP length 4", set(ann, ethLen+20+5, 4), ErrMalformed},
		{"UDP length past the IP payload", set(ann, ethLen+20+5, 200), ErrMalformed},
		{"IGMP cut at 6 bytes", v3[:ethLen+24+6], ErrMalformed},
		{"IGMPv3 claims 3 records", set(v3, ethLen+24+7, 3), ErrMalformed},
		{"IGMPv3 record claims 9 sources", set(v3, ethLen+24+8+3, 9), ErrMalformed},
		{"IGMPv2 report for 10.0.0.1", igmpFrame("192.0.2.3", "224.0.0.22", igmpMsg(igmpV2Report, 0, "10.0.0.1")), ErrMalformed},
		{"IP version 5", set(ann, ethLen, 0x55), ErrMalformed},
		{"ARP", arpFrame(), ErrNotDiscovery},
		{"IPv6 UDP", ipv6UDP(), ErrNotDiscovery},
		{"VLAN-tagged announcement", vlanTagged(ann), ErrNotDiscovery},
		{"TCP to the group", tcpTo(group1), ErrNotDiscovery},
		{"non-first fragment", set(ann, ethLen+7, 1), ErrNotDiscovery},
	}
}

func TestFixtureMalformed(t *testing.T) {
	cases := malformedFrames()
	if os.Getenv("CAPTURE_WRITE_FIXTURES") == "1" {
		var b bytes.Buffer
		w := pcapgo.NewWriterNanos(&b)
		if err := w.WriteFileHeader(IGMPSnapLen, layers.LinkTypeEthernet); err != nil {
			t.Fatal(err)
		}
		for i, c := range cases {
			ci := gopacket.CaptureInfo{Timestamp: t0.Add(time.Duration(i) * time.Millisecond), CaptureLength: len(c.frame), Length: len(c.frame)}
			if err := w.WritePacket(ci, c.frame); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join("testdata", "malformed.pcap"), b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	frames, cis := readFrames(t, "malformed.pcap")
	if len(frames) != len(cases) {
		t.Fatalf("malformed.pcap has %d frames, want %d (regenerate with CAPTURE_WRITE_FIXTURES=1)", len(frames), len(cases))
	}
	for i, c := range cases {
		if !bytes.Equal(frames[i], c.frame) {
			t.Errorf("frame %d (%s) differs from the fixture", i, c.name)
			continue
		}
		_, err := Decode(frames[i], cis[i].Timestamp)
		if (c.err == nil) != (err == nil) || c.err != nil && !errors.Is(err, c.err) {
			t.Errorf("%s: Decode error %v, want %v", c.name, err, c.err)
		}
	}
	pkts, st := readFixture(t, "malformed.pcap")
	if len(pkts) != 1 || st.DecodeErrors != 13 || st.Ignored != 5 {
		t.Errorf("ReadPcap: %d packets, stats %+v", len(pkts), st)
	}
}

func TestReadPcapErrors(t *testing.T) {
	if _, _, err := ReadPcap(bytes.NewReader([]byte("not a pcap file at all"))); err == nil {
		t.Error("ReadPcap of garbage succeeded")
	}
	var b bytes.Buffer
	w := pcapgo.NewWriter(&b)
	if err := w.WriteFileHeader(65535, layers.LinkTypeRaw); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ReadPcap(bytes.NewReader(b.Bytes())); err == nil {
		t.Error("ReadPcap of a raw-IP pcap succeeded")
	}
	// A record cut short.
	good, err := os.ReadFile(filepath.Join("testdata", "announce.pcap"))
	if err != nil {
		t.Fatal(err)
	}
	pkts, _, err := ReadPcap(bytes.NewReader(good[:len(good)-10]))
	if err == nil || len(pkts) != 11 {
		t.Errorf("ReadPcap of a cut file: %d packets, error %v", len(pkts), err)
	}
}
