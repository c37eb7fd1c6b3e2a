package agent

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func validMessage() Message {
	return Message{
		Kind: KindAnnounce, Seq: 42, SendNS: 1_700_000_000_123_456_789, StartNS: 1_700_000_000_000_000_001,
		Cluster: "node-01", Address: "10.100.1.101:4001", Groups: []string{"default", "tenant-a"},
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	t.Parallel()
	goodbye := validMessage()
	goodbye.Kind = KindGoodbye
	maxGroups := validMessage()
	maxGroups.Groups = nil
	for i := range MaxGroups {
		maxGroups.Groups = append(maxGroups.Groups, strings.Repeat(string(rune('a'+i)), 40))
	}
	ipv6 := validMessage()
	ipv6.Address = "[fd00::1]:4001"
	for name, m := range map[string]Message{"announce": validMessage(), "goodbye": goodbye, "max groups": maxGroups, "ipv6": ipv6} {
		t.Run(name, func(t *testing.T) {
			b, err := Encode(m)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			if len(b) > MaxPacketSize {
				t.Fatalf("encoded %d bytes > cap %d", len(b), MaxPacketSize)
			}
			got, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if diff := cmp.Diff(m, got); diff != "" {
				t.Fatalf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEncodeRejects(t *testing.T) {
	t.Parallel()
	tests := map[string]func(*Message){
		"empty cluster":      func(m *Message) { m.Cluster = "" },
		"upper-case cluster": func(m *Message) { m.Cluster = "Node-01" },
		"cluster too long":   func(m *Message) { m.Cluster = strings.Repeat("a", 64) },
		"bad address":        func(m *Message) { m.Address = "10.0.0.1" },
		"no groups":          func(m *Message) { m.Groups = nil },
		"too many groups":    func(m *Message) { m.Groups = make([]string, MaxGroups+1) },
		"bad group":          func(m *Message) { m.Groups = []string{"-x"} },
		"unknown kind":       func(m *Message) { m.Kind = 9 },
		"zero send time":     func(m *Message) { m.SendNS = 0 },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			m := validMessage()
			mutate(&m)
			if b, err := Encode(m); err == nil {
				t.Fatalf("Encode accepted %+v as %d bytes", m, len(b))
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	good, err := Encode(validMessage())
	if err != nil {
		t.Fatal(err)
	}
	with := func(f func([]byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	tests := map[string]struct {
		pkt  []byte
		want error
	}{
		"empty":         {nil, ErrMalformed},
		"bad magic":     {with(func(b []byte) []byte { b[0] = 'X'; return b }), ErrMalformed},
		"bad version":   {with(func(b []byte) []byte { b[4] = 2; return b }), ErrMalformed},
		"bad kind":      {with(func(b []byte) []byte { b[5] = 0; return b }), ErrMalformed},
		"truncated":     {good[:len(good)-1], ErrMalformed},
		"header only":   {good[:30], ErrMalformed},
		"trailing byte": {with(func(b []byte) []byte { return append(b, 0) }), ErrMalformed},
		"oversized":     {bytes.Repeat([]byte{0}, MaxPacketSize+1), ErrTooLarge},
		"group count too large": {with(func(b []byte) []byte {
			// groups count sits after the fixed header and two strings.
			i := 30 + 1 + len("node-01") + 1 + len("10.100.1.101:4001")
			b[i] = MaxGroups + 1
			return b
		}), ErrMalformed},
		"invalid cluster bytes": {with(func(b []byte) []byte { b[31] = 0xff; return b }), ErrMalformed},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m, err := Decode(tc.pkt)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode = %+v, %v; want error %v", m, err, tc.want)
			}
		})
	}
}

func FuzzDecode(f *testing.F) {
	good, err := Encode(validMessage())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte("TBA1"))
	f.Add([]byte{})
	f.Add(bytes.Repeat([]byte{0xff}, 64))
	f.Fuzz(func(t *testing.T, p []byte) {
		m, err := Decode(p)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Decode error %v wraps neither ErrMalformed nor ErrTooLarge", err)
			}
			return
		}
		// Anything accepted must be valid and re-encode to the same bytes.
		if err := m.Validate(); err != nil {
			t.Fatalf("Decode accepted an invalid message: %v", err)
		}
		b, err := Encode(m)
		if err != nil {
			t.Fatalf("re-encode of accepted message: %v", err)
		}
		if !bytes.Equal(b, p) {
			t.Fatalf("re-encode differs:\n got %x\nwant %x", b, p)
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	pkt, err := Encode(validMessage())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(pkt)))
	for b.Loop() {
		if _, err := Decode(pkt); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	m := validMessage()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Encode(m); err != nil {
			b.Fatal(err)
		}
	}
}
