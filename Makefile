.PHONY: demo test bootstrap lint clean

# The main job: see README.md.
demo: bootstrap
	.venv/bin/python -m octavia_upgrade.demo

# The test command CI runs (.ci/run).
test:
	scripts/test

bootstrap:
	scripts/bootstrap

lint: bootstrap
	.venv/bin/octavia-upgrade lint runbooks/
	.venv/bin/octavia-upgrade runbooks render --check

clean:
	rm -rf .venv build dist *.egg-info
