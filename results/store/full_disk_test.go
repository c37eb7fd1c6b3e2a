package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/fluidos-lab/testbed/results"
)

// fullDisk is runs.jsonl on a disk that fills up: once armed, a write
// stores the first half of its bytes and fails with ENOSPC, as write(2)
// does when only part of the buffer fits.
type fullDisk struct {
	runsFile
	armed bool
}

func (f *fullDisk) Write(b []byte) (int, error) {
	if !f.armed {
		return f.runsFile.Write(b)
	}
	n, err := f.runsFile.Write(b[:len(b)/2])
	if err != nil {
		return n, err
	}
	return n, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
}

// TestAppendOnFullDiskKeepsWholeLines fails an append halfway, on a new
// campaign (O_APPEND) and on a resumed one (read-write at an offset), and
// checks that runs.jsonl holds only the whole runs before it, that the
// error names the file and the cause, and that the next append (space
// freed) lands on a clean line.
func TestAppendOnFullDiskKeepsWholeLines(t *testing.T) {
	for _, resumed := range []bool{false, true} {
		t.Run(map[bool]string{false: "created", true: "resumed"}[resumed], func(t *testing.T) {
			dir := t.TempDir()
			ctx := context.Background()
			run := func(i int) results.Run { return results.Run{Campaign: "c", Condition: "loss-0", Index: i} }
			rec, err := Create(dir, results.Manifest{Campaign: "c"})
			if err != nil {
				t.Fatal(err)
			}
			if err := rec.Append(ctx, run(0)); err != nil {
				t.Fatal(err)
			}
			if resumed {
				rec.Close()
				if rec, _, err = Open(dir); err != nil {
					t.Fatal(err)
				}
			}
			defer rec.Close()
			before, _ := os.ReadFile(filepath.Join(dir, FileRuns))
			disk := &fullDisk{runsFile: rec.f, armed: true}
			rec.f = disk
			err = rec.Append(ctx, run(1))
			if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), FileRuns) || !strings.Contains(err.Error(), "loss-0/1") {
				t.Fatalf("append on a full disk: %v", err)
			}
			after, _ := os.ReadFile(filepath.Join(dir, FileRuns))
			if string(after) != string(before) {
				t.Fatalf("runs.jsonl after the failed append:\n%q\nwant it as before:\n%q", after, before)
			}
			disk.armed = false
			if err := rec.Append(ctx, run(1)); err != nil {
				t.Fatal(err)
			}
			c, err := Read(dir)
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Runs) != 2 || len(c.Warnings) != 0 || c.Runs[1].Index != 1 {
				t.Fatalf("after space was freed: %d runs, warnings %v", len(c.Runs), c.Warnings)
			}
		})
	}
}
