.PHONY: demo test bootstrap lint clean

# The main job: see README.md. `make demo FLAVOR=osa` lays the lab out as
# OpenStack-Ansible does, `FLAVOR=kolla` as kolla-ansible does (docs/lab.md);
# the default is the venv style.
# `make demo LOGIN=ops` runs the upgrade as the new user ops through sudo, with
# the password of OCTAVIA_UPGRADE_LAB_SUDO_PASSWORD.
FLAVOR ?= venv
LOGIN ?=
demo: bootstrap
	.venv/bin/python -m octavia_upgrade.demo --flavor $(FLAVOR) $(if $(LOGIN),--login $(LOGIN))

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
