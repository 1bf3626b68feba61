# svtree: the two set-up commands of the README, and what they need.
#   make demo   builds, makes a demo tree under ./demo and shows the root svtree at work
#   make test   installs what the tests need and runs every test
PREFIX ?= /usr/local
DESTDIR ?=
SWIFT ?= swift
# Release binaries: every process a client multiplies is kept small.
# - svtree and svctl link the Swift runtime statically and without PIE: a PIE binary carries
#   ~26,000 relative relocations that the loader writes at every start, ~300 kB of private
#   memory per process. (svtree stays dynamic: the root dlopens libsystemd for --notify;
#   svctl too: it looks users up through NSS, and a fully static svctl crashed in getpwnam.)
#   libstdc++ and libgcc (the runtime's C++ support) are linked in as well, from a directory
#   that holds only their archives: binding and relocating the shared libstdc++ was a third of
#   svtree's start (1.24 -> 0.80 ms CPU) and ~75 kB private memory per client svtree; only
#   libc and libm stay shared.
# - svlog and snapwatch need neither libsystemd nor NSS: fully static executables, no shared
#   libraries to relocate either (~130 kB less again per process; a client runs three svlogs).
# - No RUNPATH of $ORIGIN (--disable-local-rpath): libc and libm were looked for in a dozen
#   directories beside the binary first (25 failed system calls at every start), and a
#   library put beside an installed binary would have been loaded.
# The price is a fixed address for the executables' own images (heap, stack and libraries
# stay randomised). `make PIE=1 ...` builds all four as ordinary PIE binaries instead (with
# the shared libstdc++).
# All four end up in $(BIN), which demo, bench, chaos and install use.
BIN = $(CURDIR)/.build/svtree-bin
STATIC_CXX = $(CURDIR)/.build/static-cxx
# The toolchain's clang (beside swift) says where the C++ archives are; any cc will do.
CC_DRIVER ?= $(shell d="$$(dirname "$$(command -v $(SWIFT))")"; [ -x "$$d/clang" ] && echo "$$d/clang" || echo cc)
ifeq ($(PIE),1)
RELEASE_FLAGS = -c release --static-swift-stdlib --disable-local-rpath
STATIC_FLAGS = $(RELEASE_FLAGS)
else
RELEASE_FLAGS = -c release --static-swift-stdlib --disable-local-rpath -Xlinker -no-pie -Xlinker -L$(STATIC_CXX)
STATIC_FLAGS = -c release -Xswiftc -static-executable --scratch-path .build-static
endif

APT_PACKAGES = runit daemontools libsystemd-dev procps systemd restic rclone apache2-utils python3 \
	prometheus-node-exporter prometheus curl

.PHONY: all deps build release man test demo bench chaos install clean

all: build

# Installs the Debian packages the programs and tests use (root, or through sudo).
deps:
	@scripts/install-deps.sh $(APT_PACKAGES)

build:
	$(SWIFT) build

# Each product built once, with its own flags.
release:
	@# ld takes a library from the first directory that has it, archive or shared. Without
	@# the archives (no libstdc++-dev) the shared libraries are linked, as before.
	@mkdir -p $(STATIC_CXX)
	@for pair in libstdc++.a:libstdc++.a libgcc_eh.a:libgcc_s.a; do \
		found="$$($(CC_DRIVER) -print-file-name=$${pair%%:*} 2>/dev/null)"; \
		if [ -f "$$found" ]; then ln -sf "$$found" $(STATIC_CXX)/$${pair##*:}; \
		else rm -f $(STATIC_CXX)/$${pair##*:}; echo "release: no $${pair%%:*}: the shared library is linked"; fi; \
	done
	$(SWIFT) build $(RELEASE_FLAGS) --product svtree
	$(SWIFT) build $(RELEASE_FLAGS) --product svctl
	$(SWIFT) build $(STATIC_FLAGS) --product svlog
	$(SWIFT) build $(STATIC_FLAGS) --product snapwatch
	mkdir -p $(BIN)
	dynamic="$$($(SWIFT) build $(RELEASE_FLAGS) --show-bin-path)"; \
	static="$$($(SWIFT) build $(STATIC_FLAGS) --show-bin-path)"; \
	cp "$$dynamic/svtree" "$$dynamic/svctl" "$$static/svlog" "$$static/snapwatch" $(BIN)/

# Man pages: svctl's from its ArgumentParser definition (the generate-manual plugin), the
# daemons' from their pages in doc/.
MAN = $(CURDIR)/.build/man
man:
	mkdir -p $(MAN)
	for page in svtree.8 svlog.8 snapwatch.8; do \
		python3 scripts/md2man.py doc/$$page.md > $(MAN)/$$page || exit 1; \
	done
	$(SWIFT) package --allow-writing-to-package-directory generate-manual
	cp .build/plugins/GenerateManual/outputs/svctl/svctl.1 $(MAN)/

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

demo: deps release
	scripts/demo.sh $(BIN)

# Not a test: compares svtree with runit (and s6 where it has the feature) on this machine.
bench: release
	@scripts/install-deps.sh $(APT_PACKAGES) s6 python3 time strace linux-perf
	Benchmarks/tree-bench.py $(BIN)
	Benchmarks/log-bench.py $(BIN)
	Benchmarks/snapwatch-bench.py $(BIN)
	@# On a tmpfs when there is one: a disk's inode allocator after a large deletion would be
	@# measured, not the supervisors (see scale-bench.py).
	Benchmarks/scale-bench.py $(BIN) $$(findmnt -n -o FSTYPE /dev/shm 2>/dev/null | grep -qx tmpfs && echo --work-dir /dev/shm)
	Benchmarks/status-bench.py $(BIN)
	Benchmarks/job-bench.py $(BIN)
	Benchmarks/audit-bench.py $(BIN)
	@if [ "$$(id -u)" = 0 ]; then Benchmarks/isolation-bench.py $(BIN); else echo "isolation-bench.py: not run, it needs root (a user per client)"; fi

# The long fault-injection run: 20 clients, 300 SIGKILLs, 1000 enable/disable operations, a 2 GB line.
chaos: release
	@scripts/install-deps.sh $(APT_PACKAGES)
	Tests/Chaos/chaos.py $(BIN) --long-line-mb 2048

# Release binaries (see BIN above), stripped as Debian packages install them, the unit and its sysusers/tmpfiles/sysctl files,
# the client templates, the README and the pages of doc/. PREFIX and DESTDIR as usual.
install: release man
	for program in svtree svlog svctl snapwatch; do \
		install -D -s -m 0755 "$(BIN)/$$program" "$(DESTDIR)$(PREFIX)/bin/$$program" || exit 1; \
	done
	install -d "$(DESTDIR)$(PREFIX)/lib/systemd/system"
	for unit in svtree svtree-metrics svtree-alert; do \
		sed 's|@PREFIX@|$(PREFIX)|g' systemd/$$unit.service.in > "$(DESTDIR)$(PREFIX)/lib/systemd/system/$$unit.service" || exit 1; \
	done
	install -m 0644 systemd/svtree-metrics.timer systemd/svtree-alert.timer "$(DESTDIR)$(PREFIX)/lib/systemd/system/"
	install -D -m 0644 systemd/sysusers.d-svtree.conf "$(DESTDIR)$(PREFIX)/lib/sysusers.d/svtree.conf"
	install -D -m 0644 systemd/tmpfiles.d-svtree.conf "$(DESTDIR)$(PREFIX)/lib/tmpfiles.d/svtree.conf"
	install -D -m 0644 systemd/sysctl.d-svtree.conf "$(DESTDIR)$(PREFIX)/lib/sysctl.d/90-svtree.conf"
	install -d "$(DESTDIR)$(PREFIX)/share/svtree"
	cp -R service-templates "$(DESTDIR)$(PREFIX)/share/svtree/"
	install -D -m 0644 README.md "$(DESTDIR)$(PREFIX)/share/doc/svtree/README.md"
	install -D -m 0644 $(MAN)/svctl.1 "$(DESTDIR)$(PREFIX)/share/man/man1/svctl.1"
	for page in svtree.8 svlog.8 snapwatch.8; do \
		install -D -m 0644 "$(MAN)/$$page" "$(DESTDIR)$(PREFIX)/share/man/man8/$$page" || exit 1; \
	done
	install -d "$(DESTDIR)$(PREFIX)/share/doc/svtree/doc"
	install -m 0644 doc/*.md "$(DESTDIR)$(PREFIX)/share/doc/svtree/doc/"

clean:
	rm -rf .build .build-static demo
