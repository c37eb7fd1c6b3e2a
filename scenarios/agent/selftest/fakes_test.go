package selftest

import "k8s.io/apimachinery/pkg/runtime/schema"

type schemaGVR = schema.GroupVersionResource
