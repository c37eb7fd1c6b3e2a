package preflight

import (
	"context"
	"fmt"
	"time"
)

// Status is the outcome of one check.
type Status string

// Statuses, from best to worst.
const (
	Pass Status = "pass"
	Warn Status = "warn"
	Fail Status = "fail"
)

// Result is what a check found. Fix is the exact action for a warn or fail.
type Result struct {
	Status Status `json:"status"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// Check is one preflight check. Run must honour ctx and never panic.
type Check interface {
	Name() string
	Run(ctx context.Context) Result
}

// CheckFunc adapts a function to Check.
type CheckFunc struct {
	CheckName string
	Fn        func(ctx context.Context) Result
}

// Name implements Check.
func (c CheckFunc) Name() string { return c.CheckName }

// Run implements Check.
func (c CheckFunc) Run(ctx context.Context) Result { return c.Fn(ctx) }

// Outcome is one check's name and result.
type Outcome struct {
	Name string `json:"name"`
	Result
}

// Report is every check's outcome, in the order the checks were given.
type Report struct {
	Checks []Outcome `json:"checks"`
	Passed int       `json:"passed"`
	Warned int       `json:"warned"`
	Failed int       `json:"failed"`
}

// OK reports whether no check failed.
func (r *Report) OK() bool { return r.Failed == 0 }

// Run runs the checks one after the other (several touch Docker; their
// order is the report's order), each bounded by timeout when it is > 0.
// A panicking check is reported as failed.
func Run(ctx context.Context, checks []Check, timeout time.Duration) *Report {
	r := &Report{}
	for _, c := range checks {
		res := runOne(ctx, c, timeout)
		switch res.Status {
		case Pass:
			r.Passed++
		case Warn:
			r.Warned++
		default:
			res.Status = Fail
			r.Failed++
		}
		r.Checks = append(r.Checks, Outcome{Name: c.Name(), Result: res})
	}
	return r
}

func runOne(ctx context.Context, c Check, timeout time.Duration) (res Result) {
	if err := ctx.Err(); err != nil {
		return Result{Status: Fail, Detail: "not run: " + err.Error(), Fix: "run testbed doctor again"}
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	defer func() {
		if p := recover(); p != nil {
			res = Result{Status: Fail, Detail: fmt.Sprintf("check crashed: %v", p), Fix: "report this bug"}
		}
	}()
	return c.Run(ctx)
}
