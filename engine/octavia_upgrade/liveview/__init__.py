"""``octavia-upgrade serve``: a read-only live page of the runs in the state database.

``data`` turns the store's records into the JSON the page polls (no
parameters, plan, commands or outputs: nothing that could hold a secret);
``server`` serves that JSON and the page (``page.html``) over HTTP, on
localhost unless told otherwise, GET only.
"""
