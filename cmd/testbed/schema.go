package main

import (
	"fmt"
	"sort"

	"github.com/spf13/cobra"

	"github.com/fluidos-lab/testbed/topology"
)

// schemaGenerators maps a document kind to its JSON Schema generator.
func schemaGenerators() map[string]func() ([]byte, error) {
	return map[string]func() ([]byte, error){
		"topology": topology.JSONSchema,
	}
}

func newSchemaCommand(a *app) *cobra.Command {
	streams := a.streams
	gens := schemaGenerators()
	kinds := make([]string, 0, len(gens))
	for k := range gens {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	return &cobra.Command{
		Use:       "schema KIND",
		Short:     "Print the JSON Schema of a file kind for editor completion",
		Long:      fmt.Sprintf("Print the JSON Schema of a file kind (%v), generated from the Go types.", kinds),
		Example:   "  testbed schema topology > topology.schema.json",
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		ValidArgs: kinds,
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := gens[args[0]]()
			if err != nil {
				return err
			}
			_, err = streams.Out.Write(b)
			return err
		},
	}
}
