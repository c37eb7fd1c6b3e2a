// Package report writes the report of a campaign: summary.json (the
// statistics of package stats), plots/*.svg|png (package plot) and a
// self-contained report.html (inline SVG and CSS, no scripts or links).
// A plot's file name comes from its figure's name, which holds a condition
// name from the campaign: it is kept when it is a short plain name, else
// bounded and made safe with a hash (fileStem), and every plot is written
// through an os.Root of plots/, so no name or planted link leads outside.
package report
