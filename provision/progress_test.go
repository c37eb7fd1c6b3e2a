package provision

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPlainProgress(t *testing.T) {
	var b bytes.Buffer
	p := &PlainProgress{W: &b}
	p.Start("c1", StepCreate)
	p.Done("c1", StepCreate, "created", 1500*time.Millisecond, nil)
	p.Done("c2", StepMultus, "", time.Second, errors.New("boom"))
	p.Logf("note %d", 1)
	want := "c1               create    ...\n" +
		"c1               create    ✓ created (1.5s)\n" +
		"c2               multus    ✗ boom (1s)\n" +
		"note 1\n"
	if b.String() != want {
		t.Errorf("got:\n%q\nwant:\n%q", b.String(), want)
	}
}

func TestTTYProgress(t *testing.T) {
	var b bytes.Buffer
	p := NewTTYProgress(&b, []string{"c2", "c1"})
	p.Start("c1", StepCreate)
	first := b.String()
	// One line per cluster, sorted, no cursor movement on the first draw.
	if strings.Contains(first, "\x1b[2A") || strings.Index(first, "c1") > strings.Index(first, "c2") || strings.Count(first, "\n") != 2 {
		t.Errorf("first draw %q", first)
	}
	b.Reset()
	p.Done("c1", StepCreate, "created", time.Second, nil)
	if !strings.HasPrefix(b.String(), "\x1b[2A") || !strings.Contains(b.String(), "✓ created (1s)") {
		t.Errorf("redraw %q", b.String())
	}
	b.Reset()
	p.Logf("hello")
	// The message goes above the block, which is redrawn below it.
	if !strings.HasPrefix(b.String(), "\x1b[2A\x1b[2Khello\n") || strings.Count(b.String(), "\n") != 3 {
		t.Errorf("log %q", b.String())
	}
}
