package store

import "github.com/fluidos-lab/testbed/results"

// FastDecode exposes the decoder's fast path to the external tests: ok is
// false when the line is left to encoding/json.
func FastDecode(b []byte, r *results.Run) bool {
	var d decoder
	return d.fast(b, r)
}

// FastDecoder is a reusable decoder for benchmarks.
type FastDecoder struct{ d decoder }

// Decode is the fast path of one line.
func (f *FastDecoder) Decode(b []byte, r *results.Run) bool { return f.d.fast(b, r) }
