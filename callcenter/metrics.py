"""Prometheus metrics, served at ``/metrics``. Names follow Prometheus conventions (``_total``,
``_seconds``)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from callcenter.core.acd.engine import Acd

INTERACTIONS = Counter(
    "callcenter_interactions_ended_total", "Interactions that ended, by outcome", ["outcome"]
)
ENGINE_SECONDS = Histogram(
    "callcenter_engine_event_seconds",
    "Time the ACD engine took to handle one event",
    buckets=(0.00001, 0.00005, 0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05),
)
WAITING = Gauge("callcenter_queue_waiting", "Callers waiting, by queue", ["queue"])
AGENTS = Gauge("callcenter_agents", "Agents by state", ["state"])
ROUTING_OWNER = Gauge("callcenter_routing_owner", "1 while this node is the routing owner (docs/cluster.md)")
AMI_CONNECTED = Gauge("callcenter_ami_connected", "1 when the AMI session is logged in")
AMI_RECONNECT_SECONDS = Histogram(
    "callcenter_ami_reconnect_seconds",
    "From losing the AMI session (or starting) to the next login",
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 300),
)
LEFTOVER_CHANNELS = Counter(
    "callcenter_asterisk_leftovers_hung_up_total",
    "Asterisk channels no call of ours owned, left alone in a waiting context, hung up by reconcile",
    ["kind"],  # surrogate | unowned
)
SURROGATES_FOUND = Counter(
    "callcenter_asterisk_surrogates_found_total",
    "Surrogate/... channels Asterisk left behind a caller of ours (only a restart removes them)",
)
WEBCHAT_HELD = Counter(
    "callcenter_webchat_held_messages_total",
    "Visitors' messages a node that does not own the routing tried to store in a chat an agent holds"
    " (docs/cluster.md): stored, duplicate (a resend), not_held (sent to the owner instead)",
    ["result"],
)
WEBCHAT_TOLD = Counter(
    "callcenter_webchat_held_told_total",
    "What the routing owner did with the messages other nodes stored in held chats: filed, known"
    " (a second notice, or read back at a takeover), unknown (no such conversation in its books)",
    ["result"],
)
WEBCHAT_SWEPT = Counter(
    "callcenter_webchat_held_swept_total",
    "Visitors' messages in held chats the routing owner found stored and never told (a node that"
    " died between its commit and its cc:held entry), filed by its read-back",
)
SURVEYS = Counter(
    "callcenter_surveys_total",
    "Post-contact surveys asked and answered (low: answered at or below the survey's low score)",
    ["source", "event"],  # source: ivr | message | chat; event: asked | answered | low
)
CALLBACKS = Counter(
    "callcenter_callbacks_total",
    "Callbacks at a time the customer picks: filed (scheduled or moved) or refused, and why",
    ["source", "result"],  # source: agent | widget | ivr | api | cli; result: scheduled | moved | <refusal>
)
IVR_OUTCOMES = Counter(
    "callcenter_ivr_outcomes_total",
    "How IVR sessions ended, and at which node (where callers dropped out)",
    ["flow", "node", "outcome"],
)
BOT_OUTCOMES = Counter(
    "callcenter_bot_outcomes_total",
    "How the virtual agent's chat flows ended (hangup and ticket: contained; queue, agent, error: a person;"
    " abandoned: the customer stopped answering)",
    ["flow", "outcome"],
)
RECORDINGS = Counter(
    "callcenter_recordings_total",
    "Call recordings taken into the store after the call (stored), not found (missing) or failed;"
    " orphan: a spooled file of a call no database of ours knows, deleted when old",
    ["result"],
)
SPOOL_ENDED = Gauge(
    "callcenter_recording_spool_ended_files",
    "Recording files still in Asterisk's spool (unencrypted) whose call has ended, at the last look;"
    " stays above 0 when the store keeps failing",
)
RETENTION_DELETED = Counter(
    "callcenter_retention_deleted_total",
    "Stored data deleted by the retention sweep, by kind (recording files, transcripts, messages)",
    ["kind"],
)
RECORDING_PAUSES = Counter(
    "callcenter_recording_pauses_total", "Recordings paused or resumed (e.g. for card data)", ["action"]
)
REPORT_MAILS = Counter(
    "callcenter_report_mails_total",
    "Runs of the e-mailed reports tried by the routing owner, by outcome (sent, failed)",
    ["outcome"],
)
IVR_FLOWS_INVALID = Gauge("callcenter_ivr_flows_invalid", "1 when the flow files on disk have errors")
LIVE_CALLS = Counter(
    "callcenter_live_calls_total",
    "Answered calls and live transcription: transcribed live (live), or skipped (queue_limit, saturated,"
    " off, failed) and transcribed after the call only; dropped: a stream cut because its worker fell behind",
    ["result"],
)
LIVE_STREAMS = Gauge("callcenter_live_streams", "Live transcription streams open (two per call)")


def observe_engine(engine: Acd) -> None:
    """Cheap on purpose (it runs after every event): counts the engine keeps, O(queues + states)."""
    for state, n in engine.state_counts.items():
        AGENTS.labels(state=state.value).set(n)
    for queue in engine.queue_names():
        WAITING.labels(queue=queue).set(engine.waiting_count(queue))


WEBHOOK_ATTEMPTS = Counter(
    "callcenter_webhook_attempts_total",
    "CRM webhook attempts by subscription and what became of the delivery (delivered, retry, failed)",
    ["subscription", "result"],
)
WEBHOOK_SECONDS = Histogram(
    "callcenter_webhook_attempt_seconds",
    "How long one CRM webhook attempt took (until the answer, the timeout or the error)",
    buckets=(0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30),
)
TICKET_APPROVALS = Counter(
    "callcenter_ticket_approvals_total",
    "High-risk ticket actions by action (delete, priority) and step (requested, approved, refused)",
    ["action", "step"],
)
TICKET_UPLOADS = Counter(
    "callcenter_ticket_uploads_total",
    "Uploads to tickets by result (stored, too_large, refused_kind)",
    ["result"],
)
