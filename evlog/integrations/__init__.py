"""Bridges between evlog recordings and message brokers (NATS/JetStream first).

| module | owns |
|---|---|
| `natsformat.py` | how a NATS message is stored in a record (payload as data, metadata as headers) and sent back, older captures' envelopes, subject-to-name mapping, URLs |
| `nats.py` | capture from NATS (core and JetStream, exactly-once) |
| `natssink.py` | the NATS replay sink (tagged messages with their subject, headers and a `Nats-Msg-Id`, dry run) |
| `natsclient.py` | importing the optional `nats-py` client and connecting (capture and sink) |
| `natspull.py` | pull requests on a JetStream consumer through one plain subscription |
| `status.py` | capture counters, the periodic status line and the HTTP status endpoint |
| `signals.py` | SIGTERM/SIGINT (clean stop) and SIGHUP (segment roll) in a long-running capture |

Only `natsclient.py` imports the optional `nats-py` client (install `evlog[nats]`).
"""
