package log

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	kindlog "sigs.k8s.io/kind/pkg/log"
)

// Logger logs warnings and errors, and informational lines at a verbosity.
// It is kind's Logger interface, so a Logger is a kind logger.
type Logger = kindlog.Logger

// InfoLogger is one verbosity level of a Logger.
type InfoLogger = kindlog.InfoLogger

// Level is a verbosity level: 0 is always on, 1 is --verbose, 2 and more
// are for debugging (kind's and Helm's own detail).
type Level = kindlog.Level

// Writer is a Logger writing lines to an io.Writer. Lines are
// "WARN message", "ERROR message" or the bare message for info; Prefix (for
// example "kind-cluster=c1") and a timestamp are added when set.
type Writer struct {
	mu        *sync.Mutex
	w         io.Writer
	verbosity Level
	prefix    string
	stamp     bool
	now       func() time.Time
}

var _ Logger = (*Writer)(nil)

// New returns a Logger on w that shows info lines up to verbosity.
func New(w io.Writer, verbosity int) *Writer {
	return &Writer{mu: &sync.Mutex{}, w: w, verbosity: Level(verbosity), now: time.Now}
}

// WithPrefix returns a logger sharing w's output and lock whose lines start
// with prefix (a key=value such as "kind-cluster=c1").
func (l *Writer) WithPrefix(prefix string) *Writer {
	c := *l
	if c.prefix != "" {
		prefix = c.prefix + " " + prefix
	}
	c.prefix = prefix
	return &c
}

// WithTimestamps returns a logger that starts every line with an RFC 3339
// UTC timestamp (for log files).
func (l *Writer) WithTimestamps() *Writer {
	c := *l
	c.stamp = true
	return &c
}

// Verbosity is the highest info level shown.
func (l *Writer) Verbosity() int { return int(l.verbosity) }

func (l *Writer) write(level, msg string) {
	var b strings.Builder
	if l.stamp {
		b.WriteString(l.now().UTC().Format(time.RFC3339Nano))
		b.WriteByte(' ')
	}
	if l.prefix != "" {
		b.WriteString(l.prefix)
		b.WriteByte(' ')
	}
	if level != "" {
		b.WriteString(level)
		b.WriteByte(' ')
	}
	b.WriteString(strings.TrimRight(msg, "\n"))
	b.WriteByte('\n')
	l.mu.Lock()
	defer l.mu.Unlock()
	_, _ = io.WriteString(l.w, b.String())
}

// Warn implements Logger.
func (l *Writer) Warn(message string) { l.write("WARN", message) }

// Warnf implements Logger.
func (l *Writer) Warnf(format string, args ...any) { l.write("WARN", fmt.Sprintf(format, args...)) }

// Error implements Logger.
func (l *Writer) Error(message string) { l.write("ERROR", message) }

// Errorf implements Logger.
func (l *Writer) Errorf(format string, args ...any) { l.write("ERROR", fmt.Sprintf(format, args...)) }

// V implements Logger.
func (l *Writer) V(level Level) InfoLogger {
	return info{l: l, enabled: level <= l.verbosity}
}

type info struct {
	l       *Writer
	enabled bool
}

func (i info) Info(message string) {
	if i.enabled {
		i.l.write("", message)
	}
}

func (i info) Infof(format string, args ...any) {
	if i.enabled {
		i.l.write("", fmt.Sprintf(format, args...))
	}
}

func (i info) Enabled() bool { return i.enabled }

// Noop is a Logger that discards everything.
func Noop() Logger { return kindlog.NoopLogger{} }

// Or returns l, or a Noop logger when l is nil.
func Or(l Logger) Logger {
	if l == nil {
		return Noop()
	}
	return l
}

// HelmDebug adapts a Logger to Helm's action.DebugLog: Helm's debug lines
// are shown at verbosity 2 (--verbosity 2 or more).
func HelmDebug(l Logger) func(format string, v ...any) {
	l = Or(l)
	return func(format string, v ...any) { l.V(2).Infof("helm: "+format, v...) }
}
