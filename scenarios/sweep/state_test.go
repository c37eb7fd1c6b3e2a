package sweep

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fluidos-lab/testbed/results/compare"
)

// A sweep.json that never ends (or is beyond MaxStateBytes) is refused by
// every reader of a sweep directory at the limit, not read into memory.
func TestStateReadIsBounded(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	dir := t.TempDir()
	if err := os.Symlink("/dev/zero", filepath.Join(dir, FileState)); err != nil {
		t.Fatal(err)
	}
	want := filepath.Join(dir, FileState) + " is larger than the limit of 16777216 bytes"
	start := time.Now()
	_, errRead := ReadState(dir)
	_, errReport := WriteReport(context.Background(), dir)
	_, errCompare := CompareSweeps(t.Context(), dir, dir, compare.Options{Seed: 1}, nil)
	for name, err := range map[string]error{"ReadState": errRead, "WriteReport": errReport, "CompareSweeps": errCompare} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", name, err, want)
		}
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
}
