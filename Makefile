# The front door: `make test` is what CI runs, `make demo` shows the main job,
# `make lint` is rustfmt + clippy -D warnings, `make bench` the benchmarks.
CARGO ?= cargo

.PHONY: build test lint bench demo e2e install clean

build:
	$(CARGO) build --workspace --release

test:
	$(CARGO) build --workspace --bins
	$(CARGO) test --workspace --no-fail-fast
	tests/contract/run.sh

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

bench:
	$(CARGO) bench --workspace

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
