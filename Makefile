# The two commands of the README's quick start, plus helpers.
#   make train           trains G2GNet on Fashion-MNIST (docs/design.md §5); ARGS="..." adds flags
#   make test            everything CI checks (.ci/run runs it): vet, generate-check,
#                        go test in the pure-Go and OpenBLAS builds, and race; with a
#                        Slurm cluster at hand (SLURM_CONF set) go test includes the
#                        slurm executor's integration test, examples/g2g TestSlurmGrid
#                        (.ci/run starts one and sets G2G_REQUIRE_SLURM=1, so that a
#                        missing cluster fails that test instead of skipping it)
#   make test-slurm      that integration test alone, on a private single-node Slurm
#                        that scripts/slurm.sh installs, starts and stops (root or sudo)
#   make vet             gofmt check, go vet in the pure-Go and OpenBLAS builds
#   make generate-check  go generate ./... must leave the committed generated files unchanged
#   make race            go test -race on $(RACE_PKGS), the packages that split work between goroutines
#   make fuzz            every fuzz target of the repository, FUZZTIME (30s) each
#   make bench           the benchmarks and the PyTorch comparison
# train and test install the Debian packages they need first (scripts/deps.sh).
export PATH := $(PATH):/usr/local/go/bin
ARGS ?=
# The kernels and everything that splits work between goroutines (the
# kernels live in internal/, the optimizers in optim, BLAS splitting and the
# inference runtime in graph). On the project's 2-core machines make race
# takes about 1 minute, 4 to 5 the first time (it builds race-instrumented
# copies of gorgonia and gonum).
RACE_PKGS ?= ./internal/... ./optim ./graph
FUZZTIME ?= 30s
FUZZMINIMIZETIME ?= 50x
# A generated file starts with this line (https://go.dev/s/generatedcode).
GENERATED_RE = ^// Code generated .* DO NOT EDIT\.$$

.PHONY: deps train test test-slurm vet generate-check race fuzz bench
deps:
	bash scripts/deps.sh

train: deps
	go run -tags openblas ./examples/fashion-mnist $(ARGS)

test:
	bash scripts/deps.sh test
	@$(MAKE) --no-print-directory vet generate-check
	go test ./...
	go test -tags openblas ./graph ./layers ./callbacks ./internal/sparse
	@$(MAKE) --no-print-directory race

# About a minute once Slurm is installed (docs/slurm.md: installing takes
# about 50 s more).
test-slurm:
	G2G_REQUIRE_SLURM=1 bash scripts/slurm.sh run-with go test -count=1 -run Slurm -v ./examples/g2g ./examples/internal/experiment

vet:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt needed (run gofmt -w):"; echo "$$out"; exit 1; fi
	go vet ./...
	go vet -tags openblas ./...
	GOARCH=arm64 go build ./... # the plain-Go fallbacks of the assembly keep building

# Fails when go generate changes a committed generated file or creates one
# that is not committed: regenerate and commit the result.
generate-check:
	go generate ./...
	@tracked=$$(git grep -l -E '$(GENERATED_RE)' -- '*.go' '*.s'); \
	untracked=$$(git ls-files --others --exclude-standard -- '*.go' '*.s' | xargs -r grep -l -E '$(GENERATED_RE)'); \
	if ! git diff --quiet -- $$tracked; then \
		echo "go generate changed committed files:"; git diff --stat -- $$tracked; exit 1; \
	fi; \
	if [ -n "$$untracked" ]; then echo "go generate wrote files that are not committed:"; echo "$$untracked"; exit 1; fi; \
	echo "generated files up to date:" $$tracked

race:
	go test -race $(RACE_PKGS)

# Runs each fuzz target for FUZZTIME, one after the other; new failing
# inputs land in the package's testdata/fuzz. Targets are found with go test
# -list, in the directories whose test files declare a Fuzz function (listing
# every package would link every test binary). New inputs are minimized for
# FUZZMINIMIZETIME runs only (50x), so that a target explores instead of
# spending its time minimizing. Before Go 1.27, go test can fail a target
# with a bare "context deadline exceeded" when FUZZTIME ends while a worker
# is busy (golang/go#75804): without a failing input written, that is
# reported and not counted as a failure.
fuzz:
	@dirs=$$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -r -n1 dirname | sort -u); \
	if [ -z "$$dirs" ]; then echo "no fuzz targets found"; exit 1; fi; \
	list=$$(go test -list '^Fuzz' $$dirs) || { echo "$$list"; exit 1; }; \
	targets=$$(echo "$$list" | awk '/^Fuzz/ { t[n++] = $$1 } /^ok/ { for (i = 0; i < n; i++) print $$2 "," t[i]; n = 0 }'); \
	if [ -z "$$targets" ]; then echo "no fuzz targets found"; exit 1; fi; \
	log=$$(mktemp); trap 'rm -f $$log $$log.rc' EXIT; \
	for pt in $$targets; do \
		pkg=$${pt%,*}; fn=$${pt#*,}; \
		echo "== $$fn in $$pkg for $(FUZZTIME)"; \
		{ go test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime $(FUZZMINIMIZETIME) $$pkg; echo $$? > $$log.rc; } 2>&1 | tee $$log; \
		if [ "$$(cat $$log.rc)" != 0 ]; then \
			if grep -q '^    context deadline exceeded$$' $$log && ! grep -q 'Failing input written to' $$log; then \
				echo "== $$fn: the fuzztime deadline race of go test (golang/go#75804), no failing input: not a failure"; \
			else exit 1; fi; \
		fi; \
	done

bench:
	go test -short -run '^$$' -bench . -benchmem ./...
	go run -tags openblas ./examples/bench
