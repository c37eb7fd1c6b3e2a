// Package multus embeds the Multus thin-plugin chart so the testbed binary
// can install it from anywhere (no chart files needed next to the binary).
package multus
