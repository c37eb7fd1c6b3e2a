// Package arch holds testbed's architecture tests: the direction of
// imports between the layers (topology ← provision; results ← scenarios ←
// cmd; internal implementations below them), the single places where
// external clients are built, and the size of functions. It has no code.
package arch
