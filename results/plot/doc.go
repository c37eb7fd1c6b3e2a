// Package plot draws the figures of a campaign (CDF and responsiveness
// across conditions; per condition a histogram, per-run curves and a box
// plot of the time to the k-th peer) and of a sweep (a statistic and
// responsiveness against cluster count), rendered as SVG or PNG. It is the
// only package that uses gonum/plot.
package plot
