// Command testbed builds and drives a multi-cluster KinD laboratory and
// measures how fast peer-discovery protocols find each other.
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
	defer stop()
	streams := IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr}
	cmd := NewRootCommand(streams)
	err := cmd.ExecuteContext(ctx)
	stop()
	if err != nil {
		var ec interface{ ExitCode() int }
		code := 1
		if errors.As(err, &ec) {
			code = ec.ExitCode()
		}
		if !errors.Is(err, errSilent) {
			fmt.Fprintf(os.Stderr, "testbed: %v\n", err)
		}
		os.Exit(code)
	}
}
