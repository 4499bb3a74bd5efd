"""Historical reports around the pure core (``core/reports/``): the request and its table
(``query``), ``callcenter report`` (``cli``), the store's place in the server and the incremental
job on the routing owner (``job``). docs/reports.md."""
