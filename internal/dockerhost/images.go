package dockerhost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"
)

// ImageAPI is the part of the Engine API CopyImages uses, with the name of
// the engine for errors. Engine (a Pool's client with its host name) has it.
type ImageAPI interface {
	Name() string
	ImageInspect(ctx context.Context, ref string, opts ...client.ImageInspectOption) (image.InspectResponse, error)
	ImageSave(ctx context.Context, refs []string, opts ...client.ImageSaveOption) (io.ReadCloser, error)
	ImageLoad(ctx context.Context, input io.Reader, opts ...client.ImageLoadOption) (image.LoadResponse, error)
}

// progressStep is how many bytes pass between two progress calls.
const progressStep = 1 << 20

// CopyImages copies from engine from to engine to the images of refs that
// to lacks: for each ref to cannot inspect (not found), from's `docker
// save` of the ref is streamed into to's `docker load` (never held in
// memory whole), the load's JSON message stream is checked for an error,
// and to must then have the ref. A ref to already has is left alone,
// whatever its content; a ref from lacks is an error. Duplicate refs are
// copied once. Errors name the ref and both engines.
//
// progress, when not nil, is called with the bytes streamed so far of the
// ref being copied, every MiB and once at the end of each copy; it may be
// called from another goroutine than CopyImages', one call at a time.
//
// copied lists the refs copied, in order, also when err stops the copy.
func CopyImages(ctx context.Context, from, to ImageAPI, refs []string, progress func(ref string, bytes int64)) (copied []string, err error) {
	seen := make(map[string]bool, len(refs))
	for _, ref := range refs {
		if seen[ref] {
			continue
		}
		seen[ref] = true
		did, err := copyImage(ctx, from, to, ref, progress)
		if err != nil {
			return copied, fmt.Errorf("copying image %s from %s to %s: %w", ref, from.Name(), to.Name(), err)
		}
		if did {
			copied = append(copied, ref)
		}
	}
	return copied, nil
}

func copyImage(ctx context.Context, from, to ImageAPI, ref string, progress func(string, int64)) (bool, error) {
	if ok, err := hasImage(ctx, to, ref); err != nil || ok {
		return false, err
	}
	if ok, err := hasImage(ctx, from, ref); err != nil {
		return false, err
	} else if !ok {
		return false, fmt.Errorf("%s does not have it", from.Name())
	}
	if err := streamImage(ctx, from, to, ref, progress); err != nil {
		return false, err
	}
	if ok, err := hasImage(ctx, to, ref); err != nil {
		return false, err
	} else if !ok {
		return false, fmt.Errorf("%s still lacks it after a load that reported no error", to.Name())
	}
	return true, nil
}

func hasImage(ctx context.Context, api ImageAPI, ref string) (bool, error) {
	_, err := api.ImageInspect(ctx, ref)
	switch {
	case err == nil:
		return true, nil
	case cerrdefs.IsNotFound(err):
		return false, nil
	}
	return false, fmt.Errorf("inspecting it on %s: %w", api.Name(), err)
}

// streamImage pipes from's save stream into to's load request and reads
// the load's response to its end.
func streamImage(ctx context.Context, from, to ImageAPI, ref string, progress func(string, int64)) error {
	saved, err := from.ImageSave(ctx, []string{ref})
	if err != nil {
		return fmt.Errorf("saving it on %s: %w", from.Name(), err)
	}
	defer saved.Close()
	counted := &countingReader{r: saved, ref: ref, progress: progress}
	resp, err := to.ImageLoad(ctx, counted, client.ImageLoadWithQuiet(true))
	if err != nil {
		return fmt.Errorf("loading it on %s: %w", to.Name(), err)
	}
	defer resp.Body.Close()
	if err := loadResult(resp); err != nil {
		return fmt.Errorf("loading it on %s: %w", to.Name(), err)
	}
	counted.finish()
	return nil
}

// loadResult reads a load response to its end and returns the error its
// JSON message stream reports, if any.
func loadResult(resp image.LoadResponse) error {
	if !resp.JSON {
		_, err := io.Copy(io.Discard, resp.Body)
		return err
	}
	dec := json.NewDecoder(resp.Body)
	for {
		var m jsonmessage.JSONMessage
		err := dec.Decode(&m)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading the load response: %w", err)
		}
		if m.Error != nil {
			return m.Error
		}
	}
}

// countingReader counts the bytes read through it and reports them to
// progress every progressStep bytes. Read runs in the HTTP transport's
// goroutine, finish in the caller's: mu keeps the calls apart.
type countingReader struct {
	r        io.Reader
	ref      string
	progress func(string, int64)

	mu       sync.Mutex
	n, shown int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n += int64(n)
	if c.progress != nil && c.n-c.shown >= progressStep {
		c.shown = c.n
		c.progress(c.ref, c.n)
	}
	return n, err
}

func (c *countingReader) finish() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.progress != nil {
		c.shown = c.n
		c.progress(c.ref, c.n)
	}
}
