package store

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strconv"
	"testing"

	"github.com/fluidos-lab/testbed/results"
)

// countingReader hands out r's bytes, counts them, and calls cancel once
// the first read has handed out any.
type countingReader struct {
	r      io.Reader
	n      int64
	cancel context.CancelFunc
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if n > 0 && c.cancel != nil {
		c.cancel()
		c.cancel = nil
	}
	return n, err
}

// TestScanStopsWhenCancelled: a scan checks its context before the first
// line and then every CheckEvery lines; once the context has ended it
// returns the context's error as it is and reads no further. Here the
// context ends as the first buffer (1 MiB) of a 7 MB input is read: the
// scan visits at most CheckEvery of its 100000 runs and reads nothing
// more; a context ended before the scan reads nothing. Before, AnalyzeDir
// took no context and an interrupted in-process reader kept its CPU until
// the end of the file.
func TestScanStopsWhenCancelled(t *testing.T) {
	const lines = 100000
	var in bytes.Buffer
	for i := range lines {
		in.WriteString(`{"condition":"c","index":` + strconv.Itoa(i) + `,"peers":[{"peer":"p","discoveredMS":100}]}` + "\n")
	}
	size := int64(in.Len())
	tests := []struct {
		name      string
		cancelled bool // before the scan starts
	}{
		{"cancelled while reading", false},
		{"cancelled before", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			cr := &countingReader{r: bytes.NewReader(in.Bytes()), cancel: cancel}
			if tt.cancelled {
				cancel()
			}
			visited := 0
			read, err := scanRuns(ctx, cr, NewChecker("runs.jsonl", nil), true, func(*results.Run) error {
				visited++
				return nil
			})
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("err = %v, want context.Canceled", err)
			}
			switch {
			case tt.cancelled && (visited != 0 || cr.n != 0):
				t.Errorf("visited %d runs and took %d bytes after the context ended", visited, cr.n)
			case visited > CheckEvery || read >= size || cr.n > MaxLineBytes+1:
				t.Errorf("visited %d of %d runs, read %d and took %d of %d bytes: want at most %d runs and one buffer (%d bytes)",
					visited, lines, read, cr.n, size, CheckEvery, MaxLineBytes+1)
			}
		})
	}
}
