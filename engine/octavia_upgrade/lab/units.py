"""The lab's Octavia unit names: a constant with no imports, so that the CLI can
name them (``lab status -c``) without loading the lab at every start."""

#: Unit names in the order the lab starts them (the API first: the others
#: are of no use to a client until it listens).
UNITS = ("octavia-api", "octavia-worker", "octavia-health-manager",
         "octavia-housekeeping", "octavia-driver-agent")
