"""Runbook authoring: the 18 runbooks written once, rendered per hop.

``runbook-source/cold-upgrade.yaml`` holds the cold-upgrade procedure of the
upstream guide, shared by every hop; ``runbook-source/hops/<from>-to-<to>.yaml``
holds one hop's facts (description, references, migrations), its
release-specific steps inserted at named anchors, overrides by step id and
extra parameters. ``octavia-upgrade runbooks render`` merges both and writes
the committed ``runbooks/*.yaml`` that reviewers read and the engine runs.

Modules: ``model`` (dataclasses), ``conditions`` (``only_if`` and ``${var}``),
``source`` (loading), ``merge`` (overlay → composed runbook), ``emit``
(format v1 text), ``render`` (files).
"""
