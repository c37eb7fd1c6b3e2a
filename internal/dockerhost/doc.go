// Package dockerhost reaches the Docker engines of a lab that spans several
// Docker hosts.
//
// A topology's host names a Docker endpoint in one of four forms (Parse): a
// Docker CLI context name, unix:///path/docker.sock, tcp://host:port (with
// an optional TLS certificate directory, verified or not) or
// ssh://[user@]host[:port]. For each endpoint the package gives
//
//   - a Docker Engine API client with API version negotiation
//     (Endpoint.Client), the ssh form through the Docker CLI's connection
//     helper (ssh … docker system dial-stdio) and the context form through
//     the Docker CLI's context store;
//   - the environment entries that make a child docker CLI (KinD runs one)
//     talk to that same engine (Endpoint.Env), without touching this
//     process's own environment;
//   - the offset of the engine's clock from ours, measured through the
//     Engine API (ClockOffset);
//   - the copy of images the other engine lacks, streamed from one engine's
//     `docker save` into the other's `docker load` (CopyImages).
//
// Host pairs an endpoint with a name and an underlay address; Pool creates
// one client per host on first use, caches it and closes them all. The
// package keeps no global state: every cache lives in a Pool.
package dockerhost
