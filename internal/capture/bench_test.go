package capture

import (
	"encoding/binary"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// benchAnnouncement is a real captured announcement (announce.pcap).
func benchAnnouncement(b *testing.B) []byte {
	frames, _ := readFrames(b, "announce.pcap")
	return frames[0]
}

func BenchmarkDecode(b *testing.B) {
	frame := benchAnnouncement(b)
	ts := time.Now()
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if _, err := Decode(frame, ts); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeGopacket is the same work with gopacket's layers (the
// alternative to parsing by hand), for comparison: the fastest gopacket
// path, a DecodingLayerParser with preallocated layers.
func BenchmarkDecodeGopacket(b *testing.B) {
	frame := benchAnnouncement(b)
	var (
		eth     layers.Ethernet
		ip4     layers.IPv4
		udp     layers.UDP
		payload gopacket.Payload
	)
	parser := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &ip4, &udp, &payload)
	decoded := make([]gopacket.LayerType, 0, 4)
	ts := time.Now()
	b.ReportAllocs()
	b.SetBytes(int64(len(frame)))
	for b.Loop() {
		if err := parser.DecodeLayers(frame, &decoded); err != nil {
			b.Fatal(err)
		}
		dst, _ := netip.AddrFromSlice(ip4.DstIP)
		src, _ := netip.AddrFromSlice(ip4.SrcIP)
		p := Packet{Time: ts, Kind: KindAnnouncement, SrcIP: src, DstIP: dst, SrcPort: uint16(udp.SrcPort), DstPort: uint16(udp.DstPort),
			Group: Group{dst, uint16(udp.DstPort)}, PayloadLen: int(udp.Length) - 8, Hash: HashPayload(payload)}
		copy(p.SrcMAC[:], eth.SrcMAC)
		_ = p
	}
}

func BenchmarkDecodeIGMPv3(b *testing.B) {
	frame := igmpFrame("192.0.2.3", "224.0.0.22", igmpV3(v3rec{typ: recChangeToExclude, group: "239.11.11.1"}))
	ts := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(frame, ts); err != nil {
			b.Fatal(err)
		}
	}
}

// announcementFrames returns n distinct announcements of one sender.
func announcementFrames(src string, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		p := make([]byte, 66)
		copy(p, "tbcap")
		binary.BigEndian.PutUint32(p[6:], uint32(i))
		out[i] = announce(src, group1, p)
	}
	return out
}

// BenchmarkTimeline1000: CPU for 1,000 announcements through Decode and
// Timeline.Add.
func BenchmarkTimeline1000(b *testing.B) {
	frames := announcementFrames("192.0.2.1", 1000)
	b.ReportAllocs()
	for b.Loop() {
		var tl Timeline
		for i, f := range frames {
			p, err := Decode(f, t0.Add(time.Duration(i)*5*time.Second))
			if err != nil {
				b.Fatal(err)
			}
			tl.Add(p)
		}
		if len(tl.Announcements) != 1000 {
			b.Fatal(len(tl.Announcements))
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/announcement")
}

// BenchmarkMemory24Peers: bytes held for 24 peers × 10 min of
// announcements every 5 s (2,880) and their IGMP (a join, its
// retransmission and a report per 125 s query: 7 per peer, plus the 5
// queries), in the Capture ring and then as Timelines.
func BenchmarkMemory24Peers(b *testing.B) {
	const peers, minutes = 24, 10
	var frames [][]byte
	var times []time.Time
	for p := range peers {
		src := netip.AddrFrom4([4]byte{172, 18, 0, byte(10 + p)}).String()
		join := igmpFrame(src, "224.0.0.22", igmpV3(v3rec{typ: recChangeToExclude, group: "239.11.11.1"}))
		report := igmpFrame(src, "224.0.0.22", igmpV3(v3rec{typ: recModeIsExclude, group: "239.11.11.1"}))
		frames = append(frames, join, join)
		times = append(times, at(p*100), at(p*100+1000))
		for q := range 5 {
			frames = append(frames, report)
			times = append(times, at(q*125000+p*100+500))
		}
		for i, f := range announcementFrames(src, minutes*60/5) {
			frames = append(frames, f)
			times = append(times, at(p*100+2000+i*5000))
		}
	}
	for q := range 5 {
		frames = append(frames, igmpFrame("172.18.0.1", "224.0.0.1", igmpV3Query("0.0.0.0")))
		times = append(times, at(q*125000))
	}
	var ringBytes, tlBytes uint64
	var n int
	for b.Loop() {
		before := heap()
		r := newRing(DefaultRingSize)
		for i, f := range frames {
			p, err := Decode(f, times[i])
			if err != nil {
				b.Fatal(err)
			}
			r.push(p)
		}
		afterRing := heap()
		tls := Timelines(r.between(time.Time{}, time.Time{}))
		afterTL := heap()
		runtime.KeepAlive(r)
		runtime.KeepAlive(tls)
		ringBytes, tlBytes, n = afterRing-before, afterTL-afterRing, r.len()
	}
	b.ReportMetric(float64(n), "packets")
	b.ReportMetric(float64(ringBytes), "ring-bytes")
	b.ReportMetric(float64(ringBytes)/float64(n), "ring-bytes/packet")
	b.ReportMetric(float64(tlBytes), "timeline-bytes")
}

func heap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
