.PHONY: run test stop status bench bench-table bench-hostile lint
run:      ## start the whole stack on this machine and show the data
	scripts/run.sh
test:     ## the test command (the same as CI)
	scripts/test.sh
stop:
	.venv/bin/python -m devstack down
status:
	.venv/bin/python -m devstack status; .venv/bin/commune-collector status
bench:    ## benchmarks (not part of the tests): one table of ratios -> bench/results/latest.md
	scripts/bench.sh
bench-table: ## print the latest benchmark table again
	scripts/bench.sh table
bench-hostile: ## honest ack latency and collector RSS under each hostile flood, as ratios (not a test)
	scripts/bench.sh hostile
lint:
	.venv/bin/ruff check agent collector common devstack dashboards tests bench && .venv/bin/mypy
