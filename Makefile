.PHONY: demo test bootstrap lint clean

# The main job: see README.md. `make demo FLAVOR=osa` lays the lab out as
# OpenStack-Ansible does (docs/lab.md); the default is the venv style.
FLAVOR ?= venv
demo: bootstrap
	.venv/bin/python -m octavia_upgrade.demo --flavor $(FLAVOR)

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
