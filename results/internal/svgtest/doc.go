// Package svgtest checks SVG output in the tests of the results packages.
package svgtest
