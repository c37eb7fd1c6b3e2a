package main

import (
	"context"
	"testing"

	"k8s.io/client-go/rest"

	"github.com/fluidos-lab/testbed/internal/kubeclient"
	"github.com/fluidos-lab/testbed/provision"
	"github.com/fluidos-lab/testbed/topology"
)

// nopClusters is a cluster provider that does nothing.
type nopClusters struct{ provision.Clusters }

func (nopClusters) Create(context.Context, topology.ClusterPlan, int) error { return nil }
func (nopClusters) Delete(string, string) error                             { return nil }
func (nopClusters) ExportKubeconfig(string, string) error                   { return nil }

// TestForgetfulClustersDropStaleClients checks that deleting, creating or
// re-exporting a cluster drops its cached API clients, so that the next
// step reads the new kubeconfig (a recreated cluster's new API port).
func TestForgetfulClustersDropStaleClients(t *testing.T) {
	const kc = "/state/lab/c1.kubeconfig"
	for _, tc := range []struct {
		name string
		op   func(forgetfulClusters) error
	}{
		{"create", func(c forgetfulClusters) error {
			return c.Create(context.Background(), topology.ClusterPlan{Name: "c1", Kubeconfig: kc}, 0)
		}},
		{"delete", func(c forgetfulClusters) error { return c.Delete("c1", kc) }},
		{"export", func(c forgetfulClusters) error { return c.ExportKubeconfig("c1", kc) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			loads := 0
			f := &kubeclient.Factory{Load: func(string) (*rest.Config, error) {
				loads++
				return &rest.Config{Host: "https://127.0.0.1:1"}, nil
			}}
			if _, err := f.For(kc); err != nil {
				t.Fatal(err)
			}
			if _, err := f.For(kc); err != nil || loads != 1 {
				t.Fatalf("the factory does not cache (%d loads, %v)", loads, err)
			}
			if err := tc.op(forgetfulClusters{Clusters: nopClusters{}, forget: f.Forget}); err != nil {
				t.Fatal(err)
			}
			if _, err := f.For(kc); err != nil || loads != 2 {
				t.Errorf("after %s the cached clients were reused (%d loads, %v)", tc.name, loads, err)
			}
		})
	}
}
