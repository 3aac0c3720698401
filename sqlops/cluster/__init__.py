"""More than one server: Galera clusters and primaries with replicas (README "More than one
server").

- :mod:`~sqlops.cluster.topology` tells what a session talks to (read-only);
- :mod:`~sqlops.cluster.guard` is the job lock every maintenance job takes: it leaves
  replicas alone and, on a Galera node, adds a cluster-wide lease (:mod:`~sqlops.cluster.lease`)
  to the node-local GET_LOCK;
- :mod:`~sqlops.cluster.lag` measures replica lag and throttles chunked copies on it.
"""
