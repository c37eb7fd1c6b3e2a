package main

import (
	"io"

	"github.com/spf13/cobra"
)

// IOStreams are the command's standard streams, injected for tests.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer
}

// NewRootCommand builds the testbed command tree on a new composition root
// (tests; main uses newRootCommand to close the root's clients at the end).
func NewRootCommand(streams IOStreams) *cobra.Command { return newRootCommand(newApp(streams)) }

func newRootCommand(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:           "testbed",
		Short:         "Build a multi-cluster KinD lab and measure peer discovery",
		Long:          "testbed builds a laboratory of KinD clusters on one Docker bridge, installs Multus, macvlan and a discovery protocol (FLUIDOS or the built-in reference agent), cycles node A under network impairment and records per-peer discovery times.",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(a.streams.In)
	root.SetOut(a.streams.Out)
	root.SetErr(a.streams.ErrOut)
	root.PersistentFlags().CountVarP(&a.verbosity, "verbose", "v", "more detail on standard error: -v shows kind's steps, -vv also Helm's debug log")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return badInput(err) })
	root.AddCommand(
		newVersionCommand(a),
		newRunCommand(a),
		newReportCommand(a), newCompareCommand(a), newExportCommand(a),
		newUpCommand(a), newStatusCommand(a), newDownCommand(a),
		newValidateCommand(a),
		newPlanCommand(a),
		newSchemaCommand(a),
		newAgentCommand(a), newSelftestCommand(a),
		newDoctorCommand(a),
		newSweepCommand(a), newRerunCommand(a),
		newRunsCommand(a), newDemoCommand(a), newImagesCommand(a),
		newKindChildCommand(a),
		newL2Command(a),
	)
	badArgsAreBadInput(root)
	return root
}

// badArgsAreBadInput makes every command's argument errors exit 2.
func badArgsAreBadInput(c *cobra.Command) {
	if args := c.Args; args != nil {
		c.Args = func(cmd *cobra.Command, a []string) error { return badInput(args(cmd, a)) }
	}
	for _, sub := range c.Commands() {
		badArgsAreBadInput(sub)
	}
}
