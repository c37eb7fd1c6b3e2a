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
