package compare

import (
	"context"
	"errors"
	"testing"

	"github.com/fluidos-lab/testbed/results/stats"
)

// checksCtx is a context whose Err reports context.Canceled from its
// cancelAt-th call on, and counts the calls.
type checksCtx struct {
	context.Context
	cancelAt, calls int
}

func (c *checksCtx) Err() error {
	c.calls++
	if c.calls >= c.cancelAt {
		return context.Canceled
	}
	return nil
}

// TestComparisonStopsBetweenRows: once the campaigns are read, the
// comparison checks its context before each row and stops at the first
// check that finds it ended, with context.Canceled. It took no context:
// after the reading, Ctrl-C waited for every row (18 s of 36 on two
// campaigns of 10^6 lines).
func TestComparisonStopsBetweenRows(t *testing.T) {
	base, cand := synthPair(0, 22)
	bs, cs := stats.CollectSamples(base), stats.CollectSamples(cand)
	o := Options{Alpha: DefaultAlpha, Bootstrap: 100, Seed: 1}
	full := &checksCtx{Context: context.Background(), cancelAt: 1 << 30}
	r, err := collections(full, bs, cs, o)
	if err != nil || full.calls != len(r.Rows) || len(r.Rows) < 10 {
		t.Fatalf("%v: %d checks for %d rows", err, full.calls, len(r.Rows))
	}
	ctx := &checksCtx{Context: context.Background(), cancelAt: 3}
	if _, err := collections(ctx, bs, cs, o); !errors.Is(err, context.Canceled) || ctx.calls != 3 {
		t.Errorf("err = %v after %d checks, want context.Canceled at the 3rd of %d", err, ctx.calls, full.calls)
	}
}
