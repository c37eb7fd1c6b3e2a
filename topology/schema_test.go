package topology

import (
	"encoding/json"
	"testing"
)

func TestJSONSchema(t *testing.T) {
	b, err := JSONSchema()
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		ID   string `json:"$id"`
		Ref  string `json:"$ref"`
		Defs map[string]struct {
			Properties           map[string]json.RawMessage `json:"properties"`
			Required             []string                   `json:"required"`
			AdditionalProperties *bool                      `json:"additionalProperties"`
		} `json:"$defs"`
	}
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatalf("schema is not valid JSON: %v", err)
	}
	top, ok := s.Defs["Topology"]
	if !ok || s.Ref != "#/$defs/Topology" {
		t.Fatalf("no Topology definition (ref %q)", s.Ref)
	}
	for _, p := range []string{"apiVersion", "kind", "metadata", "clusters", "network", "macvlan", "multus", "cniPlugins", "fluidos", "extraCharts", "images", "provisioning", "stateDir", "hosts", "placement", "sharedNetwork"} {
		if _, ok := top.Properties[p]; !ok {
			t.Errorf("top-level property %q missing", p)
		}
	}
	if len(top.Properties) != 16 {
		t.Errorf("%d top-level properties, want 16 (unexported fields must not leak)", len(top.Properties))
	}
	if top.AdditionalProperties == nil || *top.AdditionalProperties {
		t.Error("additionalProperties must be false so editors flag unknown keys")
	}
	want := map[string]bool{"apiVersion": true, "kind": true, "metadata": true, "clusters": true}
	for _, r := range top.Required {
		delete(want, r)
	}
	if len(want) > 0 {
		t.Errorf("required lacks %v (have %v)", want, top.Required)
	}
}
