package dockernet

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/api/types/network"

	"github.com/fluidos-lab/testbed/topology"
)

type fakeAPI struct {
	nets       []network.Summary
	containers []container.Summary
	created    []string
	removed    []string
}

func (f *fakeAPI) NetworkList(_ context.Context, o network.ListOptions) ([]network.Summary, error) {
	var out []network.Summary
	for _, n := range f.nets {
		if names := o.Filters.Get("name"); len(names) > 0 && !strings.Contains(n.Name, names[0]) {
			continue
		}
		out = append(out, n)
	}
	return out, nil
}

func (f *fakeAPI) NetworkCreate(_ context.Context, name string, o network.CreateOptions) (network.CreateResponse, error) {
	f.created = append(f.created, name)
	id := "0123456789abcdef" + name
	f.nets = append(f.nets, network.Summary{Name: name, ID: id, Driver: o.Driver, Labels: o.Labels, IPAM: *o.IPAM})
	return network.CreateResponse{ID: id}, nil
}

func (f *fakeAPI) NetworkInspect(_ context.Context, id string, _ network.InspectOptions) (network.Inspect, error) {
	for _, n := range f.nets {
		if n.ID == id {
			return n, nil
		}
	}
	return network.Inspect{}, errors.New("not found")
}

func (f *fakeAPI) NetworkRemove(_ context.Context, id string) error {
	f.removed = append(f.removed, id)
	return nil
}

func (f *fakeAPI) ContainerList(context.Context, container.ListOptions) ([]container.Summary, error) {
	return f.containers, nil
}

func plan() topology.NetworkPlan {
	return topology.NetworkPlan{Name: "testbed-lab", Subnet: "172.31.0.0/24", Gateway: "172.31.0.1"}
}

func TestEnsure(t *testing.T) {
	ipam := func(subnet, gw string) network.IPAM {
		return network.IPAM{Config: []network.IPAMConfig{{Subnet: subnet, Gateway: gw}}}
	}
	tests := []struct {
		name        string
		existing    []network.Summary
		wantCreated bool
		wantErr     string
	}{
		{name: "creates", wantCreated: true},
		{name: "reuses a matching labelled network", existing: []network.Summary{{Name: "testbed-lab", ID: "abc", Driver: "bridge", Labels: Labels("lab"), IPAM: ipam("172.31.0.0/24", "172.31.0.1")}}},
		{name: "substring name is another network", existing: []network.Summary{{Name: "testbed-lab-2", ID: "zzz", Labels: map[string]string{}}}, wantCreated: true},
		{name: "unlabelled network refused", existing: []network.Summary{{Name: "testbed-lab", ID: "abc", IPAM: ipam("172.31.0.0/24", "")}}, wantErr: "not created by testbed"},
		{name: "other topology refused", existing: []network.Summary{{Name: "testbed-lab", ID: "abc", Labels: Labels("other"), IPAM: ipam("172.31.0.0/24", "")}}, wantErr: `belongs to topology "other"`},
		{name: "other subnet refused", existing: []network.Summary{{Name: "testbed-lab", ID: "abc", Labels: Labels("lab"), IPAM: ipam("172.32.0.0/24", "")}}, wantErr: "has subnet(s) [172.32.0.0/24]"},
		{name: "other gateway refused", existing: []network.Summary{{Name: "testbed-lab", ID: "abc", Labels: Labels("lab"), IPAM: ipam("172.31.0.0/24", "172.31.0.254")}}, wantErr: "gateway 172.31.0.254"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &fakeAPI{nets: tt.existing}
			n := &Networks{API: api, SysfsRoot: t.TempDir()}
			res, err := n.Ensure(context.Background(), "lab", plan())
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrConflict) {
					t.Fatalf("err = %v, want ErrConflict containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Created != tt.wantCreated {
				t.Errorf("created = %v, want %v", res.Created, tt.wantCreated)
			}
			if res.Warning == "" {
				t.Error("no warning for an unreadable sysfs")
			}
		})
	}
}

func TestSnooping(t *testing.T) {
	root := t.TempDir()
	api := &fakeAPI{}
	n := &Networks{API: api, SysfsRoot: root}
	// Pre-create the bridge's sysfs file the kernel would have.
	bridge := "br-0123456789ab"
	if err := os.MkdirAll(filepath.Join(root, bridge, "bridge"), 0o755); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(root, bridge, "bridge", "multicast_snooping")
	if err := os.WriteFile(f, []byte("1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := n.Ensure(context.Background(), "lab", plan())
	if err != nil {
		t.Fatal(err)
	}
	if res.Bridge != bridge || res.Snooping != "0" || res.Warning != "" {
		t.Errorf("result %+v", res)
	}
	if b, _ := os.ReadFile(f); strings.TrimSpace(string(b)) != "0" {
		t.Errorf("multicast_snooping = %q, want 0", b)
	}
}

func TestNodesAndRemove(t *testing.T) {
	ours := network.Summary{Name: "testbed-lab", ID: "netid", Labels: Labels("lab")}
	api := &fakeAPI{containers: []container.Summary{
		{ID: "1", Names: []string{"/c1-control-plane"}, State: "running", Labels: map[string]string{KindClusterLabel: "c1", KindRoleLabel: "control-plane"},
			NetworkSettings: &container.NetworkSettingsSummary{Networks: map[string]*network.EndpointSettings{"testbed-lab": {NetworkID: "netid", IPAddress: "172.31.0.2"}}}},
		{ID: "2", Names: []string{"/kind-control-plane"}, State: "running", Labels: map[string]string{KindClusterLabel: "kind"},
			NetworkSettings: &container.NetworkSettingsSummary{Networks: map[string]*network.EndpointSettings{"kind": {NetworkID: "k"}}}},
		{ID: "3", Names: []string{"/unrelated"}, State: "running", Labels: map[string]string{},
			NetworkSettings: &container.NetworkSettingsSummary{Networks: map[string]*network.EndpointSettings{"testbed-lab": {NetworkID: "netid"}}}},
		// Created for the lab but never started (a killed up): attached to
		// no network yet; its HostConfig names the lab's.
		{ID: "4", Names: []string{"/c2-control-plane"}, State: "created", Labels: map[string]string{KindClusterLabel: "c2", KindRoleLabel: "control-plane"},
			NetworkSettings: &container.NetworkSettingsSummary{Networks: map[string]*network.EndpointSettings{}}},
		{ID: "5", Names: []string{"/other-control-plane"}, State: "created", Labels: map[string]string{KindClusterLabel: "other"},
			NetworkSettings: &container.NetworkSettingsSummary{Networks: map[string]*network.EndpointSettings{}}},
	}}
	api.containers[3].HostConfig.NetworkMode = "testbed-lab"
	api.containers[4].HostConfig.NetworkMode = "kind"
	n := &Networks{API: api}
	nodes, err := n.Nodes(context.Background(), ours, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 2 || nodes[0].Name != "c1-control-plane" || nodes[0].Address != "172.31.0.2" || nodes[0].Role != "control-plane" ||
		nodes[1].Name != "c2-control-plane" || nodes[1].State != "created" || nodes[1].Address != "" {
		t.Errorf("nodes = %+v, want c1-control-plane and the never-started c2-control-plane", nodes)
	}
	if _, err := n.Nodes(context.Background(), network.Summary{Name: "kind"}, ""); err == nil {
		t.Error("Nodes listed an unmanaged network")
	}
	if err := n.RemoveNetwork(context.Background(), network.Summary{Name: "x", ID: "x"}); err == nil || len(api.removed) != 0 {
		t.Errorf("RemoveNetwork removed an unlabelled network: %v", err)
	}
	if err := n.RemoveNetwork(context.Background(), ours); err != nil || len(api.removed) != 1 {
		t.Errorf("RemoveNetwork: %v %v", err, api.removed)
	}
}
