package main

import (
	"github.com/spf13/cobra"

	"github.com/fluidos-lab/testbed/internal/kind"
)

// newKindChildCommand is the hidden command a multi-host lab runs KinD
// through, one process per call with the host's Docker environment
// (internal/kind.Child explains why).
func newKindChildCommand(a *app) *cobra.Command {
	verbosity := 1
	cmd := &cobra.Command{
		Use:    kind.ChildCommand + " OPERATION [ARGS]",
		Short:  "Run one KinD operation on this process's Docker host (used by testbed itself)",
		Hidden: true,
		Args:   cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return kind.ServeChild(&kind.Kind{Verbosity: verbosity}, args, cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
	cmd.Flags().IntVar(&verbosity, "kind-verbosity", 1, "KinD log level written to the cluster's kind.log")
	return cmd
}
