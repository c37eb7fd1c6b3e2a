package main

import (
	"context"
	"errors"
	"strings"

	"github.com/fluidos-lab/testbed/internal/yamlfile"
	"github.com/fluidos-lab/testbed/provision"
)

// Exit codes, the same for every command (kube-burner style). The README
// lists them; TestExitCodes pins them.
const (
	// exitOK: the command did what was asked.
	exitOK = 0
	// exitFailed: it failed (a lab that cannot be built, a broken self-test,
	// an unreachable cluster...).
	exitFailed = 1
	// exitBadInput: an input file, argument or flag is invalid; nothing was
	// done.
	exitBadInput = 2
	// exitBreach: a threshold rule was breached or a comparison found a
	// regression (compare, sweep compare, rerun, sweep --baseline).
	exitBreach = 3
	// exitDoctor: doctor found a problem that blocks the lab.
	exitDoctor = 4
	// exitInterrupted: Ctrl-C or SIGTERM (128 + SIGINT).
	exitInterrupted = 130
)

// errSilent marks an error whose message was already printed; main only sets
// the exit code.
var errSilent = errors.New("already reported")

// exitError carries a specific exit code.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }
func (e *exitError) ExitCode() int { return e.code }

// badInput marks err as invalid input (exit 2).
func badInput(err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: exitBadInput, err: err}
}

// exitCodeOf maps the error a command returned, and whether the signal
// context ended, to the process exit code.
func exitCodeOf(err error, interrupted bool) int {
	if err == nil {
		return exitOK
	}
	var ec interface{ ExitCode() int }
	switch {
	case errors.As(err, &ec):
		return ec.ExitCode()
	case interrupted, errors.Is(err, context.Canceled), errors.Is(err, provision.ErrInterrupted):
		return exitInterrupted
	}
	if _, ok := yamlfile.AsErrorList(err); ok {
		return exitBadInput
	}
	if strings.HasPrefix(err.Error(), "unknown command") || strings.HasPrefix(err.Error(), "unknown flag") ||
		strings.HasPrefix(err.Error(), "unknown shorthand flag") {
		return exitBadInput
	}
	return exitFailed
}
