package main

import "github.com/fluidos-lab/testbed/provision"

// agentImageOption wires the reference agent image builder into up.
func agentImageOption() provision.Option {
	return func(*provision.Provisioner) error { return nil }
}
