"""Several CSMS processes or nodes as one: one PostgreSQL for state, Redis for presence and routing.

Enabled by `[cluster] redis_url` (and by `[server] workers > 1`, which needs it). Each charge point's
websocket lives in one process, the *node* that accepted it; everything else is shared through PostgreSQL
(every node writes its own stations' data and reads everyone's) and Redis:

- `presence`: each node holds a lease (`{prefix}:node:{id}`, renewed every third of
  `[cluster] node_lease_seconds`) and records its stations in the hash `{prefix}:presence`; changes are
  broadcast on the channel `{prefix}:presence`, and every node mirrors the whole map into its
  `ConnectionRegistry` as remote entries. A node whose lease lapsed is dead: its stations count as offline
  everywhere (they reconnect to a surviving node, which carries on their transactions from the database).
- `routing`: a command for a station on another node (REST, OCPI, reservation handling) is published on
  that node's channel `{prefix}:node:{id}`; the node sends it to the station and publishes the
  `CommandResult` back on the caller's channel. A node that is gone (no subscriber) answers OFFLINE at once.
- `codec`: commands and results as JSON for that trip.
- `node`: starts and stops the above inside a running CSMS (`csms.app`).

What runs once across nodes does not use Redis: OCPI pushes are claimed row by row in the outbox
(`ocpi.push`), reservation expiry is a conditional UPDATE (`ReservationService.expire_due`).
"""
