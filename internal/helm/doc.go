// Package helm installs, upgrades, lists and removes Helm releases on the
// lab's clusters with the Helm SDK (no helm binary).
//
// The seam is Installer. SDK implements it with one action.Configuration per
// (cluster kubeconfig, namespace), the secrets storage driver, RunWithContext,
// Wait with a timeout and CreateNamespace. Apply converges: it installs an
// absent release, upgrades one whose chart or values differ from the desired
// ones, and returns Changed=false otherwise, so a second `testbed up` is fast.
//
// The package also knows the charts the lab itself needs: the embedded Multus
// chart (MultusChart, WaitDaemonSetReady) and the FLUIDOS node chart with its
// prerequisites (FluidosValues, FluidosReleases, FluidosImages).
package helm
