package arch

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/fluidos-lab/testbed/"

type pkg struct {
	ImportPath string
	Dir        string
	Imports    []string
	Deps       []string
	GoFiles    []string
}

// packages lists every package of the module with its direct imports and
// its transitive dependencies (go list -deps, without tests).
func packages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = "../.."
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("go list: %v\n%s", err, errb.String())
	}
	var pkgs []pkg
	dec := json.NewDecoder(&out)
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func rel(path string) string { return strings.TrimPrefix(path, module) }

func under(path, prefix string) bool {
	r := rel(path)
	return r == prefix || strings.HasPrefix(r, prefix+"/")
}

// TestImportDirection: dependencies point one way. results and scenarios
// import nothing from provision; topology only the YAML loader; results
// nothing from scenarios; provision nothing from scenarios or results;
// internal implementations nothing from provision, scenarios, results or
// cmd; nothing imports cmd.
func TestImportDirection(t *testing.T) {
	rules := []struct {
		from      string
		forbidden []string
	}{
		{"results", []string{"provision", "scenarios", "cmd"}},
		{"scenarios", []string{"provision", "cmd"}},
		{"topology", []string{"provision", "scenarios", "results", "cmd", "charts"}},
		{"provision", []string{"scenarios", "results", "cmd"}},
		{"internal", []string{"provision", "scenarios", "results", "cmd"}},
		{"charts", []string{"provision", "scenarios", "results", "cmd", "internal"}},
	}
	checked := 0
	for _, p := range packages(t) {
		for _, r := range rules {
			if !under(p.ImportPath, r.from) {
				continue
			}
			checked++
			for _, d := range p.Deps {
				if !strings.HasPrefix(d, module) {
					continue
				}
				for _, f := range r.forbidden {
					if under(d, f) {
						t.Errorf("%s depends on %s: %s must not depend on %s/...", rel(p.ImportPath), rel(d), r.from, f)
					}
				}
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d packages checked: go list returned too little", checked)
	}
}

// TestOneConstructionSite: the Docker client, kubeconfig loading and the
// Docker exec are each written once.
func TestOneConstructionSite(t *testing.T) {
	sites := []struct {
		needle string
		allow  []string // directories (module-relative) allowed to contain it
	}{
		{"client.NewClientWithOpts(", []string{"internal/dockerx"}},
		// The reference agent is its own program (it runs in the lab's pods,
		// in-cluster, with its own rate policy) and reads --kubeconfig itself.
		{"clientcmd.BuildConfigFromFlags(", []string{"internal/kubeclient", "scenarios/agent"}},
		{"kubernetes.NewForConfig(", []string{"internal/kubeclient", "scenarios/agent"}},
		{"ContainerExecAttach(ctx", []string{"internal/dockerx"}},
		{"helm.New(", []string{"cmd/testbed"}},
	}
	root := "../.."
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		dir, _ := filepath.Rel(root, filepath.Dir(path))
		for _, s := range sites {
			if !bytes.Contains(b, []byte(s.needle)) {
				continue
			}
			ok := false
			for _, a := range s.allow {
				ok = ok || dir == a || strings.HasPrefix(dir, a+"/")
			}
			if !ok {
				t.Errorf("%s: %s outside %v", path, s.needle, s.allow)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// MaxFunctionLines bounds every function outside tests.
const MaxFunctionLines = 80

// TestFunctionSize: no function outside tests is longer than
// MaxFunctionLines lines (declaration to closing brace).
func TestFunctionSize(t *testing.T) {
	type long struct {
		where string
		lines int
	}
	var found []long
	for _, p := range packages(t) {
		for _, f := range p.GoFiles {
			path := filepath.Join(p.Dir, f)
			fs := token.NewFileSet()
			file, err := parser.ParseFile(fs, path, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, decl := range file.Decls {
				fn, ok := decl.(*ast.FuncDecl)
				if !ok || fn.Body == nil {
					continue
				}
				n := fs.Position(fn.End()).Line - fs.Position(fn.Pos()).Line + 1
				if n > MaxFunctionLines {
					found = append(found, long{rel(p.ImportPath) + "/" + f + ":" + fn.Name.Name, n})
				}
			}
		}
	}
	sort.Slice(found, func(i, j int) bool { return found[i].lines > found[j].lines })
	for _, l := range found {
		t.Errorf("%s is %d lines (limit %d): split it into named steps", l.where, l.lines, MaxFunctionLines)
	}
}
