package provenance

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// ReadInput records an input verbatim, but never more than the limit the
// file was validated under: /dev/zero (or a file swapped for a huge one
// after validation) is refused, not read into the manifest.
func TestReadInputIsBounded(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s.yaml")
	if err := os.WriteFile(p, []byte("kind: Scenario\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	in, err := ReadInput("scenario", p)
	if err != nil || in.Content != "kind: Scenario\n" || len(in.SHA256) != 64 {
		t.Fatalf("ReadInput: %+v, %v", in, err)
	}
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	if _, err := ReadInput("scenario", "/dev/zero"); err == nil || !strings.Contains(err.Error(), "/dev/zero is larger than the limit of 1048576 bytes") {
		t.Errorf("ReadInput(/dev/zero): %v", err)
	}
}
