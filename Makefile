# svtree: the two set-up commands of the README, and what they need.
#   make demo   builds, makes a demo tree under ./demo and shows the root svtree at work
#   make test   installs what the tests need and runs every test
PREFIX ?= /usr/local
DESTDIR ?=
SWIFT ?= swift
RELEASE_FLAGS = -c release --static-swift-stdlib

APT_PACKAGES = runit daemontools libsystemd-dev procps

.PHONY: all deps build release test demo bench clean

all: build

# Installs the Debian packages the programs and tests use (root, or through sudo).
deps:
	@scripts/install-deps.sh $(APT_PACKAGES)

build:
	$(SWIFT) build

release:
	$(SWIFT) build $(RELEASE_FLAGS)

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

demo: deps release
	scripts/demo.sh "$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)"

# Not a test: compares svtree with runit (and s6 where it has the feature) on this machine.
bench: release
	@scripts/install-deps.sh $(APT_PACKAGES) s6 python3
	Benchmarks/tree-bench.py "$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)"
	Benchmarks/log-bench.py "$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)"

clean:
	rm -rf .build demo
