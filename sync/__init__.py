"""sync: the gate's side of talking to a hub, and what both sides of the wire share.

``sync.client`` (the gate's pull/push client, standard library only), ``sync.wire``
(header names, page and upload caps, the clock skew allowed) and
``sync.request_auth`` (signing and checking an upload). The reference hub itself is the
top-level package ``hub``, which imports these; nothing here imports the hub, so a gate
that syncs loads none of it.
"""
