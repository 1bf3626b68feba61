# svtree: the two set-up commands of the README, and what they need.
#   make demo   builds, makes a demo tree under ./demo and shows the root svtree at work
#   make test   installs what the tests need and runs every test
PREFIX ?= /usr/local
DESTDIR ?=
SWIFT ?= swift
# Release binaries link the Swift runtime statically and without PIE: a PIE binary carries
# ~26,000 relative relocations that the loader writes at every start, ~300 kB of private
# memory per process, and a client runs four of them (Benchmarks/tree-bench.py measures it).
# The price is a fixed address for the executable's own image (libraries, heap and stack stay
# randomised). `make PIE=1 ...` keeps PIE.
ifeq ($(PIE),1)
RELEASE_FLAGS = -c release --static-swift-stdlib
else
RELEASE_FLAGS = -c release --static-swift-stdlib -Xlinker -no-pie
endif

APT_PACKAGES = runit daemontools libsystemd-dev procps systemd restic rclone apache2-utils python3

.PHONY: all deps build release test demo bench chaos install clean

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
	Benchmarks/snapwatch-bench.py "$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)"
	Benchmarks/scale-bench.py "$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)"

# The long fault-injection run: 20 clients, 300 SIGKILLs, 1000 enable/disable operations, a 2 GB line.
chaos: release
	@scripts/install-deps.sh $(APT_PACKAGES)
	Benchmarks/chaos.py "$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)" --long-line-mb 2048

# Release binaries (static Swift runtime), the unit and its sysusers/tmpfiles/sysctl files,
# the client templates and the README. PREFIX and DESTDIR as usual.
install: release
	bin="$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)"; \
	install -D -m 0755 "$$bin/svtree" "$(DESTDIR)$(PREFIX)/bin/svtree"; \
	install -D -m 0755 "$$bin/svlog" "$(DESTDIR)$(PREFIX)/bin/svlog"; \
	install -D -m 0755 "$$bin/svctl" "$(DESTDIR)$(PREFIX)/bin/svctl"; \
	install -D -m 0755 "$$bin/snapwatch" "$(DESTDIR)$(PREFIX)/bin/snapwatch"
	install -d "$(DESTDIR)$(PREFIX)/lib/systemd/system"
	sed 's|@PREFIX@|$(PREFIX)|g' systemd/svtree.service.in > "$(DESTDIR)$(PREFIX)/lib/systemd/system/svtree.service"
	install -D -m 0644 systemd/sysusers.d-svtree.conf "$(DESTDIR)$(PREFIX)/lib/sysusers.d/svtree.conf"
	install -D -m 0644 systemd/tmpfiles.d-svtree.conf "$(DESTDIR)$(PREFIX)/lib/tmpfiles.d/svtree.conf"
	install -D -m 0644 systemd/sysctl.d-svtree.conf "$(DESTDIR)$(PREFIX)/lib/sysctl.d/90-svtree.conf"
	install -d "$(DESTDIR)$(PREFIX)/share/svtree"
	cp -R service-templates "$(DESTDIR)$(PREFIX)/share/svtree/"
	install -D -m 0644 README.md "$(DESTDIR)$(PREFIX)/share/doc/svtree/README.md"

clean:
	rm -rf .build demo
