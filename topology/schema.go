package topology

import (
	"encoding/json"
	"fmt"

	"github.com/invopop/jsonschema"
)

// SchemaID is the $id of the topology JSON Schema.
const SchemaID = "https://testbed.dev/schemas/topology-v1alpha1.json"

// JSONSchema returns the JSON Schema of a topology file, generated from the
// Go types, for editor completion (e.g. yaml-language-server's
// `# yaml-language-server: $schema=<file>` comment).
func JSONSchema() ([]byte, error) {
	r := &jsonschema.Reflector{RequiredFromJSONSchemaTags: true}
	s := r.Reflect(&Topology{})
	s.ID = SchemaID
	s.Title = "testbed Topology (" + APIVersion + ")"
	s.Description = "A multi-cluster KinD lab: clusters, shared Docker network, macvlan discovery network, Multus, FLUIDOS and extra charts."
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding the topology schema: %w", err)
	}
	return append(b, '\n'), nil
}
