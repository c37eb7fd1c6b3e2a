package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	streams := IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	a := newApp(streams)
	err := newRootCommand(a).ExecuteContext(ctx)
	interrupted := ctx.Err() != nil
	stop()
	a.Close()
	if err != nil && !errors.Is(err, errSilent) {
		fmt.Fprintf(os.Stderr, "testbed: %v\n", err)
	}
	os.Exit(exitCodeOf(err, interrupted))
}

// interruptedError is err as "what interrupted: <ctx's error>" when ctx
// has ended and err is ctx's error (a reader stopped by Ctrl-C), else err
// as it is.
func interruptedError(ctx context.Context, err error, what string) error {
	if cerr := ctx.Err(); cerr != nil && errors.Is(err, cerr) {
		return fmt.Errorf("%s interrupted: %w", what, cerr)
	}
	return err
}

// interruptible runs f, which takes no context (loading and planning a
// file, analysing a campaign), and returns its result, or ctx's error as
// soon as ctx ends. Once ctx ends f is abandoned and runs to its end in the
// background, so f must be safe to abandon: it reads, or it stops before
// writing once ctx is done; after an interrupt the process exits anyway.
func interruptible[T any](ctx context.Context, f func() (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		v, err := f()
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}
