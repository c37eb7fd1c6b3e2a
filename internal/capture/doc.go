// Package capture has one job: capture discovery traffic on the lab's
// host-side network and turn it into per-sender timelines.
//
// It listens on one interface of the host network namespace (in production
// the lab's Docker bridge br-<id>) with an AF_PACKET socket, keeps only the
// frames that a classic BPF program accepts (UDP datagrams to the discovery
// groups and IGMP; see Filter), decodes them into Packets (Decode) stamped by
// the kernel, and holds them in a bounded ring (Capture). Pure functions then
// sort them into per-sender Timelines and answer the questions a discovery
// time needs: the sender's period, when it was ready, its first announcement
// after an instant, and which announcements never reached the wire
// (Timelines, Period, Ready, FirstAfter, Lost). Kernel timestamps are
// CLOCK_REALTIME; ClockSample relates them to CLOCK_MONOTONIC.
//
// Pcap files (read with ReadPcap, written through Options.Pcap) use
// gopacket's pure-Go pcapgo; nothing here needs cgo or libpcap.
package capture
