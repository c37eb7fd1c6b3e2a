package yamlfile

import (
	"os"
	"strings"
	"testing"
)

type testInner struct {
	Count int    `yaml:"count"`
	Name  string `yaml:"name"`
}

type testDoc struct {
	APIVersion string               `yaml:"apiVersion"`
	Kind       string               `yaml:"kind"`
	Inner      testInner            `yaml:"inner"`
	List       []testInner          `yaml:"list"`
	Map        map[string]testInner `yaml:"map"`
	Any        map[string]any       `yaml:"any"`
	On         bool                 `yaml:"on"`
}

func TestDecodeStrict(t *testing.T) {
	head := "apiVersion: x/v1\nkind: T\n"
	tests := []struct {
		name string
		in   string
		want []string // substrings of the rendered error, in order; empty = success
	}{
		{"ok", head + "inner: {count: 3, name: a}\nlist:\n- name: b\nmap:\n  k: {count: 1}\nany: {x: [1, 2]}\non: true\n", nil},
		{"empty", "", []string{"f.yaml:1:1: the file is empty"}},
		{"whitespace", "  \n\n", []string{"f.yaml:1:1: the file is empty"}},
		{"only comment", "# nothing\n", []string{"f.yaml:1:1: the file is empty"}},
		{"binary", head + "inner:\x00\x01\x02", []string{"f.yaml:3:7: binary data"}},
		{"invalid utf8", "\xff\xfe", []string{"f.yaml:1:1: binary data"}},
		{"wrong kind", "apiVersion: x/v1\nkind: Other\ninner: 3\n", []string{`f.yaml:2:7: kind: kind is "Other", want "T" (fix: set 'kind: T')`}},
		{"missing header", "inner: {}\n", []string{"apiVersion: missing apiVersion", "kind: missing kind"}},
		{"scalar doc", "hello\n", []string{"f.yaml:1:1: the document is a string, not a mapping"}},
		{"unknown and types together", head + "inner:\n  cuont: 3\n  name: [a]\nlist: 4\nmap:\n  k:\n    count: many\non: yes please\n",
			[]string{
				`f.yaml:4:3: inner.cuont: unknown field "cuont" (fix: did you mean "count"?`,
				"f.yaml:5:9: inner.name: expected a string, got a list",
				"f.yaml:6:7: list: expected a list, got an integer (4)",
				"f.yaml:9:12: map.k.count: expected an integer, got a string (many)",
				"f.yaml:10:5: on: expected true or false",
			}},
		{"duplicate", head + "inner:\n  count: 1\n  count: 2\n", []string{`f.yaml:5:3: mapping key "count" already defined at [4:3] (fix: remove or rename one of the duplicate keys)`}},
		{"tabs", head + "inner:\n\tcount: 1\n", []string{"f.yaml:4:", "fix: indent with spaces"}},
		{"truncated", head + "inner: {count: 1, name: \"ab\n", []string{"f.yaml:3:"}},
		{"bom and crlf", "\ufeff" + strings.ReplaceAll(head, "\n", "\r\n") + "inner: [1]\r\n", []string{"f.yaml:3:8: inner: expected a mapping, got a list"}},
		{"too large", head + strings.Repeat("#\n", DefaultLimits.MaxBytes/2), []string{"f.yaml:1:1: the file is larger than the limit of 1048576 bytes"}},
		{"two docs", head + "---\n" + head, []string{"more than one YAML document"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out testDoc
			doc, err := Decode("f.yaml", []byte(tt.in), Spec{APIVersion: "x/v1", Kind: "T"}, &out)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if out.Inner.Count != 3 || out.List[0].Name != "b" || out.Map["k"].Count != 1 || !out.On {
					t.Fatalf("decoded %+v", out)
				}
				if p := doc.Position("list[0].name"); p.Line != 5 || p.Column != 3 {
					t.Errorf("position of list[0].name = %+v", p)
				}
				if p := doc.Position("inner.missing"); p.Line != 3 {
					t.Errorf("fallback position = %+v", p)
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if _, ok := AsErrorList(err); !ok {
				t.Fatalf("error %T is not an ErrorList", err)
			}
			msg := err.Error()
			rest := msg
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error\n%s\ndoes not contain (in order) %q", msg, w)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

func TestDecodeStrictTags(t *testing.T) {
	head := "apiVersion: x/v1\nkind: T\n"
	tests := []struct{ in, want string }{
		{head + "list: !0 #c", `f.yaml:3:7: YAML tag "!0" is not supported`},
		{head + "any: {a: !custom 1}", `f.yaml:3:10: YAML tag "!custom" is not supported`},
	}
	for _, tt := range tests {
		var out testDoc
		_, err := Decode("f.yaml", []byte(tt.in), Spec{APIVersion: "x/v1", Kind: "T"}, &out)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("DecodeStrict(%q) = %v, want %q", tt.in, err, tt.want)
		}
	}
	var out testDoc
	if _, err := Decode("f.yaml", []byte(head+"inner: {name: !!str 12}\n"), Spec{APIVersion: "x/v1", Kind: "T"}, &out); err != nil || out.Inner.Name != "12" {
		t.Errorf("standard tag: %v %+v", err, out)
	}
}

// Inputs beyond the limits are refused before decoding, quickly, with an
// error that names the file, the position and the limit.
func TestDecodeLimits(t *testing.T) {
	head := "apiVersion: x/v1\nkind: T\n"
	bomb := head + "any:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for i, name := range []string{"b", "c", "d", "e", "f", "g", "h", "i"} {
		_ = i
		bomb += "  " + name + ": &" + name + " [" + strings.Repeat("*"+prev+", ", 9) + "*" + prev + "]\n"
		prev = name
	}
	deepFlow := head + "any: {x: " + strings.Repeat("[", 70) + strings.Repeat("]", 70) + "}\n"
	quotedBrackets := head + "inner: {name: '" + strings.Repeat("[", 200) + "'}\n"
	commentBrackets := head + "# " + strings.Repeat("{", 200) + "\ninner: {count: 1}\n"
	deepAlias := head + "any:\n  a: &a " + strings.Repeat("[", 40) + strings.Repeat("]", 40) + "\n  b: &b " + strings.Repeat("[", 30) + "*a" + strings.Repeat("]", 30) + "\n"
	tests := []struct {
		name string
		in   string
		lim  Limits
		want string // empty: accepted
	}{
		{"alias bomb (10^9 nodes from 600 bytes)", bomb, Limits{}, "the document expands to more than 200000 YAML nodes (aliases included) (fix: write the values out"},
		{"a few aliases are fine", head + "any:\n  a: &a {k: v}\n  b: *a\n  c: *a\n", Limits{}, ""},
		{"deep flow nesting", deepFlow, Limits{}, "flow collections ([…] or {…}) nest deeper than the limit of 64 levels"},
		{"brackets in quotes do not count", quotedBrackets, Limits{}, ""},
		{"brackets in comments do not count", commentBrackets, Limits{}, ""},
		{"depth through aliases", deepAlias, Limits{}, "nests deeper than the limit of 64 levels once aliases are expanded"},
		{"long line", head + "inner: {name: " + strings.Repeat("a", 17<<10) + "}\n", Limits{}, "f.yaml:3:16385: line 3 is longer than the limit of 16384 bytes"},
		{"long string", head + "inner:\n  name: |\n" + strings.Repeat("    "+strings.Repeat("a", 1000)+"\n", 70), Limits{}, "a string is longer than the limit of 65536 bytes (fix: shorten the value"},
		{"long quoted string", head + "inner:\n  name: \"" + strings.Repeat(strings.Repeat("a", 1000)+"\\\n  ", 70) + "\"\n", Limits{}, "a string is longer than the limit of 65536 bytes (fix: shorten the value"},
		{"custom size limit", head + "inner: {count: 1}\n", Limits{MaxBytes: 10}, "the file is larger than the limit of 10 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out testDoc
			_, err := Decode("f.yaml", []byte(tt.in), Spec{APIVersion: "x/v1", Kind: "T", Limits: tt.lim}, &out)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v\nwant %q", err, tt.want)
			}
		})
	}
}

func TestReadFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadFile("/dev/zero", 1<<10); !IsTooLarge(err) || !strings.Contains(err.Error(), "/dev/zero is larger than the limit of 1024 bytes") {
		t.Errorf("/dev/zero: %v", err)
	}
	if _, err := ReadFile(dir, 0); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("directory: %v", err)
	}
	if _, err := ReadFile(dir+"/missing", 0); err == nil {
		t.Error("missing file read")
	}
}

// Read reports a failed read as the located error every file kind shares.
func TestRead(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ name, path, want string }{
		{"unbounded", "/dev/zero", "/dev/zero:1:1: the file is larger than the limit of 1048576 bytes (fix: check that this is the right file: a scenario file is a few KiB (the limit is 1 MiB))"},
		{"missing", dir + "/missing.yaml", dir + "/missing.yaml: cannot read the scenario file: open " + dir + "/missing.yaml: no such file or directory (fix: check the path, e.g. scenarios/selftest.yaml)"},
		{"directory", dir, dir + ": cannot read the scenario file: " + dir + " is a directory, not a file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.path == "/dev/zero" {
				if _, err := os.Stat(tt.path); err != nil {
					t.Skip("no /dev/zero")
				}
			}
			_, err := Read(tt.path, "scenario", "scenarios/selftest.yaml")
			if _, ok := AsErrorList(err); !ok || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Read(%s) = %v, want an ErrorList with %q", tt.path, err, tt.want)
			}
		})
	}
}
