"""The rehearsal lab: sshd nodes, MariaDB, RabbitMQ, Octavia services, haproxy, faults."""
