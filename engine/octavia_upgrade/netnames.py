"""What a host's address may be: an IP literal or a DNS name, nothing else.

An inventory address reaches SSH, ``known_hosts`` lookups and commands
(``{{ host.address }}``), so a value such as ``127.0.0.1;touch x`` or
``$(...)`` must never be accepted as one, even though every command quotes
it. Accepted:

* an IPv4 literal (``10.0.0.11``) or an IPv6 literal (``fd00::11``,
  ``fe80::1%eth0``), as :mod:`ipaddress` reads them;
* a DNS name after RFC 1123: dot-separated labels of 1–63 letters, digits
  and ``-`` that neither start nor end with ``-``, 253 characters at most,
  an optional final dot, and a last label that is not all digits (so
  ``10.0.0.999`` is neither).
"""

from __future__ import annotations

import ipaddress
import re

_SCOPE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")

#: What an error message says an address must be.
EXPECTED = "an IPv4 or IPv6 address or an RFC 1123 DNS name (letters, digits, '-' and '.')"


def is_ip(text: str) -> bool:
    _addr, sep, scope = text.partition("%")
    if sep and not _SCOPE.match(scope):
        return False  # Python accepts any zone id: only interface names here
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def is_dns_name(text: str) -> bool:
    name = text[:-1] if text.endswith(".") else text
    if not name or len(name) > 253:
        return False
    labels = name.split(".")
    # An all-numeric last label is an IP address written wrong (10.0.0.999), not a name.
    return all(_LABEL.match(label) for label in labels) and not labels[-1].isdigit()


def is_address(text: object) -> bool:
    """True for an IP literal or an RFC 1123 DNS name."""
    return isinstance(text, str) and (is_ip(text) or is_dns_name(text))
