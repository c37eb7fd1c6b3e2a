// Package images makes the images a lab needs available inside every KinD
// node without any node touching a registry: each image is pulled once on
// the host (never in offline mode, where missing images are listed up
// front), saved once, and streamed concurrently into each node with
// `ctr --namespace=k8s.io images import` through the Docker Engine API's
// exec (the pattern of ko's kind publisher).
package images
