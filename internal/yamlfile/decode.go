package yamlfile

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// Position is a 1-based line and column in a file.
type Position struct {
	Line   int `json:"line"`
	Column int `json:"column"`
}

// Document is a decoded YAML file with an index from field path
// ("clusters.count", "extraCharts[0].name", "clusters.overrides.node-03")
// to the position where the field's key (or sequence item) starts, so that
// semantic validation after decoding can still report file:line:col.
type Document struct {
	File      string
	positions map[string]Position
}

// NewDocument is an empty Document of file (for a value built in code
// rather than decoded: every position is 1:1).
func NewDocument(file string) *Document {
	return &Document{File: file, positions: map[string]Position{}}
}

// Has reports whether path was present in the file.
func (d *Document) Has(path string) bool {
	_, ok := d.positions[path]
	return ok
}

// Position returns where path is, or where its nearest present ancestor is
// when the field was omitted (its default applies); 1:1 when nothing matches.
func (d *Document) Position(path string) Position {
	for p := path; p != ""; p = parentPath(p) {
		if pos, ok := d.positions[p]; ok {
			return pos
		}
	}
	return Position{Line: 1, Column: 1}
}

// Error returns a FieldError located at path.
func (d *Document) Error(path, message, fix string) *FieldError {
	pos := d.Position(path)
	return &FieldError{File: d.File, Line: pos.Line, Column: pos.Column, Path: path, Message: message, Fix: fix}
}

// parentPath strips the last ".key" or "[i]" segment.
func parentPath(p string) string {
	if strings.HasSuffix(p, "]") {
		if i := strings.LastIndexByte(p, '['); i >= 0 {
			return p[:i]
		}
	}
	if i := strings.LastIndexByte(p, '.'); i >= 0 {
		return p[:i]
	}
	return ""
}

func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// Spec says what kind of document a file must hold.
type Spec struct {
	APIVersion, Kind string
	// Example is a file a user can start from, named in the fix of an
	// empty-file error (e.g. topology/2-nodes.yaml).
	Example string
	// Limits bound the input; zero fields take DefaultLimits.
	Limits Limits
	// Ranges are the ranges of integer fields by path, any list index
	// written "[]" ("runs", "conditions[].runs", "clusters[]"): Decode's
	// error for a number it cannot decode into such a field (1e9,
	// 99999999999999999999) names its range, and the file kind checks the
	// decoded values against the same ranges (IntRange.Problem). Any other
	// integer field's range is its Go type's.
	Ranges map[string]IntRange
}

// Decode parses data (the content of file) as exactly one YAML mapping
// whose apiVersion and kind must equal the spec's, then decodes it into
// out (a pointer to a struct whose fields carry `yaml` tags). Unknown
// fields, wrong types and duplicate keys are all reported together as an
// ErrorList of located FieldErrors; so are empty files, binary data, tabs,
// syntax errors and input beyond the limits (size, line and string length,
// nesting, alias expansion), which are checked before anything is decoded.
// On success the returned Document locates every field.
func Decode(file string, data []byte, spec Spec, out any) (*Document, error) {
	apiVersion, kind := spec.APIVersion, spec.Kind
	lim := spec.Limits.withDefaults()
	d := &Document{File: file, positions: map[string]Position{}}
	data = bytes.TrimPrefix(data, []byte("\ufeff")) // a UTF-8 byte order mark from some editors
	if fe := checkText(file, data, lim, spec.Example); fe != nil {
		return d, ErrorList{fe}
	}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return d, ErrorList{yamlError(file, data, "", err)}
	}
	var docs []*ast.DocumentNode
	for _, doc := range f.Docs {
		if doc != nil && doc.Body != nil {
			docs = append(docs, doc)
		}
	}
	if len(docs) == 0 {
		return d, ErrorList{emptyError(file, spec.Example)}
	}
	if len(docs) > 1 {
		pos := nodePos(docs[1].Body)
		return d, ErrorList{{File: file, Line: pos.Line, Column: pos.Column,
			Message: "the file holds more than one YAML document",
			Fix:     "keep one " + kind + " per file and remove the extra '---' section"}}
	}
	root := unwrap(docs[0].Body)
	m, ok := root.(*ast.MappingNode)
	if !ok {
		pos := nodePos(root)
		return d, ErrorList{{File: file, Line: pos.Line, Column: pos.Column,
			Message: fmt.Sprintf("the document is %s, not a mapping", describe(root)),
			Fix:     fmt.Sprintf("start the file with 'apiVersion: %s' and 'kind: %s' on their own lines", apiVersion, kind)}}
	}
	if errs := checkTypeMeta(file, m, apiVersion, kind); len(errs) > 0 {
		return d, errs
	}
	w := &walker{doc: d, maxDepth: lim.MaxDepth, ranges: spec.Ranges}
	w.checkTags(root, 0)
	if len(w.errs) > 0 {
		return d, w.errs.Sorted()
	}
	if fe := checkExpansion(file, docs[0].Body, lim); fe != nil {
		return d, ErrorList{fe}
	}
	w.walk(root, reflect.TypeOf(out), "")
	if len(w.errs) > 0 {
		return d, w.errs.Sorted()
	}
	if err := nodeToValue(root, out); err != nil {
		return d, ErrorList{yamlError(file, data, "", err)}
	}
	return d, nil
}

// nodeToValue decodes strictly, turning a decoder panic (go-yaml has had
// nil-node bugs) into an error so no input can crash the caller.
func nodeToValue(root ast.Node, out any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the YAML decoder failed on this document (%v)", r)
		}
	}()
	return yaml.NodeToValue(root, out, yaml.DisallowUnknownField())
}

// standardTags are the YAML core-schema tags a file may use.
var standardTags = map[string]bool{"!!str": true, "!!int": true, "!!float": true, "!!bool": true, "!!null": true, "!!map": true, "!!seq": true}

// checkTags rejects custom tags and empty tagged nodes anywhere in the tree.
func (w *walker) checkTags(n ast.Node, depth int) {
	if n == nil || reflect.ValueOf(n).IsNil() {
		return
	}
	if depth > w.maxDepth {
		w.add(nodePos(n), "", fmt.Sprintf("the document nests deeper than the limit of %d levels", w.maxDepth), "flatten the structure")
		return
	}
	switch t := n.(type) {
	case *ast.TagNode:
		tag := ""
		if t.Start != nil {
			tag = t.Start.Value
		}
		if !standardTags[tag] {
			w.add(nodePos(n), "", fmt.Sprintf("YAML tag %q is not supported", tag), "remove the tag; plain values are enough")
			return
		}
		if t.Value == nil || reflect.ValueOf(t.Value).IsNil() {
			w.add(nodePos(n), "", fmt.Sprintf("YAML tag %q has no value", tag), "write a value after the tag, or remove the tag")
			return
		}
		w.checkTags(t.Value, depth+1)
	case *ast.AnchorNode:
		w.checkTags(t.Value, depth+1)
	case *ast.MappingNode:
		for _, mv := range t.Values {
			w.checkTags(mv, depth+1)
		}
	case *ast.MappingValueNode:
		if t.Key != nil {
			w.checkTags(t.Key, depth+1)
		}
		w.checkTags(t.Value, depth+1)
	case *ast.SequenceNode:
		for _, v := range t.Values {
			w.checkTags(v, depth+1)
		}
	}
}

func emptyError(file, example string) *FieldError {
	fix := "write the document's apiVersion, kind and fields"
	if example != "" {
		fix = "start from an example such as " + example
	}
	return &FieldError{File: file, Line: 1, Column: 1, Message: "the file is empty", Fix: fix}
}

// checkText rejects inputs that are not YAML text, or beyond the size and
// line-length limits, before the parser sees them.
func checkText(file string, data []byte, lim Limits, example string) *FieldError {
	if len(data) > lim.MaxBytes {
		return &FieldError{File: file, Line: 1, Column: 1,
			Message: fmt.Sprintf("the file is larger than the limit of %d bytes", lim.MaxBytes),
			Fix:     "check that this is the right file"}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return emptyError(file, example)
	}
	line, lineStart := 1, 0
	for off := 0; off <= len(data); off++ {
		if off == len(data) || data[off] == '\n' {
			if off-lineStart > lim.MaxLine {
				return &FieldError{File: file, Line: line, Column: lim.MaxLine + 1,
					Message: fmt.Sprintf("line %d is longer than the limit of %d bytes", line, lim.MaxLine),
					Fix:     "break the value over several lines (a YAML block scalar) or shorten it"}
			}
			line, lineStart = line+1, off+1
		}
	}
	if fe := checkFlowDepth(file, data, lim.MaxDepth); fe != nil {
		return fe
	}
	for off := 0; off < len(data); {
		r, size := utf8.DecodeRune(data[off:])
		if (r == utf8.RuneError && size == 1) || r == 0 || (r < 0x20 && r != '\t' && r != '\n' && r != '\r') {
			pos := offsetPos(data, off)
			return &FieldError{File: file, Line: pos.Line, Column: pos.Column,
				Message: fmt.Sprintf("binary data (byte 0x%02x at offset %d): this is not a YAML text file", data[off], off),
				Fix:     "pass a UTF-8 YAML file"}
		}
		off += size
	}
	return nil
}

func offsetPos(data []byte, off int) Position {
	line := 1 + bytes.Count(data[:off], []byte("\n"))
	col := off - bytes.LastIndexByte(data[:off], '\n')
	return Position{Line: line, Column: col}
}

// yamlError converts a go-yaml error into a located FieldError.
func yamlError(file string, data []byte, path string, err error) *FieldError {
	fe := &FieldError{File: file, Path: path, Message: err.Error(), Fix: "correct the YAML syntax at this position"}
	var ye yaml.Error
	if errors.As(err, &ye) {
		fe.Message = strings.ReplaceAll(ye.GetMessage(), "\t", `\t`)
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			fe.Line, fe.Column = tk.Position.Line, tk.Position.Column
		}
	}
	if fe.Line == 0 {
		fe.Line, fe.Column = 1, 1
	}
	if strings.Contains(fe.Message, "tab") || lineHasTab(data, fe.Line) {
		fe.Fix = "indent with spaces: YAML does not allow tab characters for indentation"
	} else if strings.Contains(fe.Message, "already defined") {
		fe.Fix = "remove or rename one of the duplicate keys"
	} else if strings.Contains(fe.Message, "unexpected end") || strings.Contains(fe.Message, "could not find end") || strings.Contains(fe.Message, "not found") {
		fe.Fix = "the file looks truncated: complete or close the value that starts here"
	}
	return fe
}

func lineHasTab(data []byte, line int) bool {
	lines := bytes.Split(data, []byte("\n"))
	for _, l := range []int{line - 1, line - 2} {
		if l >= 0 && l < len(lines) && bytes.ContainsRune(lines[l], '\t') {
			return true
		}
	}
	return false
}

// checkTypeMeta verifies apiVersion and kind before any strict decoding, so a
// file of another kind gets one clear error instead of many unknown fields.
func checkTypeMeta(file string, m *ast.MappingNode, apiVersion, kind string) ErrorList {
	var errs ErrorList
	found := map[string]*ast.MappingValueNode{}
	for _, mv := range m.Values {
		found[keyString(mv.Key)] = mv
	}
	check := func(field, want string) {
		mv, ok := found[field]
		if !ok {
			pos := nodePos(m)
			errs = append(errs, &FieldError{File: file, Line: pos.Line, Column: pos.Column, Path: field,
				Message: "missing " + field, Fix: fmt.Sprintf("add '%s: %s' at the top of the file", field, want)})
			return
		}
		got := ""
		if s, ok := unwrap(mv.Value).(*ast.StringNode); ok {
			got = s.Value
		}
		if got != want {
			pos := nodePos(mv.Value)
			errs = append(errs, &FieldError{File: file, Line: pos.Line, Column: pos.Column, Path: field,
				Message: fmt.Sprintf("%s is %q, want %q", field, scalarText(mv.Value), want),
				Fix:     fmt.Sprintf("set '%s: %s'", field, want)})
		}
	}
	check("apiVersion", apiVersion)
	check("kind", kind)
	return errs
}

func unwrap(n ast.Node) ast.Node {
	for i := 0; i < 64 && n != nil; i++ {
		switch t := n.(type) {
		case *ast.TagNode:
			n = t.Value
		case *ast.AnchorNode:
			n = t.Value
		default:
			return n
		}
	}
	return n
}

func nodePos(n ast.Node) Position {
	if n == nil || reflect.ValueOf(n).IsNil() {
		return Position{Line: 1, Column: 1}
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return Position{Line: tk.Position.Line, Column: tk.Position.Column}
	}
	return Position{Line: 1, Column: 1}
}

func tokenPos(tk *token.Token) Position {
	if tk == nil || tk.Position == nil {
		return Position{Line: 1, Column: 1}
	}
	return Position{Line: tk.Position.Line, Column: tk.Position.Column}
}

func keyString(k ast.MapKeyNode) string {
	if k == nil {
		return ""
	}
	if s, ok := unwrap(k).(*ast.StringNode); ok {
		return s.Value
	}
	return k.String()
}

func scalarText(n ast.Node) string {
	n = unwrap(n)
	if n == nil {
		return ""
	}
	switch t := n.(type) {
	case *ast.StringNode:
		return t.Value
	case *ast.MappingNode, *ast.SequenceNode, *ast.MappingValueNode:
		return describe(n)
	}
	s := n.String()
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return s
}

func describe(n ast.Node) string {
	switch unwrap(n).(type) {
	case nil:
		return "empty"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode, *ast.LiteralNode:
		return "a string"
	case *ast.IntegerNode:
		return "an integer"
	case *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "a number"
	case *ast.BoolNode:
		return "a boolean"
	case *ast.NullNode:
		return "null"
	case *ast.AliasNode:
		return "an alias"
	}
	return "a " + strings.ToLower(unwrap(n).Type().String())
}

// walker checks a YAML tree against a Go type, collecting every unknown
// field, wrong type and duplicate key, and indexing field positions.
type walker struct {
	doc      *Document
	errs     ErrorList
	maxDepth int
	ranges   map[string]IntRange
}

func (w *walker) add(pos Position, path, msg, fix string) {
	w.errs = append(w.errs, &FieldError{File: w.doc.File, Line: pos.Line, Column: pos.Column, Path: path, Message: msg, Fix: fix})
}

func (w *walker) mappingValues(n ast.Node) ([]*ast.MappingValueNode, bool) {
	switch t := n.(type) {
	case *ast.MappingNode:
		return t.Values, true
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{t}, true
	}
	return nil, false
}

// walk checks node n (at path) against type t: structs and maps field by
// field, slices item by item, scalars by kind. Null nodes, aliases,
// interfaces and self-decoding types are accepted as they are.
func (w *walker) walk(n ast.Node, t reflect.Type, path string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	n = unwrap(n)
	if n == nil {
		return
	}
	switch n.(type) {
	case *ast.NullNode:
		return
	case *ast.AliasNode:
		return // resolved by the decoder
	}
	pos := nodePos(n)
	if t == durationType {
		w.duration(n, pos, path)
		return
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return // the type decodes itself, and reports its own errors
	}
	switch t.Kind() {
	case reflect.Interface:
		return
	case reflect.Struct:
		w.walkStruct(n, t, pos, path)
	case reflect.Map:
		w.walkMap(n, t, pos, path)
	case reflect.Slice:
		w.walkSlice(n, t, pos, path)
	default:
		w.checkScalar(n, t, pos, path)
	}
}

// wrongType reports that n (at pos and path) is not the wanted kind of
// value, quoting the value when it is a scalar.
func (w *walker) wrongType(n ast.Node, pos Position, path, want string) {
	got := describe(n)
	switch n.(type) {
	case *ast.MappingNode, *ast.MappingValueNode, *ast.SequenceNode:
	default:
		got += " (" + scalarText(n) + ")"
	}
	w.add(pos, path, fmt.Sprintf("expected %s, got %s", want, got), "write "+want+" here")
}

// walkStruct checks a mapping against struct t: every key must be one of
// its yaml fields and appear once; merge keys (<<) are left to the decoder.
func (w *walker) walkStruct(n ast.Node, t reflect.Type, pos Position, path string) {
	values, ok := w.mappingValues(n)
	if !ok {
		w.wrongType(n, pos, path, "a mapping")
		return
	}
	fields := yamlFields(t)
	seen := map[string]bool{}
	for _, mv := range values {
		key := keyString(mv.Key)
		kpos := tokenPos(mv.Key.GetToken())
		p := joinPath(path, key)
		if seen[key] {
			w.add(kpos, p, fmt.Sprintf("duplicate field %q", key), "remove one of the two")
			continue
		}
		seen[key] = true
		w.doc.positions[p] = kpos
		if key == "<<" {
			continue
		}
		ft, ok := fields[key]
		if !ok {
			w.add(kpos, p, fmt.Sprintf("unknown field %q", key), suggest(key, fields))
			continue
		}
		w.walk(mv.Value, ft, p)
	}
}

// walkMap checks a mapping against map type t: keys appear once and every
// value matches the element type.
func (w *walker) walkMap(n ast.Node, t reflect.Type, pos Position, path string) {
	values, ok := w.mappingValues(n)
	if !ok {
		w.wrongType(n, pos, path, "a mapping")
		return
	}
	seen := map[string]bool{}
	for _, mv := range values {
		key := keyString(mv.Key)
		kpos := tokenPos(mv.Key.GetToken())
		p := joinPath(path, key)
		if seen[key] {
			w.add(kpos, p, fmt.Sprintf("duplicate key %q", key), "remove one of the two")
			continue
		}
		seen[key] = true
		w.doc.positions[p] = kpos
		w.walk(mv.Value, t.Elem(), p)
	}
}

// walkSlice checks a sequence against slice type t, indexing each item as
// path[i].
func (w *walker) walkSlice(n ast.Node, t reflect.Type, pos Position, path string) {
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		w.wrongType(n, pos, path, "a list")
		return
	}
	for i, item := range seq.Values {
		p := path + "[" + strconv.Itoa(i) + "]"
		w.doc.positions[p] = nodePos(item)
		w.walk(item, t.Elem(), p)
	}
}

// checkScalar checks that n is a scalar of t's kind: strings accept any
// plain scalar, integer kinds integers in their range (checkInt), float
// kinds integers and floats, bools only booleans. Other kinds are not
// checked.
func (w *walker) checkScalar(n ast.Node, t reflect.Type, pos Position, path string) {
	switch t.Kind() {
	case reflect.String:
		switch n.(type) {
		case *ast.StringNode, *ast.LiteralNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode:
		default:
			w.wrongType(n, pos, path, "a string")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		w.checkInt(n, t, pos, path)
	case reflect.Float32, reflect.Float64:
		switch n.(type) {
		case *ast.IntegerNode, *ast.FloatNode:
		default:
			if text, ok := plainNumber(n); ok && exponentForm.MatchString(text) {
				w.checkExponentFloat(text, path)
				return
			}
			w.wrongType(n, pos, path, "a number")
		}
	case reflect.Bool:
		if _, ok := n.(*ast.BoolNode); !ok {
			w.wrongType(n, pos, path, "true or false")
		}
	}
}

var (
	durationType    = reflect.TypeOf(time.Duration(0))
	unmarshalerType = reflect.TypeOf((*yaml.BytesUnmarshaler)(nil)).Elem()
)

// duration accepts a string time.ParseDuration understands ("5s", "1m30s").
func (w *walker) duration(n ast.Node, pos Position, path string) {
	fix := `write a duration such as "5s", "500ms" or "1m30s"`
	sn, ok := n.(*ast.StringNode)
	if !ok {
		w.add(pos, path, fmt.Sprintf("expected a duration, got %s (%s)", describe(n), scalarText(n)), fix)
		return
	}
	if _, err := time.ParseDuration(sn.Value); err != nil {
		w.add(pos, path, fmt.Sprintf("invalid duration %q", sn.Value), fix)
	}
}

// yamlFields maps each yaml key of struct t to its field type.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range yamlFields(ft) {
					out[k] = v
				}
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

// suggest proposes the closest known field, or lists them all.
func suggest(key string, fields map[string]reflect.Type) string {
	names := make([]string, 0, len(fields))
	for k := range fields {
		names = append(names, k)
	}
	sort.Strings(names)
	best, bestD := "", 1<<30
	for _, n := range names {
		if d := editDistance(strings.ToLower(key), strings.ToLower(n)); d < bestD {
			best, bestD = n, d
		}
	}
	if best != "" && bestD <= 2+len(key)/4 {
		return fmt.Sprintf("did you mean %q? valid fields here: %s", best, strings.Join(names, ", "))
	}
	return "valid fields here: " + strings.Join(names, ", ")
}

func editDistance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 1 << 20
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
