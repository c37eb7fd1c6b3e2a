package yamlfile

import (
	"fmt"
	"math"
	"math/big"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// IntRange bounds an integer field of a file kind (Spec.Ranges). When
// Decode refuses a number it cannot decode into the field (1e9, in exponent
// form, or 99999999999999999999, beyond the field's type) its error names
// the range; a decoded value is checked against the same range by the file
// kind, with Problem, next to its other checks, so that every problem is
// still reported at once.
type IntRange struct {
	Min, Max int64
	// Name is the field's name in messages; default the last key of its
	// path ("runs" for conditions[2].runs).
	Name string
	// Fix is the error's fix; default "write an integer from Min to Max".
	Fix string
}

// Problem is the message for v in field name when v is outside r, "" when
// it is inside: "runs is 1000000000, must be between 1 and 100000".
func (r IntRange) Problem(name string, v int64) string {
	if v >= r.Min && v <= r.Max {
		return ""
	}
	return r.outside(r.name(name), strconv.FormatInt(v, 10))
}

func (r IntRange) outside(name, value string) string {
	return fmt.Sprintf("%s is %s, must be between %d and %d", name, value, r.Min, r.Max)
}

func (r IntRange) name(def string) string {
	if r.Name != "" {
		return r.Name
	}
	return def
}

func (r IntRange) fix() string {
	if r.Fix != "" {
		return r.Fix
	}
	return fmt.Sprintf("write an integer from %d to %d", r.Min, r.Max)
}

// typeRange is the range of Go integer type t, capped to int64.
func typeRange(t reflect.Type) IntRange {
	switch t.Kind() {
	case reflect.Int8:
		return IntRange{Min: math.MinInt8, Max: math.MaxInt8}
	case reflect.Int16:
		return IntRange{Min: math.MinInt16, Max: math.MaxInt16}
	case reflect.Int32:
		return IntRange{Min: math.MinInt32, Max: math.MaxInt32}
	case reflect.Uint8:
		return IntRange{Max: math.MaxUint8}
	case reflect.Uint16:
		return IntRange{Max: math.MaxUint16}
	case reflect.Uint32:
		return IntRange{Max: math.MaxUint32}
	case reflect.Uint, reflect.Uint64, reflect.Uintptr:
		return IntRange{Max: math.MaxInt64}
	}
	if t.Size() == 4 {
		return IntRange{Min: math.MinInt32, Max: math.MaxInt32}
	}
	return IntRange{Min: math.MinInt64, Max: math.MaxInt64}
}

// rangeFor is the range an integer field at path of Go type t must be in:
// the spec's range for the path (indices written "[]") within t's range,
// and whether the spec declared one.
func (w *walker) rangeFor(path string, t reflect.Type) (IntRange, bool) {
	tr := typeRange(t)
	r, ok := w.ranges[anyIndex.ReplaceAllString(path, "[]")]
	if !ok {
		return tr, false
	}
	r.Min, r.Max = max(r.Min, tr.Min), min(r.Max, tr.Max)
	return r, true
}

var (
	anyIndex = regexp.MustCompile(`\[[0-9]+\]`)
	// exponentForm is a decimal number with an exponent (1e9, 2.5E+3).
	exponentForm = regexp.MustCompile(`^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$`)
	decimalInt   = regexp.MustCompile(`^[-+]?[0-9]+$`)
)

// fieldName is the last key of path, without an index.
func fieldName(path string) string {
	if i := strings.LastIndexByte(path, '.'); i >= 0 {
		path = path[i+1:]
	}
	if i := strings.IndexByte(path, '['); i > 0 {
		path = path[:i]
	}
	return path
}

// checkInt checks that n is an integer that fits type t, and says what is
// wrong with a number that does not, with the field's range (rangeFor):
// one in exponent form (1e9), or one beyond t. The error is located at the
// field, as the file kind's range check locates its own.
func (w *walker) checkInt(n ast.Node, t reflect.Type, pos Position, path string) {
	r, declared := w.rangeFor(path, t)
	name := r.name(fieldName(path))
	text, plain := plainNumber(n)
	switch {
	case !plain:
		w.wrongType(n, pos, path, "an integer")
	case exponentForm.MatchString(text):
		msg := fmt.Sprintf("%s is %s, a number in exponent form%s, not an integer written in digits", name, text, exactInteger(text))
		fix := "write the integer in digits"
		if declared {
			msg += fmt.Sprintf("; it must be between %d and %d", r.Min, r.Max)
			fix = r.fix()
		}
		w.add(w.doc.Position(path), path, msg, fix)
	case decimalInt.MatchString(text):
		v, ok := new(big.Int).SetString(text, 10)
		if tr := typeRange(t); ok && v.IsInt64() && tr.Problem(name, v.Int64()) == "" {
			return // the file kind checks its range
		}
		w.add(w.doc.Position(path), path, r.outside(name, text), r.fix())
	default:
		w.wrongType(n, pos, path, "an integer")
	}
}

// plainNumber is the text of n when n is an unquoted scalar that is or
// looks like a number (integer, float, or a number the parser kept as a
// string because it overflows), and whether it is one.
func plainNumber(n ast.Node) (string, bool) {
	switch t := n.(type) {
	case *ast.IntegerNode:
		switch v := t.Value.(type) {
		case int64:
			return strconv.FormatInt(v, 10), true
		case uint64:
			return strconv.FormatUint(v, 10), true
		}
		return fmt.Sprint(t.Value), true
	case *ast.FloatNode:
		if tk := t.GetToken(); tk != nil {
			return tk.Value, true
		}
		return strconv.FormatFloat(t.Value, 'g', -1, 64), true
	case *ast.StringNode:
		if tk := t.GetToken(); tk != nil && tk.Type == token.StringType {
			return t.Value, exponentForm.MatchString(t.Value) || decimalInt.MatchString(t.Value)
		}
	}
	return "", false
}

// exactInteger is " (1000000000)" for a number in exponent form that is an
// integer of at most 40 digits, else "" (the exponent of a hostile 1e999999999
// is never expanded).
func exactInteger(text string) string {
	i := strings.IndexAny(text, "eE")
	exp, err := strconv.Atoi(strings.TrimPrefix(text[i+1:], "+"))
	if err != nil || exp > 40 || exp < -40 {
		return ""
	}
	v, ok := new(big.Rat).SetString(text)
	if !ok || !v.IsInt() || len(v.Num().String()) > 40 {
		return ""
	}
	return " (" + v.Num().String() + ")"
}

// checkExponentFloat accepts text, a number in exponent form the parser
// kept as a string (1e9), for a float field, unless it is beyond float64.
func (w *walker) checkExponentFloat(text, path string) {
	if _, err := strconv.ParseFloat(text, 64); err != nil {
		w.add(w.doc.Position(path), path, fmt.Sprintf("%s is %s, beyond the largest number (about 1.8e308)", fieldName(path), text), "write a smaller number")
	}
}
