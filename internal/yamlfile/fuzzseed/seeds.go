// Package fuzzseed gives every fuzz target of a YAML input file kind the
// same hostile seeds: inputs at and just beyond each of yamlfile's limits
// (alias expansion, nesting depth, size, line and string length) built on
// a valid file of the kind, so that mutation starts next to every limit.
package fuzzseed

import (
	"strings"

	"github.com/fluidos-lab/testbed/internal/yamlfile"
)

// Seeds are hostile variants of valid (a valid file of the fuzzed kind,
// ending in a newline): alias bombs (flat, in a nested map, and one that
// only nests deep once expanded), a self-referencing alias, deep flow and
// block nesting, an over-long line and string, a file just beyond the size
// limit, and a second document.
func Seeds(valid string) [][]byte {
	lim := yamlfile.DefaultLimits
	bomb := func(key, indent string) string {
		s := indent + key + ":\n" + indent + "  a: &a [x, x, x, x, x, x, x, x, x, x]\n"
		prev := "a"
		for _, n := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
			s += indent + "  " + n + ": &" + n + " [" + strings.Repeat("*"+prev+", ", 9) + "*" + prev + "]\n"
			prev = n
		}
		return s
	}
	var block strings.Builder
	block.WriteString("deep:\n")
	for i := 1; i <= lim.MaxDepth+4; i++ {
		block.WriteString(strings.Repeat("  ", i) + "k:\n")
	}
	block.WriteString(strings.Repeat("  ", lim.MaxDepth+5) + "v\n")
	seeds := []string{
		valid + bomb("x", ""),
		valid + "y:\n  values:\n" + bomb("z", "    "),
		valid + "x:\n  a: &a " + strings.Repeat("[", 40) + strings.Repeat("]", 40) + "\n  b: " + strings.Repeat("[", 30) + "*a" + strings.Repeat("]", 30) + "\n",
		valid + "x: &a [*a]\n",
		valid + "x: " + strings.Repeat("[", lim.MaxDepth+1) + strings.Repeat("]", lim.MaxDepth+1) + "\n",
		valid + "x: " + strings.Repeat("{a: ", lim.MaxDepth) + "1" + strings.Repeat("}", lim.MaxDepth) + "\n",
		valid + block.String(),
		valid + "x: " + strings.Repeat("a", lim.MaxLine+1) + "\n",
		valid + "x: |\n" + strings.Repeat("  "+strings.Repeat("a", 1000)+"\n", lim.MaxScalar/1000+2),
		valid + strings.Repeat("#", lim.MaxBytes-len(valid)+1) + "\n",
		valid + "---\n" + valid,
	}
	out := make([][]byte, len(seeds))
	for i, s := range seeds {
		out[i] = []byte(s)
	}
	return out
}
