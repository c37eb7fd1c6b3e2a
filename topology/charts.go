package topology

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// builtinChartPrefix marks a chart embedded in the testbed binary (see
// internal/helm.BuiltinPrefix); it is not a path.
const builtinChartPrefix = "builtin:"

// LocalCharts are the charts the topology installs from a local directory or
// archive, keyed by the field that names them ("fluidos.chart",
// "extraCharts[1].chart"), in file order.
func (t *Topology) LocalCharts() (fields, paths []string) {
	local := func(chart, repo string) bool {
		return chart != "" && repo == "" && !strings.HasPrefix(chart, "oci://") && !strings.HasPrefix(chart, builtinChartPrefix)
	}
	if t.fluidosEnabled() && local(t.Fluidos.Chart, t.Fluidos.Repo) {
		fields, paths = append(fields, "fluidos.chart"), append(paths, t.Fluidos.Chart)
	}
	for i, c := range t.ExtraCharts {
		if local(c.Chart, c.Repo) {
			fields, paths = append(fields, "extraCharts["+strconv.Itoa(i)+"].chart"), append(paths, c.Chart)
		}
	}
	return fields, paths
}

// CheckChartPaths resolves every local chart as up installs it (a relative
// path against the current directory) and reports, located at its field,
// one that is missing, is a directory without a Chart.yaml, or is neither a
// directory nor a regular file (a packaged .tgz).
func (t *Topology) CheckChartPaths() ErrorList {
	var errs ErrorList
	fields, paths := t.LocalCharts()
	for i, p := range paths {
		if problem := chartPathProblem(p); problem != "" {
			errs = append(errs, t.locate(fields[i], fmt.Sprintf("local chart %s %s", p, problem),
				"run from the directory the path is relative to (charts/… paths: the repository root), give an absolute path, or install the chart from a repository (repo and version)"))
		}
	}
	return errs
}

// chartPathProblem describes what makes p unusable as a local chart; "" when
// it is usable.
func chartPathProblem(p string) string {
	where := p
	if abs, err := filepath.Abs(p); err == nil && abs != p {
		where = abs
	}
	st, err := os.Stat(p)
	switch {
	case os.IsNotExist(err):
		return "does not exist (resolved to " + where + ", as up resolves it)"
	case err != nil:
		return "cannot be read: " + err.Error()
	case st.IsDir():
		if _, err := os.Stat(filepath.Join(p, "Chart.yaml")); err != nil {
			return "is a directory without a Chart.yaml (resolved to " + where + ")"
		}
	case !st.Mode().IsRegular():
		return "is neither a chart directory nor a packaged chart (.tgz)"
	}
	return ""
}

// locate is an error at field path of the topology's file (1:1 when it was
// not loaded from a file).
func (t *Topology) locate(path, msg, fix string) *FieldError {
	if t.doc != nil {
		return t.doc.Error(path, msg, fix)
	}
	return &FieldError{File: t.file, Line: 1, Column: 1, Path: path, Message: msg, Fix: fix}
}
