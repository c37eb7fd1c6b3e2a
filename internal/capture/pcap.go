package capture

import (
	"errors"
	"fmt"
	"io"

	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// maxPcapFrames bounds the records ReadPcap reads.
const maxPcapFrames = MaxRingSize

// ReadPcap decodes every frame of an Ethernet pcap stream (microsecond or
// nanosecond; as written through Options.Pcap) into Packets, in file order.
// Frames Decode rejects are counted in the returned Stats (DecodeErrors,
// Ignored), not returned; Read counts the records. It stops with an error
// after maxPcapFrames records.
func ReadPcap(r io.Reader) ([]Packet, Stats, error) {
	var st Stats
	pr, err := pcapgo.NewReader(r)
	if err != nil {
		return nil, st, fmt.Errorf("capture: read pcap header: %w", err)
	}
	if lt := pr.LinkType(); lt != layers.LinkTypeEthernet {
		return nil, st, fmt.Errorf("capture: pcap link type %v, want Ethernet", lt)
	}
	var out []Packet
	for {
		data, ci, err := pr.ZeroCopyReadPacketData()
		if errors.Is(err, io.EOF) {
			return out, st, nil
		}
		if err != nil {
			return out, st, fmt.Errorf("capture: read pcap record %d: %w", st.Read+1, err)
		}
		if st.Read++; st.Read > maxPcapFrames {
			return out, st, fmt.Errorf("capture: pcap has more than %d records", maxPcapFrames)
		}
		p, err := Decode(data, ci.Timestamp)
		switch {
		case errors.Is(err, ErrMalformed):
			st.DecodeErrors++
		case err != nil:
			st.Ignored++
		default:
			out = append(out, p)
			st.Kept++
		}
	}
}
