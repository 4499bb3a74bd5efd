// The supervisor console: the wallboard over Socket.IO (/supervisor), alerts, actions.
// The server sends only what this login's business lines allow; a reconnect asks for the state
// again ("sync"), so the page never needs a reload.
"use strict";
(() => {
  const { $, el } = window.cc;
  const pct = (x) => (x === null || x === undefined ? "–" : `${Math.round(x * 100)} %`);
  const dur = (s) => {
    s = Math.max(0, Math.round(s));
    const m = Math.floor(s / 60), h = Math.floor(m / 60);
    return h ? `${h}h${String(m % 60).padStart(2, "0")}` : m ? `${m}m${String(s % 60).padStart(2, "0")}s` : `${s}s`;
  };
  let board = { now: 0, queues: [], agents: [] };
  let receivedAt = Date.now();
  const spyModes = [...$("#spy-modes").content.querySelectorAll("option")].map((o) => o.value);
  // Who is looking: their business lines ("" = every line) and their desk phone ("" = none).
  const scope = $("#scope").dataset;

  // An empty table says why: scoped lines that match no queue, or simply nothing configured.
  function emptyRow(columns, what) {
    const why = scope.lines
      ? `No ${what} on your business lines (${scope.lines}).`
      : `No ${what} configured.`;
    return el("tr", {}, el("td", { colspan: String(columns), class: "empty" }, why));
  }
  function explainEmpty() {
    const box = $("#empty-board");
    const empty = !board.queues.length && !board.agents.length;
    box.hidden = !empty;
    if (!empty) return;
    box.textContent = scope.lines
      ? `Your business lines (${scope.lines}) match no queue, so the tables below are empty. `
        + "A queue belongs to a line when the queues file says so (line: ...) or when it is named after the line. "
        + "An admin can change your lines on the Users page."
      : "No queue or agent is configured yet.";
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
    svg.setAttribute("aria-label", `${q.name}: last hour, peak ${peak} waiting, service level ${pct(q.hour_service_level)}`);
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
        .map(([s, n]) => el("span", { class: `badge ${s}` }, `${s.replace("_", " ")} ${n}`));
      return el("tr", { class: q.alert ? "below" : "", "data-queue": q.name },
        el("th", { scope: "row" }, q.name, q.line && q.line !== q.name ? el("small", { class: "muted" }, ` (${q.line})`) : "",
          q.alert ? el("span", { class: "below-mark" }, "below target") : ""),
        el("td", { class: "waiting-count" }, q.waiting),
        el("td", { class: "longest" }, dur(q.longest_wait_seconds)),
        el("td", { class: "sl" }, `${pct(q.hour_service_level)} / ${pct(q.service_level)}`),
        el("td", {}, `${pct(q.service_level_target)} in ${q.service_level_seconds}s`),
        el("td", {}, pct(q.abandonment_rate)),
        el("td", { class: "states" }, ...states),
        el("td", {}, chart(q), el("div", { class: "legend" }, "bars: waiting (peak per minute) · line: service level · dotted: target")));
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
      type: "button", "data-action": action, "aria-label": `${label} ${a.name}`,
      onclick: () => act(window.cc.api("POST", `/api/agents/${encodeURIComponent(a.id)}/${action}`,
        action === "pause" ? { reason: "supervisor" } : undefined), `${a.name}: ${label.toLowerCase()} done`),
    }, label);
    if (a.state === "logged_out") box.append(force("login", "Log in"));
    else box.append(force("logout", "Log out"));
    if (a.state === "paused") box.append(force("resume", "Resume"));
    else if (a.state !== "logged_out") box.append(force("pause", "Pause"));
    if (a.interactions.some((i) => i.channel === "voice")) {
      const mode = el("select", { "aria-label": `Listen mode for ${a.name}` },
        ...spyModes.map((m) => el("option", { value: m }, m)));
      // Without a phone on the account the button says so (and why, through #phone-info).
      const call = el("button", {
        type: "button", "aria-describedby": "phone-info",
        onclick: () => act(window.cc.api("POST", "/api/supervisor/listen",
          { agent_id: a.id, mode: mode.value }), `Your phone (${scope.phone}) rings: ${mode.value} on ${a.name}`),
      }, scope.phone ? `Call me (${scope.phone})` : "Call me: no phone set");
      if (!scope.phone) { call.disabled = true; mode.disabled = true; }
      box.append(mode, call);
    }
    return box;
  }

  function workItem(a, i) {
    const item = el("li", {}, `${i.channel} · ${i.customer || "?"} · ${i.queue || ""} · ${dur(board.now - i.since)}`);
    if (i.channel !== "voice" && i.held) {
      // Reassign to another agent of the board, or back to a queue (its line's agents take it).
      const to = el("select", { "aria-label": `Reassign ${i.channel} of ${a.name} to` },
        el("option", { value: "" }, "Reassign to…"),
        el("optgroup", { label: "Agents" }, ...board.agents.filter((b) => b.id !== a.id)
          .map((b) => el("option", { value: `agent:${b.id}` }, `${b.name} (${b.state.replace("_", " ")})`))),
        el("optgroup", { label: "Queues" }, ...board.queues.map((q) => el("option", { value: `queue:${q.name}` }, q.name))));
      item.append(" ", to, el("button", {
        type: "button", onclick: () => {
          const [kind, name] = to.value.split(/:(.*)/s);
          if (!name) return;
          const body = { interaction_id: i.interaction_id, [kind === "queue" ? "to_queue" : "to_agent"]: name };
          act(window.cc.api("POST", "/api/supervisor/reassign", body), `Reassigned to ${name}`);
        },
      }, "Reassign"));
    }
    return item;
  }

  function renderAgents() {
    const body = $("#agents tbody");
    const drift = (Date.now() - receivedAt) / 1000;
    if (!board.agents.length) { body.replaceChildren(emptyRow(5, "agents")); return; }
    body.replaceChildren(...board.agents.map((a) => el("tr", { "data-agent": a.id },
      el("th", { scope: "row" }, a.name, el("small", { class: "muted" }, ` ${a.id} · ext ${a.extension}${a.registered ? "" : " · phone offline"}`)),
      el("td", { class: "state" }, el("span", { class: `badge ${a.state}` }, a.state.replace("_", " ")), a.reason ? ` (${a.reason})` : ""),
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
      el("button", { type: "button", onclick: () => b.remove() }, "Dismiss"));
    $("#alerts").prepend(b);
  }

  const socket = io("/supervisor", { transports: ["websocket"] });
  const status = $("#connection");
  socket.on("connect", () => {
    status.textContent = "Live";
    socket.emit("sync", {}, (data) => { if (data && !data.error) show(data); });
  });
  socket.on("disconnect", () => { status.textContent = "Reconnecting…"; });
  socket.on("connect_error", (err) => { status.textContent = `Not connected: ${err.message}`; });
  socket.on("wallboard", show);
  socket.on("alert", (a) => {
    if (a.kind === "service_level") {
      banner(a.below ? `Queue ${a.queue}: service level ${pct(a.service_level)} is below its target ${pct(a.target)}`
        : `Queue ${a.queue}: service level back to ${pct(a.service_level)}`, !a.below);
    } else if (a.kind === "emergency_word") {
      banner(`Emergency word "${a.word}" heard in a call${a.agent_id ? ` of agent ${a.agent_id}` : ""}${a.queue ? ` (${a.queue})` : ""}`, false);
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
