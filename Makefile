# The front door: `make test` is what CI runs, `make demo` shows the main job,
# `make lint` is rustfmt + clippy -D warnings, `make bench` the benchmarks (BENCHMARKS.md),
# `make chaos` the chaos campaign, `make install` / `make deb` what an operator installs
# (deploy/README.md).
CARGO ?= cargo

.PHONY: build test lint bench chaos demo e2e dist install install-bin install-data uninstall deb deb-tools clean

# `make`: the release binaries, and the man pages and completions `make install` ships.
build:
	$(CARGO) build --workspace --release --bins
	$(MAKE) --no-print-directory dist

test:
	$(CARGO) build --workspace --bins
	$(CARGO) test --workspace --no-fail-fast
	tests/contract/run.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# The benchmarks against the alternatives (bench/run.sh): release build, a throwaway venv with
# tccli and the Python SDK, tcsim over HTTPS; writes BENCHMARKS.md, bench/results.json and
# bench/chart.svg. Minutes; as root it also runs the end-to-end lab. Not part of `make test`.
bench:
	CARGO="$(CARGO)" bash bench/run.sh

# The chaos campaign (tests/chaos.rs, README "Chaos campaign"): CHAOS_RUNS notify runs against
# tcsim with random faults, each judged by the oracle; a fresh seed unless CHAOS_SEED is given.
# `make test` runs the short form (100 runs, seed 1).
CHAOS_RUNS ?= 1000
CHAOS_SEED ?= random
chaos:
	CHAOS_RUNS=$(CHAOS_RUNS) CHAOS_SEED=$(CHAOS_SEED) $(CARGO) test --release --test chaos chaos_campaign -- --nocapture

# The failover on one machine against tcsim: no account, no root, under a minute.
demo:
	CARGO="$(CARGO)" bash scripts/demo.sh

# The end-to-end lab (root, deploy/lab/README.md): network namespaces, real keepalived and nginx,
# tcsim over TLS learning the gratuitous ARP on a bridge and carrying the EIP, havip watch on each
# node; replays the reference scenes, a planned switch, split brain, a brief false master, cloud
# trouble and a stopped CVM, checks the cloud, havip status and the client through the EIP,
# prints the timing table (also target/lab/timing.json). Uses target/debian/*.deb when present.
e2e:
	CARGO="$(CARGO)" bash deploy/lab/e2e.sh

# --- Installing -------------------------------------------------------------------------------
# `make && sudo make install`: the binary to $(BINDIR), a man page per command, bash/zsh/fish
# completions, the systemd units and keepalived drop-in, and the examples; /etc files (havip.toml,
# logrotate, the audit cron entry) only where none exists: an operator's file is never
# overwritten (the shipped version is always in $(DOCDIR)/examples). DESTDIR stages the tree
# (`make deb` uses it). Files that reference the binary say $(BINDIR)/havip.
PREFIX      ?= /usr/local
BINDIR      ?= $(PREFIX)/bin
DATADIR     ?= $(PREFIX)/share
MANDIR      ?= $(DATADIR)/man
DOCDIR      ?= $(DATADIR)/doc/havip
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
ZSHCOMPDIR  ?= $(DATADIR)/zsh/site-functions
FISHCOMPDIR ?= $(DATADIR)/fish/vendor_completions.d
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR  ?= /etc
STATEDIR    ?= /var/lib/havip
# What is installed: the release binary, and the man pages and completions `cargo xtask dist`
# generates from havip's command line. Both are rebuilt when a source changes, so
# `make && sudo make install` needs no cargo as root.
BIN  ?= target/release/havip
DIST ?= target/dist
SOURCES := $(shell find src xtask/src -name '*.rs') Cargo.toml Cargo.lock

target/release/havip: $(SOURCES)
	$(CARGO) build --workspace --release --bins

# xtask is built the way `make build` builds the workspace's binaries (release; the packaging
# tests pass DIST_PROFILE=dev, as `make test` builds them), so it is already fresh there, never
# rebuilt with another feature set.
DIST_PROFILE ?= release
dist: $(DIST)/.stamp
$(DIST)/.stamp: $(SOURCES)
	$(CARGO) build --quiet --workspace --bins --profile $(DIST_PROFILE)
	target/$(if $(filter dev,$(DIST_PROFILE)),debug,$(DIST_PROFILE))/xtask dist $(DIST)
	touch $@

# Units: every unit and drop-in under deploy/systemd (the keepalived drop-in, havip-watch.service,
# havip-audit.service and .timer). /etc files: SOURCE:DEST:MODE; a missing SOURCE (the audit
# cron entry before `havip audit` lands) is skipped with a note.
UNITS   := $(patsubst deploy/systemd/%,%,$(shell find deploy/systemd -type f \( -name '*.service' \
             -o -name '*.timer' -o -name '*.socket' -o -name '*.path' -o -name '*.conf' \) | sort))
ETC     := deploy/havip.toml.example:havip/havip.toml:0600 \
           deploy/logrotate/havip:logrotate.d/havip:0644 \
           deploy/cron/havip-audit:cron.d/havip-audit:0644
EXAMPLE_DIRS := keepalived nginx prometheus logrotate cron
EXAMPLES := deploy/havip.toml.example deploy/havip.minimal.toml \
            $(foreach d,$(EXAMPLE_DIRS),$(wildcard deploy/$(d)/*))
# Copies a text file, the binary's path made $(BINDIR)/havip: $(call put,MODE,SOURCE,DEST).
put = mkdir -p "$$(dirname "$(3)")" && sed -e 's|/usr/local/bin/havip|$(BINDIR)/havip|g' "$(2)" >"$(3)" && chmod $(1) "$(3)"

install: install-bin install-data

install-bin: $(BIN)
	install -d "$(DESTDIR)$(BINDIR)"
	install -m 0755 "$(BIN)" "$(DESTDIR)$(BINDIR)/havip"

install-data: $(DIST)/.stamp
	install -d "$(DESTDIR)$(MANDIR)/man1"
	install -m 0644 $(DIST)/man/*.1 "$(DESTDIR)$(MANDIR)/man1/"
	install -D -m 0644 $(DIST)/completions/havip.bash "$(DESTDIR)$(BASHCOMPDIR)/havip"
	install -D -m 0644 $(DIST)/completions/_havip "$(DESTDIR)$(ZSHCOMPDIR)/_havip"
	install -D -m 0644 $(DIST)/completions/havip.fish "$(DESTDIR)$(FISHCOMPDIR)/havip.fish"
	@set -e; for u in $(UNITS); do \
		$(call put,0644,deploy/systemd/$$u,$(DESTDIR)$(UNITDIR)/$$u); done
	@set -e; for f in $(EXAMPLES); do \
		$(call put,0644,$$f,$(DESTDIR)$(DOCDIR)/examples/$${f#deploy/}); done
	install -D -m 0644 deploy/README.md "$(DESTDIR)$(DOCDIR)/README.md"
	@[ -d "$(DESTDIR)$(SYSCONFDIR)/havip" ] || install -d -m 0750 "$(DESTDIR)$(SYSCONFDIR)/havip"
	@set -e; for e in $(ETC); do \
		src=$${e%%:*}; rest=$${e#*:}; dest="$(DESTDIR)$(SYSCONFDIR)/$${rest%%:*}"; mode=$${rest#*:}; \
		if [ ! -e "$$src" ]; then echo "make install: $$src is not in this tree yet; skipped"; \
		elif [ -e "$$dest" ]; then echo "make install: kept $$dest (shipped: $(DOCDIR)/examples/$${src#deploy/})"; \
		else $(call put,$$mode,$$src,$$dest); echo "make install: installed $$dest"; fi; done
	install -d -m 0750 "$(DESTDIR)$(STATEDIR)"

# Removes what `make install` put in place, except the operator's: /etc/havip and the state
# directory (journal) always stay; logrotate and cron entries go only when unmodified.
uninstall:
	rm -f "$(DESTDIR)$(BINDIR)/havip" "$(DESTDIR)$(MANDIR)/man1/havip.1" "$(DESTDIR)$(MANDIR)"/man1/havip-*.1
	rm -f "$(DESTDIR)$(BASHCOMPDIR)/havip" "$(DESTDIR)$(ZSHCOMPDIR)/_havip" "$(DESTDIR)$(FISHCOMPDIR)/havip.fish"
	@set -e; for u in $(UNITS); do rm -f "$(DESTDIR)$(UNITDIR)/$$u"; done
	-rmdir "$(DESTDIR)$(UNITDIR)/keepalived.service.d" 2>/dev/null
	@set -e; for e in $(ETC); do \
		src=$${e%%:*}; rest=$${e#*:}; dest="$(DESTDIR)$(SYSCONFDIR)/$${rest%%:*}"; \
		[ "$${rest%%:*}" != havip/havip.toml ] || continue; \
		shipped="$(DESTDIR)$(DOCDIR)/examples/$${src#deploy/}"; \
		if [ -e "$$dest" ] && [ -e "$$shipped" ] && cmp -s "$$dest" "$$shipped"; then rm -f "$$dest"; \
		elif [ -e "$$dest" ]; then echo "make uninstall: kept $$dest (modified)"; fi; done
	rm -rf "$(DESTDIR)$(DOCDIR)"
	@echo "make uninstall: kept $(DESTDIR)$(SYSCONFDIR)/havip and $(DESTDIR)$(STATEDIR) (configuration, journal)"

# --- The Debian package ------------------------------------------------------------------------
# `make deb`: target/debian/havip_VERSION-1_ARCH.deb, holding what `make install PREFIX=/usr`
# installs (binary in /usr/bin, units in /usr/lib/systemd/system, the /etc files as conffiles),
# built by cargo-deb from [package.metadata.deb] in Cargo.toml; installs cargo-deb if absent.
DEB_ROOT := target/deb-root
deb: deb-tools
	$(MAKE) --no-print-directory build
	rm -rf "$(DEB_ROOT)"
	$(MAKE) --no-print-directory install-data DESTDIR="$(CURDIR)/$(DEB_ROOT)" PREFIX=/usr \
		DOCDIR=/usr/share/doc/havip UNITDIR=/usr/lib/systemd/system DIST="$(DIST)"
	$(CARGO) deb -p havip --no-build --output target/debian/

# cargo-deb, when it is not installed yet (3.8 is the version the metadata was written for).
deb-tools:
	@command -v cargo-deb >/dev/null 2>&1 || $(CARGO) install cargo-deb --locked --version '^3.8'

clean:
	$(CARGO) clean
