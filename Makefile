# testbed: build, test, lint, fuzz and the real end-to-end tier.
GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
BIN       ?= bin/testbed
LDFLAGS   := -s -w -X main.version=$(VERSION)
FUZZTIME  ?= 20s
STATICCHECK_VERSION ?= v0.8.2

.PHONY: all build install test integration e2e lint fuzz clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/testbed

# Install testbed on the PATH. By default the Go way (go install, into
# $GOBIN or $GOPATH/bin); with PREFIX=/usr/local (for example) into
# $(PREFIX)/bin.
PREFIX ?=
install:
ifeq ($(PREFIX),)
	CGO_ENABLED=0 $(GO) install -trimpath -ldflags '$(LDFLAGS)' ./cmd/testbed
	@dir=$$($(GO) env GOBIN); [ -n "$$dir" ] || dir=$$($(GO) env GOPATH)/bin; \
	echo "installed $$dir/testbed"; \
	case ":$$PATH:" in *":$$dir:"*) ;; *) echo "note: $$dir is not on your PATH: add it (export PATH=\"$$dir:\$$PATH\") or run make install PREFIX=/usr/local";; esac
else
	$(MAKE) build
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(BIN) $(DESTDIR)$(PREFIX)/bin/testbed
	@echo "installed $(DESTDIR)$(PREFIX)/bin/testbed"
endif

# Unit tests: no Docker, no root, no network. Must stay under 5 minutes.
test:
	$(GO) test -short -count=1 -timeout 5m ./...

# Root-only tests on real network namespaces (no Docker).
integration:
	$(GO) test -count=1 -timeout 10m -tags integration -run Integration ./...

# Real KinD labs on a Docker engine. Needs TESTBED_NODE_IMAGE and friends
# (see README) and a running Docker engine.
# Packages run one at a time (-p 1): cmd/testbed builds the CI lab and runs
# up, selftest, run, sweep and down on it; the others make their own cluster.
e2e: build
	TESTBED_BIN=$(abspath $(BIN)) $(GO) test -p 1 -count=1 -timeout 80m -tags e2e -run E2E -v ./...

lint:
	$(GO) vet ./...
	$(GO) vet -tags integration,e2e ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) -tags integration,e2e ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files '*.go'); exit 1; }

# Every fuzz target for FUZZTIME each.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f"; \
	    $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

clean:
	rm -rf bin
