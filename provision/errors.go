package provision

import (
	"errors"
	"fmt"
)

// StepError is the failure of one step of Up or Down, for one cluster (or
// for the lab when Cluster is empty). Callers find it with errors.As; the
// message names the cluster and the step once.
type StepError struct {
	Cluster string
	Step    string
	Err     error
}

func (e *StepError) Error() string {
	if e.Cluster == "" {
		return fmt.Sprintf("%s: %v", e.Step, e.Err)
	}
	return fmt.Sprintf("cluster %q: %s: %v", e.Cluster, e.Step, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

// StepErrors lists every StepError inside err (errors.Join trees included),
// in order.
func StepErrors(err error) []*StepError {
	var out []*StepError
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		if se, ok := err.(*StepError); ok {
			out = append(out, se)
			return
		}
		switch u := err.(type) {
		case interface{ Unwrap() []error }:
			for _, e := range u.Unwrap() {
				walk(e)
			}
		case interface{ Unwrap() error }:
			walk(u.Unwrap())
		}
	}
	walk(err)
	return out
}

// ErrInterrupted wraps a context cancellation during Up.
var ErrInterrupted = errors.New("interrupted")
