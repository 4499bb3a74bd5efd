// The supervisor console: the wallboard over Socket.IO (/supervisor), alerts, actions.
// The server sends only what this login's business lines allow; a reconnect asks for the state
// again ("sync"), so the page never needs a reload.
"use strict";
(() => {
  const { $, el } = window.cc;
  const pct = (x) => (x === null || x === undefined ? "–" : window.ccLocale.percent(x));
  const dur = (s) => {
    s = Math.max(0, Math.round(s));
    const m = Math.floor(s / 60), h = Math.floor(m / 60);
    const two = (n) => String(n).padStart(2, "0");
    return h ? `${h}:${two(m % 60)}:${two(s % 60)}` : `${m}:${two(s % 60)}`;
  };
  const stateNames = {
    available: t("available"), offered: t("ringing"), busy: t("busy"), wrap_up: t("wrap-up"),
    paused: t("paused"), logged_out: t("logged out"),
  };
  const stateName = (s) => stateNames[s] || s.replace("_", " ");
  const spyNames = { listen: t("listen"), whisper: t("whisper"), barge: t("barge") };
  const channelNames = {
    webchat: t("webchat"), sms: t("sms"), whatsapp: t("whatsapp"), wechat: t("wechat"), email: t("email"), voice: t("voice"),
  };
  const channel = (name) => channelNames[name] || name;
  let board = { now: 0, queues: [], agents: [] };
  let receivedAt = Date.now();
  const spyModes = [...$("#spy-modes").content.querySelectorAll("option")].map((o) => o.value);
  // Who is looking: their business lines ("" = every line) and their desk phone ("" = none).
  const scope = $("#scope").dataset;

  // An empty table says why: scoped lines that match no queue, or simply nothing configured.
  function emptyRow(columns, what) {
    const why = what === "queues"
      ? (scope.lines ? t("No queues on your business lines ({lines}).", { lines: scope.lines }) : t("No queues configured."))
      : (scope.lines ? t("No agents on your business lines ({lines}).", { lines: scope.lines }) : t("No agents configured."));
    return el("tr", {}, el("td", { colspan: String(columns), class: "empty" }, why));
  }
  function explainEmpty() {
    const box = $("#empty-board");
    const empty = !board.queues.length && !board.agents.length;
    box.hidden = !empty;
    if (!empty) return;
    box.textContent = scope.lines
      ? t("Your business lines ({lines}) match no queue, so the tables below are empty.", { lines: scope.lines }) + " "
        + t("A queue belongs to a line when the queues file says so (line: ...) or when it is named after the line.") + " "
        + t("An admin can change your lines on the Users page.")
      : t("No queue or agent is configured yet.");
  }

  // An inline SVG chart: waiting (solid, scaled to the hour's peak) and service level (dashed, 0..1)
  // per minute over the last hour, with the target as a line.
  const SVG = "http://www.w3.org/2000/svg";
  function chart(q) {
    const w = 240, h = 60, pts = q.series, n = pts.length || 1;
    const peak = Math.max(1, ...pts.map((p) => p[1] || 0));
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("class", "chart");
    svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", t("{queue}: last hour, peak {peak} waiting, service level {level}", { queue: q.name, peak, level: pct(q.hour_service_level) }));
    const add = (tag, attrs) => {
      const node = document.createElementNS(SVG, tag);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
      svg.append(node);
      return node;
    };
    const slot = w / n, y = (v) => h - 2 - v * (h - 4);
    // Waiting: one bar per minute, scaled to the hour's peak.
    pts.forEach((p, i) => {
      if (!p[1]) return;
      const top = y(p[1] / peak);
      add("rect", { class: "waiting", x: (i * slot).toFixed(1), y: top.toFixed(1), width: Math.max(1, slot - 1).toFixed(1), height: (h - 2 - top).toFixed(1) });
    });
    add("line", { class: "target", x1: 0, x2: w, y1: y(q.service_level_target), y2: y(q.service_level_target) });
    // Service level: a line through the minutes that counted calls, a dot on each.
    let d = "";
    pts.forEach((p, i) => {
      if (p[2] === null || p[2] === undefined) return;
      const cx = (i + 0.5) * slot, cy = y(p[2]);
      d += `${d ? "L" : "M"}${cx.toFixed(1)},${cy.toFixed(1)} `;
      add("circle", { class: "sl-dot", cx: cx.toFixed(1), cy: cy.toFixed(1), r: 1.8 });
    });
    if (d) add("path", { class: "sl", d: d.trim() });
    return svg;
  }

  function renderQueues() {
    const body = $("#queues tbody");
    if (!board.queues.length) { body.replaceChildren(emptyRow(8, "queues")); return; }
    body.replaceChildren(...board.queues.map((q) => {
      const states = Object.entries(q.agents).filter(([, n]) => n > 0)
        .map(([s, n]) => el("span", { class: `badge ${s}` }, `${stateName(s)} ${n}`));
      return el("tr", { class: q.alert ? "below" : "", "data-queue": q.name },
        el("th", { scope: "row" }, q.name, q.line && q.line !== q.name ? el("small", { class: "muted" }, ` (${q.line})`) : "",
          q.alert ? el("span", { class: "below-mark" }, t("below target")) : ""),
        el("td", { class: "waiting-count" }, window.ccLocale.number(q.waiting)),
        el("td", { class: "longest" }, dur(q.longest_wait_seconds)),
        el("td", { class: "sl" }, `${pct(q.hour_service_level)} / ${pct(q.service_level)}`),
        el("td", {}, t("{level} in {seconds} s", { level: pct(q.service_level_target), seconds: q.service_level_seconds })),
        el("td", {}, pct(q.abandonment_rate)),
        el("td", { class: "states" }, ...states),
        el("td", {}, chart(q), el("div", { class: "legend" }, t("bars: waiting (peak per minute) · line: service level · dotted: target"))));
    }));
  }

  async function act(promise, done) {
    const out = $("#action-result");
    try { await promise; out.textContent = done; out.className = "notice"; }
    catch (err) { out.textContent = err.message; out.className = "error"; }
  }

  function agentActions(a) {
    const box = el("div", { class: "actions" });
    const force = (action, label) => el("button", {
      type: "button", "data-action": action, "aria-label": t("{action} {agent}", { action: label, agent: a.name }),
      onclick: () => act(window.cc.api("POST", `/api/agents/${encodeURIComponent(a.id)}/${action}`,
        action === "pause" ? { reason: "supervisor" } : undefined), t("{agent}: {action} done", { agent: a.name, action: label.toLowerCase() })),
    }, label);
    if (a.state === "logged_out") box.append(force("login", t("Log in")));
    else box.append(force("logout", t("Log out")));
    if (a.state === "paused") box.append(force("resume", t("Resume")));
    else if (a.state !== "logged_out") box.append(force("pause", t("Pause")));
    if (a.interactions.some((i) => i.channel === "voice")) {
      const mode = el("select", { "aria-label": t("Listen mode for {agent}", { agent: a.name }) },
        ...spyModes.map((m) => el("option", { value: m }, spyNames[m] || m)));
      // Without a phone on the account the button says so (and why, through #phone-info).
      const call = el("button", {
        type: "button", "aria-describedby": "phone-info",
        onclick: () => act(window.cc.api("POST", "/api/supervisor/listen",
          { agent_id: a.id, mode: mode.value }), t("Your phone ({phone}) rings: {mode} on {agent}", { phone: scope.phone, mode: spyNames[mode.value] || mode.value, agent: a.name })),
      }, scope.phone ? t("Call me ({phone})", { phone: scope.phone }) : t("Call me: no phone set"));
      if (!scope.phone) { call.disabled = true; mode.disabled = true; }
      box.append(mode, call);
    }
    return box;
  }

  function workItem(a, i) {
    const item = el("li", {}, `${channel(i.channel)} · ${i.customer || "?"} · ${i.queue || ""} · ${dur(board.now - i.since)}`);
    if (i.channel !== "voice" && i.held) {
      // Reassign to another agent of the board, or back to a queue (its line's agents take it).
      const to = el("select", { "aria-label": t("Reassign {channel} of {agent} to", { channel: channel(i.channel), agent: a.name }) },
        el("option", { value: "" }, t("Reassign to…")),
        el("optgroup", { label: t("Agents") }, ...board.agents.filter((b) => b.id !== a.id)
          .map((b) => el("option", { value: `agent:${b.id}` }, `${b.name} (${stateName(b.state)})`))),
        el("optgroup", { label: t("Queues") }, ...board.queues.map((q) => el("option", { value: `queue:${q.name}` }, q.name))));
      item.append(" ", to, el("button", {
        type: "button", onclick: () => {
          const [kind, name] = to.value.split(/:(.*)/s);
          if (!name) return;
          const body = { interaction_id: i.interaction_id, [kind === "queue" ? "to_queue" : "to_agent"]: name };
          act(window.cc.api("POST", "/api/supervisor/reassign", body), t("Reassigned to {target}", { target: name }));
        },
      }, t("Reassign")));
    }
    return item;
  }

  function renderAgents() {
    const body = $("#agents tbody");
    const drift = (Date.now() - receivedAt) / 1000;
    if (!board.agents.length) { body.replaceChildren(emptyRow(5, "agents")); return; }
    body.replaceChildren(...board.agents.map((a) => el("tr", { "data-agent": a.id },
      el("th", { scope: "row" }, a.name, el("small", { class: "muted" }, " " + t("{id} · ext {extension}", { id: a.id, extension: a.extension }) + (a.registered ? "" : " · " + t("phone offline")))),
      el("td", { class: "state" }, el("span", { class: `badge ${a.state}` }, stateName(a.state)), a.reason ? ` (${a.reason})` : ""),
      el("td", { class: "in-state" }, a.seconds_in_state === null ? "–" : dur(a.seconds_in_state + drift)),
      el("td", {}, el("ul", { class: "work" }, ...a.interactions.map((i) => workItem(a, i)))),
      el("td", {}, agentActions(a)))));
  }

  // Not while the supervisor types or picks in the agents table: the row would be rebuilt under them.
  let pending = false;
  const busy = () => ["INPUT", "SELECT"].includes(document.activeElement?.tagName) && $("#agents").contains(document.activeElement);
  $("#agents").addEventListener("focusout", () => setTimeout(() => { if (pending && !busy()) { pending = false; renderAgents(); } }, 0));

  function show(data) {
    board = data;
    receivedAt = Date.now();
    renderQueues();
    explainEmpty();
    if (busy()) pending = true; else renderAgents();
  }

  function banner(text, good) {
    const b = el("div", { class: `banner ${good ? "good" : "bad"}`, role: "alert" }, text,
      el("button", { type: "button", onclick: () => b.remove() }, t("Dismiss")));
    $("#alerts").prepend(b);
  }

  const socket = io("/supervisor", { transports: ["websocket"] });
  const status = $("#connection");
  socket.on("connect", () => {
    status.textContent = t("Live");
    socket.emit("sync", {}, (data) => { if (data && !data.error) show(data); });
  });
  socket.on("disconnect", () => { status.textContent = t("Reconnecting…"); });
  socket.on("connect_error", (err) => { status.textContent = t("Not connected: {error}", { error: err.message }); });
  socket.on("wallboard", show);
  socket.on("alert", (a) => {
    if (a.kind === "service_level") {
      banner(a.below ? t("Queue {queue}: service level {level} is below its target {target}", { queue: a.queue, level: pct(a.service_level), target: pct(a.target) })
        : t("Queue {queue}: service level back to {level}", { queue: a.queue, level: pct(a.service_level) }), !a.below);
    } else if (a.kind === "emergency_word") {
      banner((a.agent_id ? t("Emergency word \"{word}\" heard in a call of agent {agent}", { word: a.word, agent: a.agent_id })
        : t("Emergency word \"{word}\" heard in a call", { word: a.word })) + (a.queue ? ` (${a.queue})` : ""), false);
    }
  });
  // Time in state keeps counting between pushes.
  setInterval(() => {
    const drift = (Date.now() - receivedAt) / 1000;
    for (const a of board.agents) {
      const cell = document.querySelector(`#agents tr[data-agent="${CSS.escape(a.id)}"] .in-state`);
      if (cell && a.seconds_in_state !== null) cell.textContent = dur(a.seconds_in_state + drift);
    }
  }, 1000);
})();
