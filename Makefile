# Xiadan — every target says what it does. See README.md.
GO      ?= go
BIN     := bin/xiadan
PKGS    := ./...

.PHONY: build run test test-short vet generate check-generate migration bench bench-storefront bench-micro clean

## build: compile the server into bin/xiadan
build:
	$(GO) build -o $(BIN) .

## run: build, migrate, seed the demo into an empty embedded SQLite database, serve
run: build
	./$(BIN) seed --if-empty
	./$(BIN) serve

## test: the whole suite on SQLite and MySQL (MYSQL_TEST_DSN). Most tests wait on a database,
##       so four packages run at once, four tests each. RACE=1 runs it under the race detector
##       (CI does), where the CPU is the limit: GOMAXPROCS packages and tests at once.
RACE ?=
ifeq ($(RACE),1)
TEST_FLAGS := -race
else
TEST_FLAGS := -p 4 -parallel 4
endif
test:
	$(GO) test $(TEST_FLAGS) -count=1 -timeout 30m $(PKGS)

## test-short: the suite without the race detector, for a quick local loop
test-short:
	$(GO) test -count=1 $(PKGS)

## vet: static checks
vet:
	$(GO) vet $(PKGS)

## generate: regenerate Ent (entc) and then the GraphQL executor (gqlgen)
generate:
	$(GO) run -mod=mod ./ent/entc.go
	$(GO) tool gqlgen generate

## check-generate: fail when `make generate` changes the tree
check-generate: generate
	@git diff --exit-code -- . ':(exclude)go.sum' || { echo "generated code is stale: run make generate and commit" >&2; exit 1; }
	@test -z "$$(git status --porcelain --untracked-files=all -- ent graph schema)" || { git status --porcelain -- ent graph schema; echo "make generate left untracked files" >&2; exit 1; }

## migration: write a new versioned MySQL migration from the Ent schema: make migration NAME=add_x
migration:
	$(GO) build -o bin/migrate-gen ./ent/migrate/main.go
	./bin/migrate-gen $(NAME)

## bench: the load benchmarks of internal/bench (docs/BENCHMARKS.md): the storefront of issue 12 on MySQL with
##        BENCH_PRODUCTS (default 100000; 1000000 for the 1M column) products, its table printed at the end of its part;
##        orders on MySQL with BENCH_ORDERS (default 1000000) orders in the table, e.g. make bench BENCH_ORDERS=20000
BENCH_PRODUCTS ?= 100000
BENCH_DURATION ?= 10s
bench:
	BENCH_PRODUCTS=$(BENCH_PRODUCTS) BENCH_DURATION=$(BENCH_DURATION) \
		$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 180m ./internal/bench/...

## bench-storefront: only the storefront benchmark and its issue-12 table, e.g. make bench-storefront BENCH_PRODUCTS=1000000
##        BENCH_DATABASE_URL=mysql://root@127.0.0.1:3306/<db> keeps the database: seeded on the first run (empty
##        database), reused by the next ones with the first run's seed time (docs/BENCHMARKS.md)
bench-storefront:
	BENCH_PRODUCTS=$(BENCH_PRODUCTS) BENCH_DURATION=$(BENCH_DURATION) \
		$(GO) test -run '^$$' -bench 'Storefront' -benchtime 1x -timeout 180m ./internal/bench/

## bench-micro: the Go benchmarks of every other package
bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem $$($(GO) list $(PKGS) | grep -v '/internal/bench$$')

clean:
	rm -rf bin xiadan.db xiadan.db-shm xiadan.db-wal
