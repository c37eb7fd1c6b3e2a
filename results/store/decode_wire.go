package store

import "github.com/fluidos-lab/testbed/results"

// The fast path of the wire capture's fields (results.WireTiming,
// WireRun, WireSender): a campaign with a capture has them on every line.

var wireTimingKeys = []string{"readyMS", "readyBy", "firstMS", "lost", "periodMS", "startupMS", "waitMS", "lostMS", "processingMS"}

var wireRunKeys = []string{"interface", "group", "packets", "kernelDropped", "ringDropped", "clockStepUS", "uncertaintyUS", "windowLossPct", "lost", "senders", "counterWindowLost", "counterWindowSent", "counterFromMS", "counterToMS"}

var wireSenderKeys = []string{"cluster", "address", "announcements", "bytes", "phaseMS"}

// keyIndex returns a lookup of keys by position.
func keyIndex(keys []string) func([]byte) int {
	return func(k []byte) int {
		for i, s := range keys {
			if string(k) == s {
				return i
			}
		}
		return -1
	}
}

var (
	wireTimingField = keyIndex(wireTimingKeys)
	wireRunField    = keyIndex(wireRunKeys)
	wireSenderField = keyIndex(wireSenderKeys)
)

func (d *decoder) wireTiming(w *results.WireTiming) bool {
	return d.object(wireTimingField, func(i int) bool {
		switch i {
		case 0:
			return d.float(&w.ReadyMS)
		case 1:
			return d.str(&w.ReadyBy)
		case 2:
			return d.float(&w.FirstMS)
		case 3:
			return d.int(&w.Lost)
		case 4:
			return d.float(&w.PeriodMS)
		case 5:
			return d.float(&w.StartupMS)
		case 6:
			return d.float(&w.WaitMS)
		case 7:
			return d.float(&w.LostMS)
		case 8:
			return d.float(&w.ProcessingMS)
		}
		return false
	})
}

func (d *decoder) uint64(dst *uint64) bool {
	var v int64
	if !d.int64(&v) || v < 0 {
		return false // a negative or huge count: encoding/json decides
	}
	*dst = uint64(v)
	return true
}

func (d *decoder) wireRun(w *results.WireRun) bool {
	return d.object(wireRunField, func(i int) bool {
		switch i {
		case 0:
			return d.str(&w.Interface)
		case 1:
			return d.str(&w.Group)
		case 2:
			return d.int(&w.Packets)
		case 3:
			return d.uint64(&w.KernelDropped)
		case 4:
			return d.uint64(&w.RingDropped)
		case 5:
			return d.float(&w.ClockStepUS)
		case 6:
			return d.float(&w.UncertaintyUS)
		case 7:
			return d.floatPtr(&w.WindowLossPct)
		case 8:
			return d.int(&w.Lost)
		case 9:
			w.Senders = []results.WireSender{}
			return d.array(func() bool {
				w.Senders = append(w.Senders, results.WireSender{})
				return d.wireSender(&w.Senders[len(w.Senders)-1])
			})
		case 10:
			var n int
			if !d.int(&n) {
				return false
			}
			w.CounterWindowLost = &n
			return true
		case 11:
			var n int
			if !d.int(&n) {
				return false
			}
			w.CounterWindowSent = &n
			return true
		case 12:
			return d.float(&w.CounterFromMS)
		case 13:
			return d.float(&w.CounterToMS)
		}
		return false
	})
}

func (d *decoder) wireSender(s *results.WireSender) bool {
	return d.object(wireSenderField, func(i int) bool {
		switch i {
		case 0:
			return d.str(&s.Cluster)
		case 1:
			return d.str(&s.Address)
		case 2:
			return d.int(&s.Announcements)
		case 3:
			return d.int(&s.Bytes)
		case 4:
			return d.floatPtr(&s.PhaseMS)
		}
		return false
	})
}
