package main

import (
	"errors"
	"io"

	"github.com/spf13/cobra"
)

// IOStreams are the command's standard streams, injected for tests.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// globalOptions are the flags every command shares.
type globalOptions struct {
	Verbose bool
}

// errSilent marks an error whose message was already printed; main only sets
// the exit code.
var errSilent = errors.New("already reported")

// exitError carries a specific exit code (e.g. 1 for a threshold breach).
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }
func (e *exitError) ExitCode() int { return e.code }

// NewRootCommand builds the testbed command tree.
func NewRootCommand(streams IOStreams) *cobra.Command {
	g := &globalOptions{}
	root := &cobra.Command{
		Use:           "testbed",
		Short:         "Build a multi-cluster KinD lab and measure peer discovery",
		Long:          "testbed builds a laboratory of KinD clusters on one Docker bridge, installs Multus, macvlan and a discovery protocol (FLUIDOS or the built-in reference agent), cycles node A under network impairment and records per-peer discovery times.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	root.PersistentFlags().BoolVarP(&g.Verbose, "verbose", "v", false, "verbose output")
	root.AddCommand(
		newVersionCommand(g, streams),
		newRunCommand(g, streams),
		newReportCommand(g, streams), newCompareCommand(g, streams), newExportCommand(g, streams),
		newUpCommand(g, streams), newStatusCommand(g, streams), newDownCommand(g, streams),
		newValidateCommand(g, streams),
		newPlanCommand(g, streams),
		newSchemaCommand(g, streams),
		newAgentCommand(g, streams), newSelftestCommand(g, streams),
		newDoctorCommand(g, streams),
		newSweepCommand(g, streams), newRerunCommand(g, streams),
	)
	return root
}
