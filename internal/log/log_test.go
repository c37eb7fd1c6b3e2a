package log

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestWriter(t *testing.T) {
	tests := []struct {
		name      string
		verbosity int
		log       func(l *Writer)
		want      string
	}{
		{"warn always", 0, func(l *Writer) { l.Warnf("w %d", 1) }, "WARN w 1\n"},
		{"error always", 0, func(l *Writer) { l.Error("e") }, "ERROR e\n"},
		{"info hidden at 0", 0, func(l *Writer) { l.V(1).Info("hidden") }, ""},
		{"info shown at its level", 1, func(l *Writer) { l.V(1).Infof("i %s", "x") }, "i x\n"},
		{"level 0 info always", 0, func(l *Writer) { l.V(0).Info("shown") }, "shown\n"},
		{"prefix", 0, func(l *Writer) { l.WithPrefix("kind-cluster=c1").Warn("w") }, "kind-cluster=c1 WARN w\n"},
		{"nested prefix", 0, func(l *Writer) { l.WithPrefix("a=1").WithPrefix("b=2").Error("e") }, "a=1 b=2 ERROR e\n"},
		{"trailing newline trimmed", 1, func(l *Writer) { l.V(1).Info("x\n") }, "x\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			tc.log(New(&b, tc.verbosity))
			if b.String() != tc.want {
				t.Errorf("got %q, want %q", b.String(), tc.want)
			}
		})
	}
}

func TestEnabledAndTimestamps(t *testing.T) {
	var b bytes.Buffer
	l := New(&b, 1)
	if !l.V(1).Enabled() || l.V(2).Enabled() {
		t.Error("V(1) must be enabled and V(2) not at verbosity 1")
	}
	ts := l.WithTimestamps()
	ts.now = func() time.Time { return time.Date(2026, 12, 2, 7, 0, 0, 0, time.UTC) }
	ts.Warn("w")
	if got := b.String(); got != "2026-12-02T07:00:00Z WARN w\n" {
		t.Errorf("got %q", got)
	}
}

func TestHelmDebug(t *testing.T) {
	var b bytes.Buffer
	HelmDebug(New(&b, 1))("hidden %d", 1)
	if b.Len() != 0 {
		t.Errorf("helm debug shown at verbosity 1: %q", b.String())
	}
	HelmDebug(New(&b, 2))("shown %d", 2)
	if !strings.Contains(b.String(), "helm: shown 2") {
		t.Errorf("got %q", b.String())
	}
	HelmDebug(nil)("no panic on a nil logger")
	Or(nil).Warn("noop")
}
