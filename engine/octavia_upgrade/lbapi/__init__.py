"""The Octavia API as the engine uses it: load balancers, amphorae, failovers.

``settings`` (where the API is and how to authenticate, from inventory vars),
``client`` (openstacksdk, imported lazily), ``selection`` (which load
balancers a filter picks: pure), ``rate`` (canary, concurrency and error
budget: pure), ``vipprobe`` (a VIP's availability during a failover),
``failover`` (one load balancer's failover, waited for and measured).
"""
