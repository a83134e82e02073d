# The two commands of the README's quick start, plus helpers.
#   make train   trains G2GNet on Fashion-MNIST (docs/design.md §5); ARGS="..." adds flags
#   make test    runs the test suite
# Both install the Debian packages they need first (scripts/deps.sh).
export PATH := $(PATH):/usr/local/go/bin
ARGS ?=

.PHONY: deps train test bench vet
deps:
	bash scripts/deps.sh

train: deps
	go run -tags openblas ./examples/fashion-mnist $(ARGS)

test:
	bash scripts/deps.sh test
	go vet ./... && go vet -tags openblas ./... && go test ./... && go test -tags openblas ./graph ./layers ./callbacks

bench:
	go test -short -run '^$$' -bench . -benchmem ./...
	go run -tags openblas ./examples/bench
