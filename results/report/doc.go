// Package report writes the report of a campaign: summary.json (the
// statistics of package stats), plots/*.svg|png (package plot) and a
// self-contained report.html (inline SVG and CSS, no scripts or links).
package report
