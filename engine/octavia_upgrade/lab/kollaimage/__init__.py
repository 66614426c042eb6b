"""Files the lab puts into its kolla-style images and onto its kolla-style nodes.

They follow the contract of kolla's images (``docker/base`` of openstack/kolla):
``kolla_start`` runs ``sudo -E kolla_set_configs``, which applies
``/var/lib/kolla/config_files/config.json`` (files copied with their owner and
mode, permissions set, the command written to ``/run_command``), then sources
the service's ``kolla_extend_start`` and runs the command. They are small
equivalents written for the lab, not kolla's own scripts: the lab's images carry
no distribution, only these files and a venv (docs/lab.md, "The kolla style").
"""
