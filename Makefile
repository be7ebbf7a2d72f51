# The front door: `make test` is what CI runs, `make demo` shows the main job,
# `make lint` is rustfmt + clippy -D warnings, `make bench` the benchmarks (BENCHMARKS.md),
# `make chaos` the chaos campaign.
CARGO ?= cargo

.PHONY: build test lint bench chaos demo e2e install clean

build:
	$(CARGO) build --workspace --release

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

# The end-to-end lab (root): network namespaces, real keepalived and nginx, tcsim learning the
# gratuitous ARP on a bridge; replays the three scenes and a planned switch, checks the cloud.
e2e:
	CARGO="$(CARGO)" bash deploy/lab/e2e.sh

install: build
	install -m 0755 target/release/havip /usr/local/bin/havip

clean:
	$(CARGO) clean
