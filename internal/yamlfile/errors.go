package yamlfile

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// FieldError is one problem in an input file, located by line and column
// (1-based; 0 when unknown) and by the dotted field path inside the document
// (e.g. "clusters.count", "extraCharts[1].version").
type FieldError struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Path    string `json:"path,omitempty"`
	Message string `json:"message"`
	// Fix says how to correct the input; empty when obvious from Message.
	Fix string `json:"fix,omitempty"`
}

// Error renders the error as `file:line:col: path: message (fix: ...)`.
func (e *FieldError) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d:%d", e.Line, e.Column)
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	if e.Fix != "" {
		b.WriteString(" (fix: ")
		b.WriteString(e.Fix)
		b.WriteString(")")
	}
	return b.String()
}

// ErrorList is every problem found in one or more files. It is an error
// only when non-empty; use Err to get a nil error for an empty list.
type ErrorList []*FieldError

// Error renders one error per line, sorted by file and position.
func (l ErrorList) Error() string {
	s := l.Sorted()
	lines := make([]string, len(s))
	for i, e := range s {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Sorted returns a copy ordered by file, line, column, then path.
func (l ErrorList) Sorted() ErrorList {
	s := append(ErrorList(nil), l...)
	sort.SliceStable(s, func(i, j int) bool {
		a, b := s[i], s[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		return a.Path < b.Path
	})
	return s
}

// Err returns nil for an empty list, else the sorted list.
func (l ErrorList) Err() error {
	if len(l) == 0 {
		return nil
	}
	return l.Sorted()
}

// AsErrorList extracts an ErrorList (or a single FieldError) from err.
func AsErrorList(err error) (ErrorList, bool) {
	var l ErrorList
	if errors.As(err, &l) {
		return l, true
	}
	var fe *FieldError
	if errors.As(err, &fe) {
		return ErrorList{fe}, true
	}
	return nil, false
}
