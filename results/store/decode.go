package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/fluidos-lab/testbed/results"
)

// decoder turns runs.jsonl lines into runs. Its fast path handles the
// shape the recorder writes (exact key names, no escapes, no nulls, no
// duplicate keys) about ten times faster than encoding/json; any line it
// does not fully understand is decoded again by encoding/json, so the
// result (and every error message) is exactly encoding/json's.
type decoder struct {
	b      []byte
	i      int
	depth  int
	arena  []float64
	intern map[string]string
	// peers is the peer count of the last run, the capacity of the next.
	peers int
	// reuse makes the decoder recycle a run's memory for the next line
	// (the arena chunks and the peers array): see Stream.EachTransient.
	reuse   bool
	pool    [][]float64
	pooled  int
	peerBuf []results.PeerTiming
	flapBuf []results.Flap // a line's flaps, back to back (reuse)
	flaps   []results.Flap // one peer's flaps being decoded (reuse)
}

const (
	internMax    = 1 << 12 // distinct short strings kept by a decoder
	internMaxLen = 64
	arenaChunk   = 16
)

// decodeInto decodes one line of runs.jsonl into r (overwritten) and
// checks its fields.
func (d *decoder) decodeInto(b []byte, r *results.Run) error {
	*r = results.Run{}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return errors.New("not a JSON object")
	}
	if !d.fast(b, r) {
		*r = results.Run{}
		if err := json.Unmarshal(b, r); err != nil {
			return err
		}
	}
	if r.Condition == "" {
		return errors.New("run has no condition")
	}
	if r.Index < 0 {
		return fmt.Errorf("run %s has negative index %d", r.Condition, r.Index)
	}
	if err := checkTimes(r); err != nil {
		return fmt.Errorf("run %s/%d: %w", r.Condition, r.Index, err)
	}
	return nil
}

// decodeRun decodes one line with a fresh decoder.
func decodeRun(b []byte) (results.Run, error) {
	var (
		d decoder
		r results.Run
	)
	err := d.decodeInto(b, &r)
	return r, err
}

// fast decodes b into r; false means "not handled here".
func (d *decoder) fast(b []byte, r *results.Run) bool {
	d.b, d.i, d.depth = b, 0, 0
	if d.reuse {
		d.pooled, d.arena = 0, nil
		d.flapBuf = d.flapBuf[:0]
	}
	if !d.run(r) {
		return false
	}
	d.ws()
	return d.i == len(d.b)
}

func (d *decoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

func (d *decoder) peek() byte {
	if d.i < len(d.b) {
		return d.b[d.i]
	}
	return 0
}

// object iterates the members of an object; field decodes one value and
// reports false when the line needs encoding/json. A key lookup does not
// know (another case of a known one, which encoding/json would accept, or
// a field this path does not decode) also hands the line to encoding/json.
func (d *decoder) object(lookup func(key []byte) int, field func(idx int) bool) bool {
	d.ws()
	if d.peek() != '{' {
		return false
	}
	d.i++
	var seen uint64
	d.ws()
	if d.peek() == '}' {
		d.i++
		return true
	}
	for {
		d.ws()
		key, ok := d.rawString()
		if !ok {
			return false
		}
		d.ws()
		if d.peek() != ':' {
			return false
		}
		d.i++
		d.ws()
		if idx := lookup(key); idx >= 0 {
			if seen&(1<<idx) != 0 {
				return false // duplicate key: encoding/json's merge rules apply
			}
			seen |= 1 << idx
			if d.peek() == 'n' || !field(idx) {
				return false
			}
		} else {
			// A key this path does not decode (a field added to the
			// run record, or a foreign one): encoding/json decides.
			return false
		}
		d.ws()
		switch d.peek() {
		case ',':
			d.i++
		case '}':
			d.i++
			return true
		default:
			return false
		}
	}
}

// array iterates the elements of an array.
func (d *decoder) array(elem func() bool) bool {
	if d.peek() != '[' {
		return false
	}
	d.i++
	d.ws()
	if d.peek() == ']' {
		d.i++
		return true
	}
	for {
		d.ws()
		if d.peek() == 'n' || !elem() {
			return false
		}
		d.ws()
		switch d.peek() {
		case ',':
			d.i++
		case ']':
			d.i++
			return true
		default:
			return false
		}
	}
}

// rawString returns the bytes of a string without escapes.
func (d *decoder) rawString() ([]byte, bool) {
	if d.peek() != '"' {
		return nil, false
	}
	start := d.i + 1
	ascii := true
	for j := start; j < len(d.b); j++ {
		c := d.b[j]
		switch {
		case c == '"':
			s := d.b[start:j]
			if !ascii && !utf8.Valid(s) {
				return nil, false
			}
			d.i = j + 1
			return s, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, false
}

func (d *decoder) str(dst *string) bool {
	s, ok := d.rawString()
	if !ok {
		return false
	}
	if len(s) > internMaxLen {
		*dst = string(s)
		return true
	}
	if v, ok := d.intern[string(s)]; ok {
		*dst = v
		return true
	}
	v := string(s)
	if d.intern == nil {
		d.intern = map[string]string{}
	}
	if len(d.intern) < internMax {
		d.intern[v] = v
	}
	*dst = v
	return true
}

func (d *decoder) strs(dst *[]string) bool {
	out := []string{}
	ok := d.array(func() bool {
		var s string
		if !d.str(&s) {
			return false
		}
		out = append(out, s)
		return true
	})
	*dst = out
	return ok
}

func (d *decoder) boolean(dst *bool) bool {
	switch {
	case bytes.HasPrefix(d.b[d.i:], []byte("true")):
		*dst = true
		d.i += 4
	case bytes.HasPrefix(d.b[d.i:], []byte("false")):
		*dst = false
		d.i += 5
	default:
		return false
	}
	return true
}

// number returns a JSON number literal: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?
// and whether it is an integer literal.
func (d *decoder) number() (lit []byte, integer, ok bool) {
	b, i := d.b, d.i
	digits := func() bool {
		s := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i > s
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		digits()
	default:
		return nil, false, false
	}
	integer = true
	if i < len(b) && b[i] == '.' {
		i++
		integer = false
		if !digits() {
			return nil, false, false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		integer = false
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if !digits() {
			return nil, false, false
		}
	}
	lit = b[d.i:i]
	d.i = i
	return lit, integer, true
}

func (d *decoder) float(dst *float64) bool {
	lit, _, ok := d.number()
	if !ok {
		return false
	}
	if v, ok := exactFloat(lit); ok {
		*dst = v
		return true
	}
	v, err := strconv.ParseFloat(string(lit), 64)
	if err != nil {
		return false
	}
	*dst = v
	return true
}

var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
	1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// exactFloat converts a valid JSON number whose decimal mantissa fits in
// 53 bits and whose exponent is within ±22: both are exact doubles, so one
// multiplication or division rounds correctly, giving the same value as
// strconv.ParseFloat (Clinger's fast path). Times the runner records (ns
// divided by 1e6) take this path; anything else reports false.
func exactFloat(lit []byte) (float64, bool) {
	i, neg := 0, false
	if lit[0] == '-' {
		neg, i = true, 1
	}
	var mant uint64
	exp := 0
	for ; i < len(lit) && lit[i] >= '0' && lit[i] <= '9'; i++ {
		if mant > 1<<53 {
			return 0, false
		}
		mant = mant*10 + uint64(lit[i]-'0')
	}
	if i < len(lit) && lit[i] == '.' {
		for i++; i < len(lit) && lit[i] >= '0' && lit[i] <= '9'; i++ {
			if mant > 1<<53 {
				return 0, false
			}
			mant = mant*10 + uint64(lit[i]-'0')
			exp--
		}
	}
	if i < len(lit) {
		return 0, false // an exponent: leave it to strconv
	}
	if mant > 1<<53 {
		return 0, false
	}
	f := float64(mant)
	switch {
	case mant == 0:
	case exp == 0:
	case exp > 0 && exp < len(pow10):
		f *= pow10[exp]
	case exp < 0 && -exp < len(pow10):
		f /= pow10[-exp]
	default:
		return 0, false
	}
	if neg {
		f = -f
	}
	return f, true
}

func (d *decoder) floatPtr(dst **float64) bool {
	var v float64
	if !d.float(&v) {
		return false
	}
	if len(d.arena) == cap(d.arena) {
		switch {
		case !d.reuse:
			d.arena = make([]float64, 0, arenaChunk)
		case d.pooled < len(d.pool):
			d.arena = d.pool[d.pooled][:0]
		default:
			d.arena = make([]float64, 0, arenaChunk)
			d.pool = append(d.pool, d.arena)
		}
		d.pooled++
	}
	d.arena = append(d.arena, v)
	*dst = &d.arena[len(d.arena)-1]
	return true
}

func (d *decoder) int64(dst *int64) bool {
	lit, integer, ok := d.number()
	if !ok || !integer {
		return false
	}
	v, err := strconv.ParseInt(string(lit), 10, 64)
	if err != nil {
		return false
	}
	*dst = v
	return true
}

func (d *decoder) int(dst *int) bool {
	var v int64
	if !d.int64(&v) || int64(int(v)) != v {
		return false
	}
	*dst = int(v)
	return true
}

func (d *decoder) time(dst *time.Time) bool {
	start := d.i
	if _, ok := d.rawString(); !ok {
		return false
	}
	// The same method encoding/json calls.
	return dst.UnmarshalJSON(d.b[start:d.i]) == nil
}

func runField(k []byte) int {
	switch string(k) {
	case "campaign":
		return 0
	case "condition":
		return 1
	case "index":
		return 2
	case "warmup":
		return 3
	case "aborted":
		return 4
	case "timedOut":
		return 5
	case "started":
		return 6
	case "nodeA":
		return 7
	case "protocol":
		return 8
	case "phase":
		return 9
	case "pauseMS":
		return 10
	case "cycleOverheadMS":
		return 11
	case "impairment":
		return 12
	case "pod":
		return 13
	case "peers":
		return 14
	case "missing":
		return 15
	case "errors":
		return 16
	case "apiLatencyMS":
		return 17
	case "endMS":
		return 18
	case "phaseMS":
		return 19
	case "wire":
		return 20
	}
	return -1
}

func impairmentField(k []byte) int {
	switch string(k) {
	case "backend":
		return 0
	case "target":
		return 1
	case "lossPct":
		return 2
	case "delayMS":
		return 3
	case "jitterMS":
		return 4
	case "correlationPct":
		return 5
	case "duplicatePct":
		return 6
	case "corruptPct":
		return 7
	case "rate":
		return 8
	case "seed":
		return 9
	case "achievedLossPct":
		return 10
	case "packetsSeen":
		return 11
	case "packetsDropped":
		return 12
	}
	return -1
}

func podField(k []byte) int {
	switch string(k) {
	case "scheduledMS":
		return 0
	case "startedMS":
		return 1
	case "readyMS":
		return 2
	case "containerStartMS":
		return 3
	case "leaveMS":
		return 4
	}
	return -1
}

func peerField(k []byte) int {
	switch string(k) {
	case "peer":
		return 0
	case "discoveredMS":
		return 1
	case "reverseMS":
		return 2
	case "goneMS":
		return 3
	case "truthMS":
		return 4
	case "truthSendMS":
		return 5
	case "flaps":
		return 6
	case "wire":
		return 7
	case "reverseWire":
		return 8
	}
	return -1
}

func flapField(k []byte) int {
	switch string(k) {
	case "observer":
		return 0
	case "subject":
		return 1
	case "deletedMS":
		return 2
	case "readdedMS":
		return 3
	}
	return -1
}

func (d *decoder) run(r *results.Run) bool {
	return d.object(runField, func(i int) bool {
		switch i {
		case 0:
			return d.str(&r.Campaign)
		case 1:
			return d.str(&r.Condition)
		case 2:
			return d.int(&r.Index)
		case 3:
			return d.boolean(&r.Warmup)
		case 4:
			return d.boolean(&r.Aborted)
		case 5:
			return d.boolean(&r.TimedOut)
		case 6:
			return d.time(&r.Started)
		case 7:
			return d.str(&r.NodeA)
		case 8:
			return d.str(&r.Protocol)
		case 9:
			return d.str(&r.Phase)
		case 10:
			return d.float(&r.PauseMS)
		case 11:
			return d.float(&r.CycleOverheadMS)
		case 12:
			return d.impairment(&r.Impairment)
		case 13:
			return d.pod(&r.Pod)
		case 14:
			if d.reuse {
				r.Peers = d.peerBuf[:0]
			} else {
				r.Peers = make([]results.PeerTiming, 0, d.peers)
			}
			ok := d.array(func() bool {
				r.Peers = append(r.Peers, results.PeerTiming{})
				return d.peer(&r.Peers[len(r.Peers)-1])
			})
			d.peers = min(len(r.Peers), 1024)
			if d.reuse {
				d.peerBuf = r.Peers[:0]
			}
			return ok
		case 15:
			return d.strs(&r.Missing)
		case 16:
			return d.strs(&r.Errors)
		case 17:
			return d.float(&r.APILatencyMS)
		case 18:
			return d.float(&r.EndMS)
		case 19:
			return d.floatPtr(&r.PhaseMS)
		case 20:
			r.Wire = new(results.WireRun)
			return d.wireRun(r.Wire)
		}
		return false
	})
}

func (d *decoder) impairment(m *results.Impairment) bool {
	return d.object(impairmentField, func(i int) bool {
		switch i {
		case 0:
			return d.str(&m.Backend)
		case 1:
			return d.str(&m.Target)
		case 2:
			return d.float(&m.LossPct)
		case 3:
			return d.float(&m.DelayMS)
		case 4:
			return d.float(&m.JitterMS)
		case 5:
			return d.float(&m.CorrelationPct)
		case 6:
			return d.float(&m.DuplicatePct)
		case 7:
			return d.float(&m.CorruptPct)
		case 8:
			return d.str(&m.Rate)
		case 9:
			return d.int64(&m.Seed)
		case 10:
			return d.floatPtr(&m.AchievedLossPct)
		case 11:
			return d.int64(&m.PacketsSeen)
		case 12:
			return d.int64(&m.PacketsDropped)
		}
		return false
	})
}

func (d *decoder) pod(p *results.PodTimeline) bool {
	return d.object(podField, func(i int) bool {
		switch i {
		case 0:
			return d.floatPtr(&p.ScheduledMS)
		case 1:
			return d.floatPtr(&p.StartedMS)
		case 2:
			return d.floatPtr(&p.ReadyMS)
		case 3:
			return d.floatPtr(&p.ContainerStartMS)
		case 4:
			return d.floatPtr(&p.LeaveMS)
		}
		return false
	})
}

func (d *decoder) peer(p *results.PeerTiming) bool {
	return d.object(peerField, func(i int) bool {
		switch i {
		case 0:
			return d.str(&p.Peer)
		case 1:
			return d.floatPtr(&p.DiscoveredMS)
		case 2:
			return d.floatPtr(&p.ReverseMS)
		case 3:
			return d.floatPtr(&p.GoneMS)
		case 4:
			return d.floatPtr(&p.TruthMS)
		case 5:
			return d.floatPtr(&p.TruthSendMS)
		case 6:
			if !d.reuse {
				p.Flaps = []results.Flap{}
				return d.array(func() bool {
					p.Flaps = append(p.Flaps, results.Flap{})
					return d.flap(&p.Flaps[len(p.Flaps)-1])
				})
			}
			// Decode into scratch, then copy into the line's flap buffer: the
			// slices of earlier peers stay valid even when it grows (they keep
			// the old array), and nothing is allocated once it is big enough.
			d.flaps = d.flaps[:0]
			ok := d.array(func() bool {
				d.flaps = append(d.flaps, results.Flap{})
				return d.flap(&d.flaps[len(d.flaps)-1])
			})
			start := len(d.flapBuf)
			d.flapBuf = append(d.flapBuf, d.flaps...)
			p.Flaps = d.flapBuf[start:len(d.flapBuf):len(d.flapBuf)]
			return ok
		case 7:
			p.Wire = new(results.WireTiming)
			return d.wireTiming(p.Wire)
		case 8:
			p.ReverseWire = new(results.WireTiming)
			return d.wireTiming(p.ReverseWire)
		}
		return false
	})
}

func (d *decoder) flap(f *results.Flap) bool {
	return d.object(flapField, func(i int) bool {
		switch i {
		case 0:
			return d.str(&f.Observer)
		case 1:
			return d.str(&f.Subject)
		case 2:
			return d.float(&f.DeletedMS)
		case 3:
			return d.floatPtr(&f.ReaddedMS)
		}
		return false
	})
}
