package store

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/fluidos-lab/testbed/results"
)

// FileManifest and FileRuns are the names of a campaign's files.
const (
	FileManifest = "manifest.json"
	FileRuns     = "runs.jsonl"
)

// Recorder receives each run as it ends. Implementations must make the run
// durable before Append returns.
type Recorder interface {
	Append(ctx context.Context, r results.Run) error
	Close() error
}

// Campaign is a campaign directory read back.
type Campaign struct {
	Dir      string
	Manifest results.Manifest
	Runs     []results.Run
	// Warnings are recoverable problems (e.g. a truncated last line, a run
	// skipped for an impossible time), each naming runs.jsonl and its line;
	// print them with WriteWarnings.
	Warnings []string
	// checked is set by the readers: Runs already passed the Checker.
	checked bool
}

// Checked reports whether c was read by this package (its runs passed the
// integrity rules) rather than built in memory.
func (c *Campaign) Checked() bool { return c.checked }

// WriteWarnings prints c's warnings, one "warning: …" line each: the one
// format every command uses.
func (c *Campaign) WriteWarnings(w io.Writer) error { return WriteWarnings(w, c.Warnings) }

// WriteWarnings prints warnings (a Campaign's, a comparison's) one
// "warning: …" line each.
func WriteWarnings(w io.Writer, warnings []string) error {
	for _, msg := range warnings {
		if _, err := fmt.Fprintf(w, "warning: %s\n", msg); err != nil {
			return err
		}
	}
	return nil
}

// ExpectedPeers lists the peers node A should discover: the manifest's
// peers, or, when the manifest names none, every peer the runs mention
// (discovered or missing), sorted.
func ExpectedPeers(m results.Manifest, runs []results.Run) []string {
	if len(m.Peers) > 0 {
		return m.Peers
	}
	seen := map[string]bool{}
	var out []string
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, r := range runs {
		for _, p := range r.Peers {
			add(p.Peer)
		}
		for _, p := range r.Missing {
			add(p)
		}
	}
	sort.Strings(out)
	return out
}

// FileRecorder appends runs to <dir>/runs.jsonl, fsyncing each line.
type FileRecorder struct {
	dir string
	f   runsFile
}

// runsFile is what the recorder needs of runs.jsonl (an *os.File; a test
// wraps one to fail a write halfway, as a full disk does).
type runsFile interface {
	io.Writer
	Sync() error
	Stat() (fs.FileInfo, error)
	Truncate(size int64) error
	Seek(offset int64, whence int) (int64, error)
	Close() error
	Name() string
}

var _ Recorder = (*FileRecorder)(nil)

// Create creates dir (if needed), writes m as manifest.json and
// returns a recorder for a new runs.jsonl. It refuses a directory that
// already holds a campaign; use Open to resume one.
func Create(dir string, m results.Manifest) (*FileRecorder, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating campaign directory %s: %w", dir, err)
	}
	if _, err := os.Stat(filepath.Join(dir, FileManifest)); err == nil {
		return nil, fmt.Errorf("campaign directory %s already holds %s (resume it instead)", dir, FileManifest)
	}
	if err := WriteManifest(dir, m); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, FileRuns), os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("creating %s: %w", FileRuns, err)
	}
	if err := syncDir(dir); err != nil {
		f.Close()
		return nil, err
	}
	return &FileRecorder{dir: dir, f: f}, nil
}

// Open opens an existing campaign for appending (resume). A
// truncated last line left by a crash is cut off the file (and reported in
// the returned Campaign's Warnings); a complete last run that only lacks its
// newline is kept and terminated. New lines then start cleanly.
func Open(dir string) (*FileRecorder, *Campaign, error) {
	c, err := Read(dir)
	if err != nil {
		return nil, nil, err
	}
	path := filepath.Join(dir, FileRuns)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("opening %s: %w", path, err)
	}
	end, err := completeLength(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("scanning %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("scanning %s: %w", path, err)
	}
	if st.Size() > end {
		tail := make([]byte, st.Size()-end)
		if _, err := f.ReadAt(tail, end); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("reading last line of %s: %w", path, err)
		}
		if _, derr := decodeRun(tail); derr == nil {
			// A complete run whose newline was not written: keep it.
			if _, err := f.WriteAt([]byte{'\n'}, st.Size()); err != nil {
				f.Close()
				return nil, nil, fmt.Errorf("terminating last line of %s: %w", path, err)
			}
			end = st.Size() + 1
		} else if err := f.Truncate(end); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("truncating partial last line of %s: %w", path, err)
		}
	}
	if _, err := f.Seek(end, io.SeekStart); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("seeking %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("syncing %s: %w", path, err)
	}
	return &FileRecorder{dir: dir, f: f}, c, nil
}

// completeLength returns the length of f up to and including its last
// newline.
func completeLength(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	size := st.Size()
	buf := make([]byte, 64*1024)
	for off := size; off > 0; {
		n := int64(len(buf))
		if n > off {
			n = off
		}
		off -= n
		if _, err := f.ReadAt(buf[:n], off); err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return off + int64(i) + 1, nil
		}
	}
	return 0, nil
}

// Append writes r as one JSON line and fsyncs it.
func (w *FileRecorder) Append(ctx context.Context, r results.Run) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("appending run %s/%d: %w", r.Condition, r.Index, err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encoding run %s/%d: %w", r.Condition, r.Index, err)
	}
	return w.write(append(b, '\n'), fmt.Sprintf("run %s/%d", r.Condition, r.Index))
}

// write appends whole lines and fsyncs them. A write that fails halfway
// (a full disk writes what fits, then fails with ENOSPC) is cut back to
// the file's previous end, so that runs.jsonl never holds a partial line
// that a later append would glue to the next run.
func (w *FileRecorder) write(b []byte, what string) error {
	st, err := w.f.Stat()
	if err != nil {
		return fmt.Errorf("writing %s to %s: %w", what, w.f.Name(), err)
	}
	if _, err := w.f.Write(b); err != nil {
		werr := fmt.Errorf("writing %s to %s: %w (the runs before it are intact)", what, w.f.Name(), err)
		if terr := w.f.Truncate(st.Size()); terr != nil {
			return fmt.Errorf("writing %s to %s: %w; cutting the partial line back to %d bytes failed too: %v", what, w.f.Name(), err, st.Size(), terr)
		}
		if _, serr := w.f.Seek(st.Size(), io.SeekStart); serr != nil {
			return errors.Join(werr, fmt.Errorf("seeking %s: %w", w.f.Name(), serr))
		}
		return werr
	}
	if err := w.f.Sync(); err != nil {
		return fmt.Errorf("syncing %s: %w", w.f.Name(), err)
	}
	return nil
}

// AppendBatch writes runs as JSON lines with one write and one fsync (for
// tools and benchmarks that record many runs at once; the runner appends
// one run at a time).
func (w *FileRecorder) AppendBatch(ctx context.Context, runs []results.Run) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("appending %d runs: %w", len(runs), err)
	}
	var buf []byte
	for i := range runs {
		b, err := json.Marshal(runs[i])
		if err != nil {
			return fmt.Errorf("encoding run %s/%d: %w", runs[i].Condition, runs[i].Index, err)
		}
		buf = append(append(buf, b...), '\n')
	}
	return w.write(buf, fmt.Sprintf("%d runs", len(runs)))
}

// UpdateManifest atomically replaces the campaign's manifest.json (e.g. to
// set Ended or add warnings).
func (w *FileRecorder) UpdateManifest(m results.Manifest) error { return WriteManifest(w.dir, m) }

// Close closes runs.jsonl.
func (w *FileRecorder) Close() error {
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("closing %s: %w", w.f.Name(), err)
	}
	return nil
}

// WriteManifest writes dir/manifest.json atomically: temp file, fsync,
// rename, fsync of the directory.
func WriteManifest(dir string, m results.Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding manifest: %w", err)
	}
	return WriteFileAtomic(filepath.Join(dir, FileManifest), append(b, '\n'))
}

// WriteFileAtomic writes data to path through a temp file in the same
// directory, fsyncs it, renames it over path and fsyncs the directory.
func WriteFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	cleanup := func() { tmp.Close(); os.Remove(tmp.Name()) }
	if _, err := tmp.Write(data); err != nil {
		cleanup()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		cleanup()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		cleanup()
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("renaming into %s: %w", path, err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening directory %s for sync: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}

// Read reads dir's manifest.json and runs.jsonl into memory (see Scan,
// which streams instead). A missing runs.jsonl is an empty campaign.
func Read(dir string) (*Campaign, error) {
	var runs []results.Run
	c, err := Scan(dir, func(r *results.Run) error {
		runs = append(runs, *r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.Runs = runs
	return c, nil
}

// ReadManifest reads and decodes dir/manifest.json, refusing a file larger
// than MaxManifestBytes.
func ReadManifest(dir string) (results.Manifest, error) {
	var m results.Manifest
	path := filepath.Join(dir, FileManifest)
	f, err := os.Open(path)
	if err != nil {
		return m, fmt.Errorf("reading campaign %s: %w", dir, err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxManifestBytes+1))
	if err != nil {
		return m, fmt.Errorf("reading campaign %s: %w", dir, err)
	}
	if len(b) > MaxManifestBytes {
		return m, fmt.Errorf("reading campaign %s: %s is larger than the limit of %d bytes", dir, path, MaxManifestBytes)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("reading campaign %s: %s: %w", dir, path, err)
	}
	return m, nil
}

// Scan reads dir's manifest.json and streams runs.jsonl line by line,
// applying the integrity rules (package documentation) to every line: it
// calls visit with each accepted run, in file order, and returns the
// campaign with its Manifest and Warnings but no Runs. visit may keep the
// run. An error from visit stops the scan and is returned as is. A missing
// runs.jsonl is an empty campaign.
func Scan(dir string, visit func(*results.Run) error) (*Campaign, error) {
	s, err := OpenStream(dir)
	if err != nil {
		return nil, err
	}
	if err := s.Each(context.Background(), visit); err != nil {
		return nil, err
	}
	return s.Campaign(), nil
}

// Stream reads a campaign in one or more passes over runs.jsonl without
// holding its runs. The first pass applies the integrity rules and fixes
// what the campaign is: later passes read exactly the same bytes (a
// campaign still being appended to is read consistently) and fail if the
// accepted runs differ (the file was rewritten in between).
type Stream struct {
	c      *Campaign
	path   string
	passes int
	size   int64
	runs   int
	digest uint64
}

// OpenStream reads dir's manifest.json; runs.jsonl is read by Each.
func OpenStream(dir string) (*Stream, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	return &Stream{c: &Campaign{Dir: dir, Manifest: m, checked: true}, path: filepath.Join(dir, FileRuns)}, nil
}

// Campaign is the campaign's manifest and, once a pass has completed, its
// warnings (Runs stays nil).
func (s *Stream) Campaign() *Campaign { return s.c }

// Each makes one pass over runs.jsonl, calling visit with each accepted run
// in file order (visit may keep it). An error from visit stops the pass
// and is returned as is; so does ctx's error once ctx ends (checked every
// CheckEvery lines: an interrupted reader stops within a few milliseconds,
// not at the end of the file).
func (s *Stream) Each(ctx context.Context, visit func(*results.Run) error) error {
	return s.each(ctx, false, visit)
}

// EachTransient is Each for a visit that keeps nothing of the run: the run
// and everything it points to are overwritten by the next line, so a pass
// allocates almost nothing per line.
func (s *Stream) EachTransient(ctx context.Context, visit func(*results.Run) error) error {
	return s.each(ctx, true, visit)
}

// CheckEvery is how many lines a reader decodes between two checks of its
// context.
const CheckEvery = 256

func (s *Stream) each(ctx context.Context, transient bool, visit func(*results.Run) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	dir := s.c.Dir
	f, err := os.Open(s.path)
	if errors.Is(err, os.ErrNotExist) {
		if s.passes > 0 && s.size > 0 {
			return fmt.Errorf("reading campaign %s: %s disappeared between two passes", dir, s.path)
		}
		s.passes++
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading campaign %s: %w", dir, err)
	}
	defer f.Close()
	var r io.Reader = f
	if s.passes > 0 {
		r = io.LimitReader(f, s.size)
	}
	ck := NewChecker(s.path, &s.c.Manifest)
	var (
		runs   int
		digest uint64 = 14695981039346656037
	)
	n, err := scanRuns(ctx, r, ck, transient, func(run *results.Run) error {
		runs++
		for i := 0; i < len(run.Condition); i++ {
			digest = (digest ^ uint64(run.Condition[i])) * 1099511628211
		}
		digest = (digest ^ uint64(run.Index)) * 1099511628211
		return visit(run)
	})
	if err != nil {
		var le *LineError
		if errors.As(err, &le) {
			return fmt.Errorf("reading campaign %s: %w", dir, err)
		}
		return err
	}
	if s.passes == 0 {
		s.size, s.runs, s.digest = n, runs, digest
		s.c.Warnings = ck.Warnings()
	} else if n != s.size || runs != s.runs || digest != s.digest {
		return fmt.Errorf("reading campaign %s: %s changed between two passes (%d runs in %d bytes, then %d runs in %d bytes)",
			dir, s.path, s.runs, s.size, runs, n)
	}
	s.passes++
	return nil
}

// ReadRuns decodes runs.jsonl from r with the integrity rules of a
// campaign without a manifest (indices bounded by MaxRunIndex). Blank
// lines are skipped. A last line that has no terminating newline and does
// not decode is a write cut short by a crash: it is skipped and reported as
// a warning, like a run with an impossible time. Any other problem is a
// *LineError naming its line number.
func ReadRuns(r io.Reader) ([]results.Run, []string, error) {
	var runs []results.Run
	ck := NewChecker("", nil)
	if _, err := scanRuns(context.Background(), r, ck, false, func(run *results.Run) error {
		runs = append(runs, *run)
		return nil
	}); err != nil {
		return nil, nil, err
	}
	return runs, ck.Warnings(), nil
}

// scanRuns decodes lines from r, checks them with ck and passes accepted
// runs to visit (the same, recycled run every time when transient),
// returning ctx's error as it is if ctx ends (checked every CheckEvery
// lines). It returns the number of bytes read.
func scanRuns(ctx context.Context, r io.Reader, ck *Checker, transient bool, visit func(*results.Run) error) (int64, error) {
	br := bufio.NewReaderSize(r, MaxLineBytes+1)
	var (
		dec  = decoder{reuse: transient}
		read int64
		tmp  = new(results.Run)
	)
	tooLong := func(line int) error {
		return &LineError{File: ck.file, Line: line,
			Err: fmt.Errorf("line is longer than the limit of %d bytes (a run is a few KB: this is not a line the recorder wrote)", MaxLineBytes)}
	}
	for line := 1; ; line++ {
		if line%CheckEvery == 1 {
			if err := ctx.Err(); err != nil {
				return read, err
			}
		}
		b, err := br.ReadSlice('\n')
		read += int64(len(b))
		if errors.Is(err, bufio.ErrBufferFull) {
			return read, tooLong(line)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return read, &LineError{File: ck.file, Line: line, Err: err}
		}
		complete := len(b) > 0 && b[len(b)-1] == '\n'
		content := b
		if complete {
			content = b[:len(b)-1]
		}
		if len(content) > MaxLineBytes {
			return read, tooLong(line)
		}
		if len(bytes.TrimSpace(content)) > 0 {
			if !transient {
				tmp = new(results.Run) // visit may keep it
			}
			derr := dec.decodeInto(content, tmp)
			switch {
			case derr == nil:
				ok, cerr := ck.Check(line, tmp)
				if cerr != nil {
					return read, cerr
				}
				if ok {
					if verr := visit(tmp); verr != nil {
						return read, verr
					}
				}
			case !complete:
				ck.warn(line, "truncated last line skipped (%d bytes, no newline): %v", len(b), derr)
			default:
				return read, &LineError{File: ck.file, Line: line, Err: derr}
			}
		}
		if errors.Is(err, io.EOF) {
			return read, nil
		}
	}
}

// maxAbsMS bounds every time and percentage in a run (about 31 years in
// ms): larger values are corrupt and would overflow the statistics.
const maxAbsMS = 1e12

// checkTimes rejects out-of-range numbers in a run (without allocating
// unless one is found).
func checkTimes(r *results.Run) error {
	var errs []error
	check := func(name string, v float64) {
		if v > maxAbsMS || v < -maxAbsMS {
			errs = append(errs, fmt.Errorf("%s = %g is out of range (|v| ≤ %g)", name, v, maxAbsMS))
		}
	}
	opt := func(name string, v *float64) {
		if v != nil {
			check(name, *v)
		}
	}
	check("pauseMS", r.PauseMS)
	check("cycleOverheadMS", r.CycleOverheadMS)
	check("apiLatencyMS", r.APILatencyMS)
	check("endMS", r.EndMS)
	check("impairment.lossPct", r.Impairment.LossPct)
	opt("impairment.achievedLossPct", r.Impairment.AchievedLossPct)
	opt("pod.scheduledMS", r.Pod.ScheduledMS)
	opt("pod.startedMS", r.Pod.StartedMS)
	opt("pod.readyMS", r.Pod.ReadyMS)
	opt("pod.containerStartMS", r.Pod.ContainerStartMS)
	opt("pod.leaveMS", r.Pod.LeaveMS)
	for i := range r.Peers {
		p := &r.Peers[i]
		opt("discoveredMS", p.DiscoveredMS)
		opt("reverseMS", p.ReverseMS)
		opt("goneMS", p.GoneMS)
		opt("truthMS", p.TruthMS)
		opt("truthSendMS", p.TruthSendMS)
		for j := range p.Flaps {
			check("flaps.deletedMS", p.Flaps[j].DeletedMS)
			opt("flaps.readdedMS", p.Flaps[j].ReaddedMS)
		}
		checkWire("wire", p.Wire, check)
		checkWire("reverseWire", p.ReverseWire, check)
	}
	if w := r.Wire; w != nil {
		check("wire.clockStepUS", w.ClockStepUS)
		check("wire.uncertaintyUS", w.UncertaintyUS)
		opt("wire.windowLossPct", w.WindowLossPct)
	}
	return errors.Join(errs...)
}

// checkWire checks a split's times.
func checkWire(name string, w *results.WireTiming, check func(string, float64)) {
	if w == nil {
		return
	}
	for _, v := range [...]float64{w.ReadyMS, w.FirstMS, w.PeriodMS, w.StartupMS, w.WaitMS, w.LostMS, w.ProcessingMS} {
		check(name, v)
	}
}

// Position names one run of a campaign.
type Position struct {
	Condition string `json:"condition"`
	Index     int    `json:"index"`
}

// ResumePoint tells a runner where to continue: the last complete run
// recorded (ok=false when there is none) and, per condition, the next run
// index to execute (one past the highest recorded index). Runs are complete
// once their line is in runs.jsonl; aborted runs count as recorded.
func ResumePoint(runs []results.Run) (last Position, next map[string]int, ok bool) {
	next = make(map[string]int)
	for _, r := range runs {
		if n := r.Index + 1; n > next[r.Condition] {
			next[r.Condition] = n
		}
	}
	if len(runs) == 0 {
		return Position{}, next, false
	}
	l := runs[len(runs)-1]
	return Position{Condition: l.Condition, Index: l.Index}, next, true
}
