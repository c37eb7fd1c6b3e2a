package topology

import (
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
		{"too large", head + strings.Repeat("#", MaxFileSize), []string{"f.yaml:1:1: the file is larger than the 4194304-byte limit"}},
		{"two docs", head + "---\n" + head, []string{"more than one YAML document"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out testDoc
			doc, err := DecodeStrict("f.yaml", []byte(tt.in), "x/v1", "T", &out)
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
		_, err := DecodeStrict("f.yaml", []byte(tt.in), "x/v1", "T", &out)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("DecodeStrict(%q) = %v, want %q", tt.in, err, tt.want)
		}
	}
	var out testDoc
	if _, err := DecodeStrict("f.yaml", []byte(head+"inner: {name: !!str 12}\n"), "x/v1", "T", &out); err != nil || out.Inner.Name != "12" {
		t.Errorf("standard tag: %v %+v", err, out)
	}
}
