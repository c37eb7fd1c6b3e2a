package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunCommandArguments(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("apiVersion: testbed.dev/v1alpha1\nkind: Scenario\nmetadata: {name: x}\nnodeA: a\nrunz: 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"run"}, "need exactly one SCENARIO"},
		{[]string{"run", "a.yaml", "--resume", dir}, "not both"},
		{[]string{"run", "a.yaml", "-o", "xml"}, "unknown output format"},
		{[]string{"run", bad}, bad + ":5:1"},
		{[]string{"run", "--resume", filepath.Join(dir, "none")}, "resuming"},
	}
	for _, tc := range cases {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var out, errOut bytes.Buffer
			cmd := NewRootCommand(IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
			cmd.SetArgs(tc.args)
			err := cmd.ExecuteContext(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
