package yamlfile

import (
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"

	"github.com/goccy/go-yaml/ast"
)

// Limits bound what a file may make the decoder do. Every testbed input file
// (topology, scenario, sweep, thresholds) is decoded under them, so a small
// hostile file cannot take the machine's memory or time.
type Limits struct {
	// MaxBytes is the largest file accepted.
	MaxBytes int
	// MaxLine is the longest line, in bytes.
	MaxLine int
	// MaxScalar is the longest string value, in bytes.
	MaxScalar int
	// MaxDepth is the deepest nesting, aliases expanded.
	MaxDepth int
	// MaxNodes is the largest number of YAML nodes the document may have
	// once every alias is expanded (an "alias bomb" of a few hundred bytes
	// expands to billions).
	MaxNodes int
}

// DefaultLimits are generous for real labs (a 256-cluster topology with
// per-cluster values is a few hundred KiB and a few thousand nodes) and far
// below what would hurt the host.
var DefaultLimits = Limits{MaxBytes: 1 << 20, MaxLine: 16 << 10, MaxScalar: 64 << 10, MaxDepth: 64, MaxNodes: 200_000}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	if l.MaxBytes > 0 {
		d.MaxBytes = l.MaxBytes
	}
	if l.MaxLine > 0 {
		d.MaxLine = l.MaxLine
	}
	if l.MaxScalar > 0 {
		d.MaxScalar = l.MaxScalar
	}
	if l.MaxDepth > 0 {
		d.MaxDepth = l.MaxDepth
	}
	if l.MaxNodes > 0 {
		d.MaxNodes = l.MaxNodes
	}
	return d
}

// ReadFile reads at most maxBytes of path (the limit plus one byte, so that
// a larger input is told apart), without ever reading more: /dev/zero or a
// huge file given by mistake is refused with a clear error naming the file
// and the limit. It refuses directories.
func ReadFile(path string, maxBytes int) ([]byte, error) {
	if maxBytes <= 0 {
		maxBytes = DefaultLimits.MaxBytes
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return nil, fmt.Errorf("%s is a directory, not a file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, int64(maxBytes)+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxBytes {
		return nil, &TooLargeError{File: path, Limit: maxBytes}
	}
	return data, nil
}

// TooLargeError is an input beyond its size limit.
type TooLargeError struct {
	File  string
	Limit int
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s is larger than the limit of %d bytes", e.File, e.Limit)
}

// IsTooLarge reports whether err is a TooLargeError.
func IsTooLarge(err error) bool {
	var t *TooLargeError
	return errors.As(err, &t)
}

// expansion counts a document's nodes with every alias expanded, and its
// depth, in one pass over the tree: an anchor's size is computed once and an
// alias adds it without walking it again, so even an exponential alias bomb
// costs time linear in the file.
type expansion struct {
	lim      Limits
	file     string
	anchors  map[string]*ast.AnchorNode
	memo     map[*ast.AnchorNode][2]int // size, height
	inFlight map[*ast.AnchorNode]bool
	err      *FieldError
}

func checkExpansion(file string, root ast.Node, lim Limits) *FieldError {
	e := &expansion{lim: lim, file: file, anchors: map[string]*ast.AnchorNode{},
		memo: map[*ast.AnchorNode][2]int{}, inFlight: map[*ast.AnchorNode]bool{}}
	size, height := e.measure(root)
	if e.err != nil {
		return e.err
	}
	if size > lim.MaxNodes {
		return e.fail(root, fmt.Sprintf("the document expands to more than %d YAML nodes (aliases included)", lim.MaxNodes))
	}
	if height > lim.MaxDepth {
		return e.fail(root, fmt.Sprintf("the document nests deeper than the limit of %d levels once aliases are expanded", lim.MaxDepth))
	}
	return nil
}

func (e *expansion) fail(n ast.Node, msg string) *FieldError {
	return e.failWith(n, msg, "write the values out instead of repeating them through YAML anchors and aliases")
}

func (e *expansion) failWith(n ast.Node, msg, fix string) *FieldError {
	if e.err == nil {
		pos := nodePos(n)
		e.err = &FieldError{File: e.file, Line: pos.Line, Column: pos.Column, Message: msg, Fix: fix}
	}
	return e.err
}

// failScalar reports a string beyond MaxScalar.
func (e *expansion) failScalar(n ast.Node) {
	e.failWith(n, fmt.Sprintf("a string is longer than the limit of %d bytes", e.lim.MaxScalar),
		"shorten the value: an input file holds settings, not data")
}

// measure returns the expanded size and height of n, stopping (with e.err
// set) as soon as a limit is passed.
func (e *expansion) measure(n ast.Node) (size, height int) {
	if e.err != nil || n == nil || reflect.ValueOf(n).IsNil() {
		return 0, 0
	}
	add := func(children ...ast.Node) (int, int) {
		s, h := 1, 0
		for _, c := range children {
			cs, ch := e.measure(c)
			s, h = s+cs, max(h, ch)
			if s > e.lim.MaxNodes {
				e.fail(n, fmt.Sprintf("the document expands to more than %d YAML nodes (aliases included)", e.lim.MaxNodes))
				return s, h + 1
			}
		}
		if h+1 > e.lim.MaxDepth {
			e.fail(n, fmt.Sprintf("the document nests deeper than the limit of %d levels once aliases are expanded", e.lim.MaxDepth))
		}
		return s, h + 1
	}
	switch t := n.(type) {
	case *ast.AnchorNode:
		if t.Name != nil {
			e.anchors[t.Name.String()] = t
		}
		e.inFlight[t] = true
		s, h := e.measure(t.Value)
		delete(e.inFlight, t)
		e.memo[t] = [2]int{s, h}
		return s, h
	case *ast.AliasNode:
		name := ""
		if t.Value != nil {
			name = t.Value.String()
		}
		a, ok := e.anchors[name]
		if !ok {
			return 1, 1 // undefined: the parser or decoder reports it
		}
		if e.inFlight[a] {
			e.fail(n, fmt.Sprintf("alias *%s refers to the anchor it is inside of", name))
			return 0, 0
		}
		m := e.memo[a]
		return m[0], m[1]
	case *ast.TagNode:
		return add(t.Value)
	case *ast.MappingNode:
		children := make([]ast.Node, 0, len(t.Values))
		for _, v := range t.Values {
			children = append(children, v)
		}
		return add(children...)
	case *ast.MappingValueNode:
		return add(t.Key, t.Value)
	case *ast.SequenceNode:
		return add(t.Values...)
	case *ast.StringNode:
		if len(t.Value) > e.lim.MaxScalar {
			e.failScalar(n)
		}
		return 1, 1
	case *ast.LiteralNode:
		if t.Value != nil && len(t.Value.Value) > e.lim.MaxScalar {
			e.failScalar(n)
		}
		return 1, 1
	}
	return 1, 1
}

// checkFlowDepth bounds the nesting of flow collections ([…] and {…})
// before parsing: the YAML parser takes time quadratic in that depth (a
// 200 KB line of brackets takes it half a minute). Brackets inside quoted
// strings and comments do not count.
func checkFlowDepth(file string, data []byte, limit int) *FieldError {
	depth, line, col := 0, 1, 0
	var quote byte
	comment := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		col++
		if c == '\n' {
			line, col, comment = line+1, 0, false
			continue
		}
		switch {
		case comment:
		case quote == '"':
			if c == '\\' {
				i++
				col++
			} else if c == '"' {
				quote = 0
			}
		case quote == '\'':
			if c == '\'' {
				quote = 0
			}
		case c == '#' && (i == 0 || data[i-1] == ' ' || data[i-1] == '\t' || data[i-1] == '\n' || data[i-1] == '\r'):
			comment = true
		case (c == '"' || c == '\'') && startsToken(data, i):
			quote = c
		case c == '[' || c == '{':
			if depth++; depth > limit {
				return &FieldError{File: file, Line: line, Column: col,
					Message: fmt.Sprintf("flow collections ([…] or {…}) nest deeper than the limit of %d levels", limit),
					Fix:     "flatten the structure"}
			}
		case c == ']' || c == '}':
			if depth > 0 {
				depth--
			}
		}
	}
	return nil
}

// startsToken: a quote opens a quoted scalar only at the start of a token.
func startsToken(data []byte, i int) bool {
	if i == 0 {
		return true
	}
	switch data[i-1] {
	case ' ', '\t', '\n', '\r', ':', '[', '{', ',', '-', '?':
		return true
	}
	return false
}

// Read reads the input file at path under DefaultLimits.MaxBytes, as
// ReadFile, and turns a failure into the one located error every file kind
// reports: a file beyond the size limit names the file and the limit (it is
// never read further), any other failure says it cannot be read. what names
// the kind of file ("scenario") and example a file to start from.
func Read(path, what, example string) ([]byte, error) {
	data, err := ReadFile(path, DefaultLimits.MaxBytes)
	if err == nil {
		return data, nil
	}
	fe := &FieldError{File: path, Message: fmt.Sprintf("cannot read the %s file: %v", what, err), Fix: "check the path"}
	if example != "" {
		fe.Fix += ", e.g. " + example
	}
	if IsTooLarge(err) {
		fe.Line, fe.Column = 1, 1
		fe.Message = fmt.Sprintf("the file is larger than the limit of %d bytes", DefaultLimits.MaxBytes)
		fe.Fix = fmt.Sprintf("check that this is the right file: a %s file is a few KiB (the limit is %d MiB)", what, DefaultLimits.MaxBytes>>20)
	}
	return nil, ErrorList{fe}
}
