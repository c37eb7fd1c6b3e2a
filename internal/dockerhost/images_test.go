package dockerhost

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/google/go-cmp/cmp"
)

// fakeImages is an engine's image store. A saved image is a "tarball" whose
// first line is its ref, padded to its size; loading one adds that ref.
type fakeImages struct {
	name   string
	images map[string]int // ref → size in bytes

	inspectErr error  // returned by ImageInspect for every ref
	saveErr    error  // returned by ImageSave
	loadErr    error  // returned by ImageLoad
	loadJSON   string // when set, the load's JSON response, and nothing is added
	loadPlain  bool   // answer the load in plain text, not JSON
	loadNoop   bool   // answer success but add nothing

	saved  []*trackedReader
	loaded []string // refs loaded, in order
}

func (f *fakeImages) Name() string { return f.name }

func (f *fakeImages) ImageInspect(_ context.Context, ref string, _ ...client.ImageInspectOption) (image.InspectResponse, error) {
	if f.inspectErr != nil {
		return image.InspectResponse{}, f.inspectErr
	}
	if _, ok := f.images[ref]; !ok {
		return image.InspectResponse{}, fmt.Errorf("No such image: %s: %w", ref, cerrdefs.ErrNotFound)
	}
	return image.InspectResponse{ID: "sha256:" + ref}, nil
}

func (f *fakeImages) ImageSave(_ context.Context, refs []string, _ ...client.ImageSaveOption) (io.ReadCloser, error) {
	if f.saveErr != nil {
		return nil, f.saveErr
	}
	if len(refs) != 1 {
		return nil, fmt.Errorf("save of %d refs, want 1", len(refs))
	}
	head := refs[0] + "\n"
	r := &trackedReader{Reader: io.MultiReader(strings.NewReader(head), io.LimitReader(zeros{}, int64(f.images[refs[0]]-len(head))))}
	f.saved = append(f.saved, r)
	return r, nil
}

func (f *fakeImages) ImageLoad(_ context.Context, input io.Reader, opts ...client.ImageLoadOption) (image.LoadResponse, error) {
	if f.loadErr != nil {
		return image.LoadResponse{}, f.loadErr
	}
	// Read as the engine does, in 32 KiB pieces, never all at once.
	br := bufio.NewReaderSize(input, 32<<10)
	ref, err := br.ReadString('\n')
	if err != nil {
		return image.LoadResponse{}, err
	}
	ref = strings.TrimSuffix(ref, "\n")
	size := int64(len(ref) + 1)
	n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{br}, make([]byte, 32<<10))
	if err != nil {
		return image.LoadResponse{}, err
	}
	size += n
	body := fmt.Sprintf(`{"stream":"Loaded image: %s\n"}`+"\n", ref)
	switch {
	case f.loadJSON != "":
		body = f.loadJSON
	case f.loadPlain:
		return image.LoadResponse{Body: io.NopCloser(strings.NewReader("Loaded image: " + ref + "\n"))}, f.add(ref, size)
	case f.loadNoop:
	default:
		_ = f.add(ref, size)
	}
	return image.LoadResponse{Body: io.NopCloser(strings.NewReader(body)), JSON: true}, nil
}

func (f *fakeImages) add(ref string, size int64) error {
	f.images[ref] = int(size)
	f.loaded = append(f.loaded, ref)
	return nil
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

type trackedReader struct {
	io.Reader
	closed bool
}

func (r *trackedReader) Close() error {
	r.closed = true
	return nil
}

type progressCall struct {
	Ref   string
	Bytes int64
}

func TestCopyImages(t *testing.T) {
	const mib = 1 << 20
	tests := []struct {
		name     string
		src, dst fakeImages
		refs     []string
		copied   []string
		progress []progressCall
		err      string // "" for success
	}{
		{name: "copies what is missing", refs: []string{"kindest/node:v1.34.0", "busybox:1", "kindest/node:v1.34.0"},
			src:    fakeImages{images: map[string]int{"kindest/node:v1.34.0": 3*mib + mib/2, "busybox:1": 1000}},
			dst:    fakeImages{images: map[string]int{"busybox:1": 1000}},
			copied: []string{"kindest/node:v1.34.0"},
			// The fake engine reads the ref's line (21 bytes), then 32 KiB at a time.
			progress: []progressCall{{"kindest/node:v1.34.0", mib + 21}, {"kindest/node:v1.34.0", 2*mib + 21}, {"kindest/node:v1.34.0", 3*mib + 21}, {"kindest/node:v1.34.0", 3*mib + mib/2}}},
		{name: "nothing missing", refs: []string{"busybox:1"},
			src: fakeImages{images: map[string]int{"busybox:1": 1000}},
			dst: fakeImages{images: map[string]int{"busybox:1": 1000}}},
		{name: "plain-text load response", refs: []string{"a:1"},
			src:    fakeImages{images: map[string]int{"a:1": 100}},
			dst:    fakeImages{images: map[string]int{}, loadPlain: true},
			copied: []string{"a:1"}, progress: []progressCall{{"a:1", 100}}},
		{name: "missing on the source", refs: []string{"a:1", "b:1"},
			src:    fakeImages{images: map[string]int{"a:1": 100}},
			dst:    fakeImages{images: map[string]int{}},
			copied: []string{"a:1"}, progress: []progressCall{{"a:1", 100}},
			err: "copying image b:1 from host-a to host-b: host-a does not have it"},
		{name: "load reports an error in its stream", refs: []string{"a:1"},
			src: fakeImages{images: map[string]int{"a:1": 100}},
			dst: fakeImages{images: map[string]int{}, loadJSON: `{"stream":"Loading layer"}` + "\n" +
				`{"errorDetail":{"message":"write /var/lib/docker/tmp: no space left on device"},"error":"write /var/lib/docker/tmp: no space left on device"}` + "\n"},
			err: "copying image a:1 from host-a to host-b: loading it on host-b: write /var/lib/docker/tmp: no space left on device"},
		{name: "load response is not JSON", refs: []string{"a:1"},
			src: fakeImages{images: map[string]int{"a:1": 100}},
			dst: fakeImages{images: map[string]int{}, loadJSON: "{\"stream\":"},
			err: "copying image a:1 from host-a to host-b: loading it on host-b: reading the load response: unexpected EOF"},
		{name: "load refused", refs: []string{"a:1"},
			src: fakeImages{images: map[string]int{"a:1": 100}},
			dst: fakeImages{images: map[string]int{}, loadErr: errors.New("500 Internal Server Error")},
			err: "copying image a:1 from host-a to host-b: loading it on host-b: 500 Internal Server Error"},
		{name: "load adds nothing", refs: []string{"a:1"},
			src:      fakeImages{images: map[string]int{"a:1": 100}},
			dst:      fakeImages{images: map[string]int{}, loadNoop: true},
			progress: []progressCall{{"a:1", 100}},
			err:      "copying image a:1 from host-a to host-b: host-b still lacks it after a load that reported no error"},
		{name: "save fails", refs: []string{"a:1"},
			src: fakeImages{images: map[string]int{"a:1": 100}, saveErr: errors.New("EOF")},
			dst: fakeImages{images: map[string]int{}},
			err: "copying image a:1 from host-a to host-b: saving it on host-a: EOF"},
		{name: "destination unreachable", refs: []string{"a:1"},
			src: fakeImages{images: map[string]int{"a:1": 100}},
			dst: fakeImages{images: map[string]int{}, inspectErr: errors.New("connection refused")},
			err: "copying image a:1 from host-a to host-b: inspecting it on host-b: connection refused"},
		{name: "source unreachable", refs: []string{"a:1"},
			src: fakeImages{images: map[string]int{"a:1": 100}, inspectErr: errors.New("connection refused")},
			dst: fakeImages{images: map[string]int{}},
			err: "copying image a:1 from host-a to host-b: inspecting it on host-a: connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, dst := tt.src, tt.dst
			src.name, dst.name = "host-a", "host-b"
			var calls []progressCall
			copied, err := CopyImages(context.Background(), &src, &dst, tt.refs, func(ref string, n int64) {
				calls = append(calls, progressCall{ref, n})
			})
			if tt.err == "" && err != nil || tt.err != "" && (err == nil || err.Error() != tt.err) {
				t.Fatalf("error %v, want %q", err, tt.err)
			}
			if d := cmp.Diff(tt.copied, copied); d != "" {
				t.Errorf("copied (-want +got):\n%s", d)
			}
			if d := cmp.Diff(tt.progress, calls); d != "" {
				t.Errorf("progress (-want +got):\n%s", d)
			}
			for _, ref := range copied {
				if dst.images[ref] != src.images[ref] {
					t.Errorf("%s: %d bytes on the destination, %d on the source", ref, dst.images[ref], src.images[ref])
				}
			}
			for i, r := range src.saved {
				if !r.closed {
					t.Errorf("save stream %d left open", i)
				}
			}
		})
	}
}

func TestCopyImagesNilProgress(t *testing.T) {
	src := &fakeImages{name: "a", images: map[string]int{"x:1": 5 << 20}}
	dst := &fakeImages{name: "b", images: map[string]int{}}
	copied, err := CopyImages(context.Background(), src, dst, []string{"x:1"}, nil)
	if err != nil || len(copied) != 1 || !bytes.Equal([]byte(dst.loaded[0]), []byte("x:1")) {
		t.Errorf("CopyImages = %v, %v; loaded %v", copied, err, dst.loaded)
	}
}
