"""Settings of the voice side: Asterisk (AMI, SIP), FastAGI, agents, the ACD and the IVR."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from callcenter.settings.base import HOSTNAME, Network, Section, split_list


class AsteriskServer(Section):
    """One Asterisk server of several (``asterisk.servers``; docs/asterisk.md, "Several Asterisk
    servers behind Kamailio"). AMI login and timeouts are ``asterisk.*``'s, shared by all."""

    # Also the name of the PJSIP trunk to it on the others ("peer-<name>").
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    host: str = "127.0.0.1"  # where its SIP and AMI listen
    sip_port: int = Field(5060, ge=1, le=65535)
    ami_port: int = Field(5038, ge=1, le=65535)
    # Its asterisk.conf systemname: Asterisk starts every uniqueid it mints with "<system_name>-",
    # which keeps them apart across servers and tells the server which one a FastAGI session came
    # from. None: "callcenter-<name>" (the sandbox's, whose instance is the server's name).
    system_name: str | None = Field(None, pattern=r"^[A-Za-z0-9_.-]{1,64}$")

    @property
    def uniqueid_prefix(self) -> str:
        return f"{self.system_name or 'callcenter-' + self.name}-"


class AsteriskSettings(Section):
    """Where Asterisk is and how we reach it. All ports are configuration so instances can coexist."""

    host: str = "127.0.0.1"
    sip_port: int = Field(5060, ge=1, le=65535)
    rtp_port_start: int = Field(10000, ge=1024, le=65535)
    rtp_port_end: int = Field(10999, ge=1024, le=65535)
    ami_port: int = Field(5038, ge=1, le=65535)
    ami_username: str = "callcenter"
    ami_secret: SecretStr = SecretStr("callcenter-ami-secret")
    # Test credentials for the sandbox endpoints; production templates its own (see docs).
    agent_password: SecretStr = SecretStr("agentpass")
    trunk_username: str = "caller"
    trunk_password: SecretStr = SecretStr("callerpass")
    inbound_number: str = "5000"
    # Sandbox: a Debian sid root with Asterisk, cached outside the clone.
    sandbox_root: Path = Path("/var/cache/callcenter/asterisk-root")
    sandbox_instance: str = Field("default", pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    # AMI connection behaviour.
    action_timeout: float = Field(10.0, gt=0)
    reconnect_min_delay: float = Field(0.5, gt=0)
    # A refused connect costs Asterisk nothing: the backoff stays short, so that the server logs in
    # within a few seconds of Asterisk coming back (the time is metric callcenter_ami_reconnect_seconds).
    reconnect_max_delay: float = Field(5.0, gt=0)
    # Leftover channels (issue 13 #11): a channel in our waiting contexts (cc-wait, cc-hold,
    # cc-held) that no call of ours owns, or a Surrogate/... channel, in no bridge and older than
    # leftover_seconds, is hung up at every reconcile and every leftover_sweep_seconds (0: only at
    # reconcile).
    leftover_seconds: float = Field(120.0, gt=0)
    leftover_sweep_seconds: float = Field(300.0, ge=0)
    # Record every AMI event and action, FastAGI session and minted id to a new JSON-lines file in
    # this directory at each start (docs/asterisk.md, "Record and replay"). None: not recorded.
    session_recordings: Path | None = None
    # --- Asterisk's network configuration (rendered into manager.conf / pjsip.conf) ---------------
    # The address AMI listens on (manager.conf bindaddr): an IP address, not a name. None: ``host``.
    # In a container, bind it to the address on the network the server shares with Asterisk only.
    ami_bind_host: str | None = None
    # Networks allowed to log in to AMI (manager.conf permit=, after denying everything). Each is an
    # IPv4/IPv6 address or network: "10.0.0.5", "10.0.0.0/8" or "10.0.0.0/255.0.0.0" (host bits
    # must be zero). From the environment also as a comma-separated list. At least one.
    ami_permit: tuple[Network, ...] = ("127.0.0.1/255.255.255.255",)
    # NAT (Asterisk in a container, or behind a router): the address phones and carriers reach
    # Asterisk at (an IP address or a DNS name), rendered into the PJSIP transport as
    # external_media_address and external_signaling_address; and the networks Asterisk reaches
    # without that NAT (local_net=: SIP and SDP towards them keep the local address). Each is
    # rendered only when set.
    external_address: str | None = None
    local_nets: tuple[Network, ...] = ()
    # Agents added while the server runs (docs/admin.md, "Adding and removing agents"): Asterisk's
    # configuration directory as this server sees it (the sandbox instance's etc/asterisk; a volume
    # shared with the Asterisk container). The routing owner writes their PJSIP endpoints to
    # pjsip_added_agents.inc there (pjsip.conf #tryincludes it) and reloads res_pjsip over AMI.
    # None: an added agent gets no endpoint from the server (write it into pjsip.conf yourself).
    config_dir: Path | None = None
    # --- Several Asterisk servers (docs/asterisk.md) ------------------------------------------------
    # Empty: one server, the one above (host, sip_port, ami_port). Otherwise the server drives each
    # of these over its own AMI connection (host and ami_port above are then not used for AMI), and
    # each Asterisk gets a PJSIP trunk to every other ("peer-<name>", authenticated by peer_secret)
    # for an agent registered on one to answer a caller on another.
    servers: tuple[AsteriskServer, ...] = ()
    # Which of ``servers`` this Asterisk is, when rendering its configuration (the sandbox).
    server_name: str | None = None
    peer_secret: SecretStr = SecretStr("callcenter-peer-secret")
    # A server whose AMI connection stays lost this long (while another is up) is reconciled away:
    # the callers it carried are gone (a dead Asterisk ends its calls).
    server_lost_seconds: float = Field(10.0, gt=0)
    # The agent panel's softphone (WebRTC, docs/agent-panel.md): Asterisk's HTTP server carries SIP
    # over a WebSocket at /ws on this address and port (http.conf; None: sip_port + 28, 5088 by
    # default, so instances with their own SIP port never share it). ``webrtc_url`` is what
    # browsers open; None: ws://<host>:<port>/ws, which Chromium and Firefox accept from a page on
    # http://127.0.0.1 or localhost only. Pages served over https must use wss:// (Asterisk's TLS
    # listener in http.conf, or a TLS proxy in front of it), e.g. "wss://pbx.example.com:8089/ws".
    webrtc_port: int | None = Field(None, ge=1, le=65535)
    webrtc_bind_host: str | None = None  # None: ``host``
    webrtc_url: str | None = Field(None, pattern=r"^wss?://[^\s]+$")

    @field_validator("ami_bind_host", "external_address", "webrtc_bind_host", "webrtc_url", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        # An empty environment variable (CALLCENTER_ASTERISK__EXTERNAL_ADDRESS=) means "not set".
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("ami_permit", "local_nets", mode="before")
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        return split_list(value)  # "10.0.0.0/8, 192.168.0.0/16" (an environment variable) -> a list

    @field_validator("ami_bind_host", "webrtc_bind_host")
    @classmethod
    def _ip_address(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ipaddress.ip_address(value)
            except ValueError:
                raise ValueError(f"{value!r} is not an IPv4 or IPv6 address") from None
        return value

    @field_validator("ami_permit")
    @classmethod
    def _some_permit(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if not value:
            raise ValueError("at least one network must be permitted (else no one can log in)")
        return value

    @field_validator("external_address")
    @classmethod
    def _address_or_name(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            ipaddress.ip_address(value)
        except ValueError:
            if not HOSTNAME.fullmatch(value) or value.rstrip(".").rsplit(".", 1)[-1].isdigit():
                raise ValueError(f"{value!r} is neither an IP address nor a DNS name") from None
        return value

    @model_validator(mode="after")
    def _rtp_range(self) -> AsteriskSettings:
        if self.rtp_port_end <= self.rtp_port_start:
            raise ValueError("rtp_port_end must be greater than rtp_port_start")
        return self

    @model_validator(mode="after")
    def _servers(self) -> AsteriskSettings:
        names = [server.name for server in self.servers]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"servers: the name {name!r} is used twice")
        prefixes = [server.uniqueid_prefix for server in self.servers]
        for prefix in prefixes:
            if prefixes.count(prefix) > 1:
                raise ValueError(f"servers: the system name {prefix[:-1]!r} is used twice")
        if self.server_name is not None and self.server_name not in names:
            raise ValueError(f"server_name {self.server_name!r} is none of servers ({', '.join(names)})")
        return self

    def server(self, name: str) -> AsteriskServer:
        return next(s for s in self.servers if s.name == name)

    @property
    def http_port(self) -> int:
        """The port of Asterisk's HTTP server (the softphones' WebSocket)."""
        return self.webrtc_port if self.webrtc_port is not None else min(self.sip_port + 28, 65535)

    @property
    def softphone_url(self) -> str:
        """The WebSocket URL browsers register the softphone over."""
        return self.webrtc_url or f"ws://{self.host}:{self.http_port}/ws"


class AgiSettings(Section):
    """Our FastAGI server; Asterisk's dialplan connects to it."""

    host: str = "127.0.0.1"
    port: int = Field(4573, ge=1, le=65535)
    # Several nodes: the other nodes' FastAGI addresses ("host:port"), which the generated
    # dialplan tries in turn when this one fails (docs/cluster.md).
    nodes: tuple[str, ...] = ()

    @field_validator("nodes")
    @classmethod
    def _addresses(cls, nodes: tuple[str, ...]) -> tuple[str, ...]:
        for node in nodes:
            if not re.fullmatch(r"[A-Za-z0-9_.-]{1,200}:[0-9]{1,5}", node):
                raise ValueError(f"{node!r} is not host:port")
        return nodes


MessagingChannelName = Literal["webchat", "sms", "whatsapp", "wechat", "email"]


class AgentSettings(Section):
    """An agent known to the server. ``extension`` is the PJSIP endpoint the agent's phone registers as."""

    id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    name: str = ""
    # Not ending in "-web": <extension>-web is the agent's browser softphone (settings/phones.py).
    extension: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,60}$")
    queues: tuple[str, ...] = ("support",)
    # Logged in (and available) as soon as the phone registers; otherwise only through the API.
    auto_login: bool = True
    # Skill -> level (1 to 10) and spoken languages (codes such as "en", "fr"): routing needs.
    skills: Mapping[str, Annotated[int, Field(ge=1, le=10)]] = Field(default_factory=dict)
    languages: tuple[str, ...] = ()
    # Messaging (docs/acd.md, "Conversations"): how many conversations the agent holds at once, all
    # channels together (0: none); a lower limit for some channels (e.g. {email: 1}); whether new
    # chats are offered during a call, and calls while chats are open.
    max_chats: int = Field(3, ge=0, le=50)
    chat_capacity: Mapping[MessagingChannelName, Annotated[int, Field(ge=0, le=50)]] = Field(
        default_factory=dict
    )
    chat_while_on_call: bool = False
    call_while_chatting: bool = True

    @field_validator("extension")
    @classmethod
    def _not_a_browser_endpoint(cls, value: str) -> str:
        if value.endswith("-web"):
            raise ValueError(f"{value!r} ends in -web, the name of an agent's browser softphone")
        return value


class AcdSettings(Section):
    ring_timeout: float = Field(20.0, gt=0, le=300)
    wrap_up_seconds: float = Field(0.0, ge=0, le=3600)
    # A fixed IVR for the foundation: digit -> queue. The YAML IVR engine replaces this.
    menu: Mapping[str, str] = Field(default_factory=lambda: {"1": "support", "2": "sales"})
    menu_prompt: str = "callcenter/welcome-menu"
    menu_timeout: float = Field(6.0, gt=0)
    menu_attempts: int = Field(2, ge=1, le=10)
    # Queue definitions (skills, strategy, overflow, exits...), reloaded when the file changes.
    # None: every queue named in the menu or by agents routes longest-idle with no skill needed.
    queues_file: Path | None = None
    queues_reload_seconds: float = Field(2.0, gt=0, le=3600)
    # What agents serve, edited at runtime (docs/admin.md): queues, skills, languages and chat
    # capacity per agent id, over the values of ``agents``; written by /admin/agents, reloaded when
    # it changes (same interval as the queues file). None: agents are edited here only.
    agents_file: Path | None = None
    # How Asterisk dials a customer for a callback: {number} is the number they called from.
    # The sandbox's callers are its trunk's registered phones; production goes out through the
    # carrier trunk, e.g. "PJSIP/{number}@carrier".
    callback_dial: str = Field("PJSIP/{number}", pattern=r"^[A-Za-z0-9/@._:{}+-]+$")
    # Where a queue's voicemail exit (max wait reached) leaves the caller's message: box@context.
    exit_mailbox: str = Field("100@default", pattern=r"^[A-Za-z0-9_-]+@[A-Za-z0-9_-]+$")
    # Conversations (chats, SMS, WhatsApp, WeChat, email): seconds an offer stays on the agent's
    # screen; whether letting it time out pauses the agent; seconds an agent who declined is not
    # offered that conversation again; seconds a returning customer waits for their last agent;
    # the priority of a conversation transferred to a queue, and how long one transferred to an
    # agent waits for that agent before anyone in its queue may take it.
    offer_timeout: float = Field(30.0, gt=0, le=3600)
    pause_on_offer_timeout: bool = True
    decline_seconds: float = Field(60.0, ge=0, le=86400)
    sticky_seconds: float = Field(30.0, ge=0, le=86400)
    transfer_priority: int = Field(100, ge=0)
    transfer_agent_seconds: float = Field(60.0, ge=0, le=86400)
    # The agent panel: the reasons an agent picks from to pause; the disposition codes of the
    # wrap-up form (empty: the form asks for none and any code is taken).
    pause_reasons: tuple[str, ...] = ("break", "lunch", "training", "back office")
    dispositions: tuple[str, ...] = ("resolved", "follow-up", "escalated", "wrong number")
    # Blind transfer to an outside number: how Asterisk dials it ({number}), like callback_dial.
    transfer_dial: str = Field("PJSIP/{number}", pattern=r"^[A-Za-z0-9/@._:{}+-]+$")


class IvrSettings(Section):
    """The YAML IVR. Without ``flows_dir`` the server runs the fixed menu of ``acd.menu``."""

    flows_dir: Path | None = None  # directory of flow files (*.yaml); e.g. "ivr_flows"
    entry_flow: str = Field("main", pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$")  # the flow calls start in
    # Our prompts: text-to-speech renders under <prompts_dir>/cc-tts/, recorded files beside. Asterisk
    # must be able to read this directory (sounds found here are played by absolute path).
    prompts_dir: Path = Path("prompts")
    # The same directory as Asterisk sees it, when that differs (the sandbox's chroot, a container):
    # e.g. prompts_dir /var/cache/callcenter/asterisk-root/var/lib/callcenter/prompts is
    # /var/lib/callcenter/prompts for the sandbox Asterisk. Unset: the same path.
    asterisk_prompts_dir: PurePosixPath | None = None
    # More directories a prompt's sound file may be in (Asterisk's own sounds) for the audio check.
    sound_dirs: tuple[Path, ...] = ()
    tts_voice: str = ""  # an espeak-ng voice variant (e.g. "f3"); "" is the language's default
    render_prompts: bool = True  # render missing text-to-speech prompts when flows are (re)loaded
    check_audio: bool = True  # refuse flows whose prompts have no audio file (see sound_dirs)
    reload_interval: float = Field(1.0, gt=0, le=3600)  # seconds between checks for edited flows
