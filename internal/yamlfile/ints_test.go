package yamlfile

import (
	"testing"
)

type intDoc struct {
	APIVersion string  `yaml:"apiVersion"`
	Kind       string  `yaml:"kind"`
	Runs       *int    `yaml:"runs"`
	Seed       int64   `yaml:"seed"`
	Small      int8    `yaml:"small"`
	Counts     []int   `yaml:"counts"`
	Ratio      float64 `yaml:"ratio"`
}

// TestDecodeIntegers: a number that cannot be decoded into an integer
// field says what is wrong with it (exponent form, or beyond the field's
// type) and the field's range, at the field's line; an integer in the
// type's range is decoded and left to the file kind's range check
// (IntRange.Problem gives the same wording). Before, 1e9 and
// 99999999999999999999 read "expected an integer, got a string".
func TestDecodeIntegers(t *testing.T) {
	head := "apiVersion: x/v1\nkind: T\n"
	spec := Spec{APIVersion: "x/v1", Kind: "T", Ranges: map[string]IntRange{
		"runs":     {Min: 1, Max: 100000, Fix: "e.g. runs: 100"},
		"counts[]": {Min: 2, Max: 256, Name: "count"},
	}}
	tests := []struct {
		name, in string
		want     string // the whole error; empty: accepted
	}{
		{"exponent form", "runs: 1e9", "f.yaml:3:1: runs: runs is 1e9, a number in exponent form (1000000000), not an integer written in digits; it must be between 1 and 100000 (fix: e.g. runs: 100)"},
		{"exponent form, capital and signed", "runs: 1E+3", "f.yaml:3:1: runs: runs is 1E+3, a number in exponent form (1000), not an integer written in digits; it must be between 1 and 100000 (fix: e.g. runs: 100)"},
		{"exponent form the parser takes for a float", "runs: 1.0e9", "f.yaml:3:1: runs: runs is 1.0e9, a number in exponent form (1000000000), not an integer written in digits; it must be between 1 and 100000 (fix: e.g. runs: 100)"},
		{"exponent form, not an integer", "runs: 1e-3", "f.yaml:3:1: runs: runs is 1e-3, a number in exponent form, not an integer written in digits; it must be between 1 and 100000 (fix: e.g. runs: 100)"},
		{"huge exponent is not expanded", "runs: 1e999999999", "f.yaml:3:1: runs: runs is 1e999999999, a number in exponent form, not an integer written in digits; it must be between 1 and 100000 (fix: e.g. runs: 100)"},
		{"beyond int64", "runs: 99999999999999999999", "f.yaml:3:1: runs: runs is 99999999999999999999, must be between 1 and 100000 (fix: e.g. runs: 100)"},
		{"below int64", "runs: -99999999999999999999", "f.yaml:3:1: runs: runs is -99999999999999999999, must be between 1 and 100000 (fix: e.g. runs: 100)"},
		{"beyond int64, parsed as uint64", "runs: 18446744073709551615", "f.yaml:3:1: runs: runs is 18446744073709551615, must be between 1 and 100000 (fix: e.g. runs: 100)"},
		{"in int64, out of range: left to the file kind", "runs: 1000000000", ""},
		{"no declared range: the type's", "seed: 1e30", "f.yaml:3:1: seed: seed is 1e30, a number in exponent form (1000000000000000000000000000000), not an integer written in digits (fix: write the integer in digits)"},
		{"beyond int64 without a declared range", "seed: 9223372036854775808", "f.yaml:3:1: seed: seed is 9223372036854775808, must be between -9223372036854775808 and 9223372036854775807 (fix: write an integer from -9223372036854775808 to 9223372036854775807)"},
		{"beyond a small type", "small: 300", "f.yaml:3:1: small: small is 300, must be between -128 and 127 (fix: write an integer from -128 to 127)"},
		{"list item with a named range", "counts: [2, 1e3]", "f.yaml:3:13: counts[1]: count is 1e3, a number in exponent form (1000), not an integer written in digits; it must be between 2 and 256 (fix: write an integer from 2 to 256)"},
		{"a fraction stays a wrong type", "runs: 1.5", "f.yaml:3:7: runs: expected an integer, got a number (1.5) (fix: write an integer here)"},
		{"a quoted number stays a string", `runs: "1e9"`, "f.yaml:3:7: runs: expected an integer, got a string (1e9) (fix: write an integer here)"},
		{"a word stays a string", "runs: many", "f.yaml:3:7: runs: expected an integer, got a string (many) (fix: write an integer here)"},
		{"hexadecimal is an integer", "runs: 0x10", ""},
		{"a float field takes exponent form", "ratio: 1e9", ""},
		{"a float field refuses one beyond float64", "ratio: 1e400", "f.yaml:3:1: ratio: ratio is 1e400, beyond the largest number (about 1.8e308) (fix: write a smaller number)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out intDoc
			_, err := Decode("f.yaml", []byte(head+tt.in+"\n"), spec, &out)
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Fatalf("err = %v\nwant %s", err, tt.want)
			case tt.in == "ratio: 1e9" && out.Ratio != 1e9, tt.in == "runs: 0x10" && *out.Runs != 16:
				t.Fatalf("decoded %+v", out)
			}
		})
	}
}

func TestIntRangeProblem(t *testing.T) {
	r := IntRange{Min: 1, Max: 100000}
	tests := []struct {
		v    int64
		want string
	}{
		{1, ""},
		{100000, ""},
		{0, "runs is 0, must be between 1 and 100000"},
		{1000000000, "runs is 1000000000, must be between 1 and 100000"},
	}
	for _, tt := range tests {
		if got := r.Problem("runs", tt.v); got != tt.want {
			t.Errorf("Problem(%d) = %q, want %q", tt.v, got, tt.want)
		}
	}
	if got := (IntRange{Min: 2, Max: 3, Name: "cluster count"}).Problem("clusters", 4); got != "cluster count is 4, must be between 2 and 3" {
		t.Errorf("named: %q", got)
	}
}
