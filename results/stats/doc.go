// Package stats computes the statistics of a campaign and the
// discovery-time model they are compared with.
//
// # Statistics
//
// Analyze (or AnalyzeDir) works per condition on the included runs (warm-up and aborted runs
// excluded): first-peer and all-peers time per run, the time to the k-th
// discovered peer (k = 1…N−1), each individual peer, timeouts and missing
// peers, responsiveness P(discovered within d), the start-up/protocol split
// (node A's container start from the runtime; protocol = discovered −
// container start), the flap rate (false failure detections per peer-minute
// of observation, from Run.EndMS or the last recorded time) and achieved vs
// requested loss.
//
// Quantiles everywhere in this package and its users use Hyndman & Fan
// type 7 (linear interpolation between order statistics, the default of R's
// quantile() and numpy.percentile / pandas): for sorted x[0..n-1] and
// probability p, h = (n-1)p and Q(p) = x[⌊h⌋] + (h-⌊h⌋)(x[⌊h⌋+1]-x[⌊h⌋]).
// Median is Q(0.5). Means use a compensated (Neumaier) sum in ascending
// order and standard deviations are sample (n−1) deviations by the
// corrected two-pass algorithm, so a Dist depends only on the values, not
// on how they are held (one slice or the parts of a Sorted).
//
// # Memory
//
// AnalyzeDir and CollectDir stream a campaign (store.Stream) and never hold
// its runs, only float64 samples: Analyze makes two passes (per-peer,
// protocol and leave samples, summarised and dropped; then the k-th peer
// samples, preallocated at their exact sizes, and the pooled sample merged
// from them), holding at most about two float64s per discovered (run, peer)
// pair; CollectSamples (for compare) holds one, the pooled sample being a
// merged view (Sorted) of the k-th peer samples. Samples.Curves keeps at
// most MaxCurves evenly spaced runs. FitStartup evaluates its candidate
// start-ups on at most 65536 evenly spaced order statistics (within 1/65536
// of the exact KS distance) and reports the exact distance of the best.
//
// # Model
//
// Model is a periodic announcer (interval T, loss p, start-up s):
// D = s + U·T + G·T with U ~ Uniform(0,1) and G ~ Geometric(1−p), whose CDF
// has a closed form; the k-th of N−1 peers uses order statistics of
// independent peers (an approximation: in the lab the peers' tickers keep
// fixed offsets, so peers are correlated). Each condition reports the KS
// distance between measured and model with s = median container start, and
// with the s that fits best.
//
// # Synthetic campaigns
//
// Synthesize draws a campaign from the model, deterministic for a seed, for
// tests and benchmarks.
package stats
