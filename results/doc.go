// Package results reads and writes campaign directories (manifest.json and
// runs.jsonl), computes statistics and a discovery-time model from them,
// draws plots, renders a self-contained HTML report, compares two campaigns
// and exports tidy data.
//
// Quantiles everywhere in this package use Hyndman & Fan type 7 (linear
// interpolation between order statistics, the default of R's quantile() and
// numpy.percentile): for sorted x[0..n-1] and probability p, h = (n-1)p and
// Q(p) = x[⌊h⌋] + (h-⌊h⌋)(x[⌊h⌋+1]-x[⌊h⌋]).
package results
