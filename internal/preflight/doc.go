// Package preflight holds the host checks behind `testbed doctor`: each
// Check reports pass, warn or fail with the exact command that fixes a
// failure. Checks read the host through injectable seams (an fs.FS rooted
// at "/", a Docker API subset, rlimit and statfs functions) so unit tests
// run on fixtures.
package preflight
