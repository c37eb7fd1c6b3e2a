package topology

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// testEnv is a fixed environment so plans are deterministic.
var testEnv = Environment{StateRoot: "/state", CPUs: 4}

// TestGolden loads every testdata/{valid,invalid}-*.yaml: invalid files must
// fail with exactly the errors in the matching .golden file (every line
// located as file:line:col), valid ones must produce the golden plan.
func TestGolden(t *testing.T) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test data: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var got string
			top, err := Load(f, WithEnvironment(testEnv))
			switch {
			case strings.HasPrefix(name, "invalid-"):
				if err == nil {
					t.Fatalf("Load(%s) succeeded, want errors", f)
				}
				list, ok := AsErrorList(err)
				if !ok {
					t.Fatalf("error is %T, want ErrorList: %v", err, err)
				}
				for _, e := range list {
					if e.File != f || e.Line < 1 || e.Column < 1 || e.Message == "" || e.Fix == "" {
						t.Errorf("error not located or without a fix: %#v", e)
					}
				}
				got = err.Error() + "\n"
			case strings.HasPrefix(name, "valid-"):
				if err != nil {
					t.Fatalf("Load(%s): %v", f, err)
				}
				p, err := top.Plan()
				if err != nil {
					t.Fatalf("Plan: %v", err)
				}
				b, err := json.MarshalIndent(p, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				got = string(b) + "\n"
			default:
				t.Fatalf("test file %s must start with valid- or invalid-", name)
			}
			golden := strings.TrimSuffix(f, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("missing golden file (run go test ./topology -run TestGolden -update): %v", err)
			}
			if got != string(want) {
				t.Errorf("%s mismatch\n--- got\n%s--- want\n%s", golden, got, want)
			}
		})
	}
}
