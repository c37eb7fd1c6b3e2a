// Command testbed builds and drives a multi-cluster KinD laboratory and
// measures how fast peer-discovery protocols find each other.
package main
