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

  // An empty board says why: scoped lines that match no queue, or simply nothing configured.
  function emptyWhy(what) {
    return what === "queues"
      ? (scope.lines ? t("No queues on your business lines ({lines}).", { lines: scope.lines }) : t("No queues configured."))
      : (scope.lines ? t("No agents on your business lines ({lines}).", { lines: scope.lines }) : t("No agents configured."));
  }
  function emptyRow(columns, what) {
    return el("tr", {}, el("td", { colspan: String(columns), class: "empty" }, emptyWhy(what)));
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

  // Colour thresholds (docs/supervisor.md): a service level at or over its target is good, within
  // 10 points amber, lower red; the longest wait up to the service-level time is good, up to twice
  // amber, longer red. A tile takes the worse of the two; each figure says it in words too.
  const RANK = { good: 0, warn: 1, bad: 2 };
  function levelState(q) {
    const level = q.hour_counted ? q.hour_service_level : q.service_level;
    if (level === null || level === undefined) return "none";
    if (level >= q.service_level_target) return "good";
    return level >= q.service_level_target - 0.1 ? "warn" : "bad";
  }
  function waitState(q) {
    if (!q.waiting || q.longest_wait_seconds <= q.service_level_seconds) return "good";
    return q.longest_wait_seconds <= 2 * q.service_level_seconds ? "warn" : "bad";
  }
  const stateWords = { good: t("on target"), warn: t("near the limit"), bad: t("over the limit"), none: t("no calls yet") };

  // An inline SVG chart: waiting (bars, scaled to the hour's peak) and service level (line, 0..100 %)
  // per minute over the last hour, with the target as a dashed line and labelled axes.
  const SVG = "http://www.w3.org/2000/svg";
  function chart(q) {
    const w = 360, h = 150, left = 34, right = 34, top = 8, bottom = 20;
    const pts = q.series, n = Math.max(60, pts.length || 1);
    const peak = Math.max(1, ...pts.map((p) => p[1] || 0));
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("class", "chart");
    svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", t("{queue}: last hour, peak {peak} waiting, service level {level}", { queue: q.name, peak, level: pct(q.hour_service_level) }));
    const add = (tag, attrs, text) => {
      const node = document.createElementNS(SVG, tag);
      for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
      if (text !== undefined) node.textContent = text;
      svg.append(node);
      return node;
    };
    const plotW = w - left - right, plotH = h - top - bottom;
    const slot = plotW / n, y = (v) => top + plotH - v * plotH;
    const x0 = left + (n - pts.length) * slot;  // the newest minute sits at the right edge
    add("rect", { class: "plot", x: left, y: top, width: plotW, height: plotH });
    pts.forEach((p, i) => {
      if (!p[1]) return;
      const yy = y(p[1] / peak);
      add("rect", { class: "waiting", x: (x0 + i * slot).toFixed(1), y: yy.toFixed(1), width: Math.max(1, slot - 1).toFixed(1), height: (top + plotH - yy).toFixed(1) });
    });
    add("line", { class: "target", x1: left, x2: left + plotW, y1: y(q.service_level_target), y2: y(q.service_level_target) });
    let d = "";
    pts.forEach((p, i) => {
      if (p[2] === null || p[2] === undefined) return;
      const cx = x0 + (i + 0.5) * slot, cy = y(p[2]);
      d += `${d ? "L" : "M"}${cx.toFixed(1)},${cy.toFixed(1)} `;
      add("circle", { class: "sl-dot", cx: cx.toFixed(1), cy: cy.toFixed(1), r: 2.5 });
    });
    if (d) add("path", { class: "sl", d: d.trim() });
    // Axes: waiting on the left (0..peak), service level on the right (0..100 %), time below.
    add("text", { class: "axis", x: left - 4, y: top + 10, "text-anchor": "end" }, window.ccLocale.number(peak));
    add("text", { class: "axis", x: left - 4, y: top + plotH, "text-anchor": "end" }, "0");
    add("text", { class: "axis sl-axis", x: left + plotW + 4, y: top + 10 }, pct(1));
    add("text", { class: "axis sl-axis", x: left + plotW + 4, y: top + plotH }, pct(0));
    add("text", { class: "axis", x: left, y: h - 4 }, t("-60 min"));
    add("text", { class: "axis", x: left + plotW, y: h - 4, "text-anchor": "end" }, t("now"));
    return svg;
  }

  function figure(label, value, cls, state) {
    return el("div", { class: `figure ${cls} ${state || ""}` },
      el("span", { class: "label" }, label), el("span", { class: "value" }, value),
      state ? el("span", { class: "word" }, stateWords[state]) : "");
  }

  function tile(q) {
    const sl = levelState(q), wait = waitState(q);
    const worst = [sl, wait].filter((s) => s in RANK).reduce((a, b) => (RANK[b] > RANK[a] ? b : a), "good");
    const states = Object.entries(q.agents).filter(([, n]) => n > 0)
      .map(([s, n]) => el("li", { class: `badge ${s}` }, `${stateName(s)} ${n}`));
    return el("article", { class: `tile ${worst}${q.alert ? " below" : ""}`, "data-queue": q.name, "data-state": worst, "aria-labelledby": `tile-${q.name}`, tabindex: "-1" },
      el("h3", { id: `tile-${q.name}` }, q.name, q.line && q.line !== q.name ? el("small", { class: "muted" }, ` (${q.line})`) : "",
        q.alert ? el("span", { class: "below-mark" }, t("below target")) : ""),
      el("div", { class: "figures" },
        figure(t("Waiting"), window.ccLocale.number(q.waiting), "waiting-count"),
        figure(t("Longest wait"), dur(q.longest_wait_seconds), "longest", wait),
        figure(t("Service level (hour / since start)"), `${pct(q.hour_service_level)} / ${pct(q.service_level)}`, "sl", sl),
        figure(t("Target"), t("{level} in {seconds} s", { level: pct(q.service_level_target), seconds: q.service_level_seconds }), "target"),
        figure(t("Abandoned"), pct(q.abandonment_rate), "abandoned")),
      el("ul", { class: "states", "aria-label": t("Agents by state") }, ...(states.length ? states : [el("li", { class: "muted" }, t("no agents"))])),
      chart(q),
      el("div", { class: "legend" }, t("bars: waiting (peak per minute) · line: service level · dashed: target")));
  }

  function renderQueues() {
    const box = $("#queues");
    if (!board.queues.length) { box.replaceChildren(el("p", { class: "empty" }, emptyWhy("queues"))); return; }
    box.replaceChildren(...board.queues.map(tile));
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

  // Time in state: amber, then red, past these (seconds) per state; available and logged out never.
  const LONG = { offered: [15, 30], wrap_up: [60, 180], busy: [600, 1200], paused: [600, 1800] };
  function age(a, seconds) {
    const limits = LONG[a.state];
    if (!limits || seconds === null) return "";
    return seconds >= limits[1] ? "bad" : seconds >= limits[0] ? "warn" : "";
  }
  const ageWords = { warn: t("long"), bad: t("very long") };
  function inState(cell, a, drift) {
    const seconds = a.seconds_in_state === null ? null : a.seconds_in_state + drift;
    const level = age(a, seconds);
    cell.className = `in-state ${level}`;
    cell.replaceChildren(seconds === null ? "–" : dur(seconds), level ? el("span", { class: "age-mark" }, ageWords[level]) : "");
  }

  function agentRow(a, drift) {
    const cell = el("td", { class: "in-state" });
    inState(cell, a, drift);
    return el("tr", { "data-agent": a.id, tabindex: "-1" },
      el("th", { scope: "row" }, a.name, el("small", { class: "muted" }, " " + t("{id} · ext {extension}", { id: a.id, extension: a.extension }) + (a.registered ? "" : " · " + t("phone offline")))),
      el("td", { class: "state" }, el("span", { class: `badge ${a.state}` }, stateName(a.state)), a.reason ? ` (${a.reason})` : ""),
      cell,
      el("td", {}, el("ul", { class: "work" }, ...a.interactions.map((i) => workItem(a, i)))),
      el("td", {}, agentActions(a)));
  }

  // Logged-out agents are folded away under a summary with their count (opened on demand).
  function renderAgents() {
    const drift = (Date.now() - receivedAt) / 1000;
    const on = board.agents.filter((a) => a.state !== "logged_out"), off = board.agents.filter((a) => a.state === "logged_out");
    const body = $("#agents tbody");
    if (!board.agents.length) body.replaceChildren(emptyRow(5, "agents"));
    else if (!on.length) body.replaceChildren(el("tr", {}, el("td", { colspan: "5", class: "empty" }, t("Nobody is signed in."))));
    else body.replaceChildren(...on.map((a) => agentRow(a, drift)));
    const fold = $("#logged-out");
    fold.hidden = !off.length;
    fold.querySelector("summary").textContent = t("Logged out ({count})", { count: window.ccLocale.number(off.length) });
    $("#agents-out tbody").replaceChildren(...off.map((a) => agentRow(a, drift)));
  }

  // Not while the supervisor types or picks in the agents tables: the row would be rebuilt under them.
  let pending = false;
  const busy = () => ["INPUT", "SELECT"].includes(document.activeElement?.tagName) && $("#agents-section").contains(document.activeElement);
  $("#agents-section").addEventListener("focusout", () => setTimeout(() => { if (pending && !busy()) { pending = false; renderAgents(); } }, 0));

  function show(data) {
    board = data;
    receivedAt = Date.now();
    renderQueues();
    explainEmpty();
    if (busy()) pending = true; else renderAgents();
  }

  function banner(text, good, ...extra) {
    const b = el("div", { class: `banner ${good ? "good" : "bad"}`, role: "alert" }, el("span", {}, text), ...extra,
      el("button", { type: "button", class: "dismiss", onclick: () => b.remove() }, t("Dismiss")));
    $("#alerts").prepend(b);
  }
  // Brings a tile or an agent's row into view and gives it the focus (keyboard users land there).
  function reveal(selector) {
    const target = document.querySelector(selector);
    if (!target) return;
    const fold = target.closest("details");
    if (fold) fold.open = true;
    target.scrollIntoView({ block: "center" });
    target.focus({ preventScroll: true });
    target.classList.add("flash");
    setTimeout(() => target.classList.remove("flash"), 3000);
  }

  const socket = io("/supervisor", { transports: ["websocket"] });
  window.ccSupervisorSocket = socket; // for the console's other modules (supervisor-live.js)
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
      const show = el("button", { type: "button", onclick: () => reveal(`#queues [data-queue="${CSS.escape(a.queue)}"]`) }, t("Show queue {queue}", { queue: a.queue }));
      banner(a.below ? t("Queue {queue}: service level {level} is below its target {target}", { queue: a.queue, level: pct(a.service_level), target: pct(a.target) })
        : t("Queue {queue}: service level back to {level}", { queue: a.queue, level: pct(a.service_level) }), !a.below, show);
    } else if (a.kind === "emergency_word") {
      // Names the agent (their name, not the id) and opens the call: its QA page (recording,
      // transcript) and the agent's row (listen, whisper, barge).
      const who = a.agent_name || a.agent_id;
      const extra = [el("a", { class: "open-call", href: `/qa/calls/${encodeURIComponent(a.interaction_id)}` }, t("Open the call"))];
      if (a.agent_id) extra.push(el("button", { type: "button", onclick: () => reveal(`[data-agent="${CSS.escape(a.agent_id)}"]`) }, t("Show {agent}", { agent: who })));
      banner((who ? t("Emergency word \"{word}\" heard in a call of {agent}", { word: a.word, agent: who })
        : t("Emergency word \"{word}\" heard in a call", { word: a.word })) + (a.queue ? ` (${a.queue})` : ""), false, ...extra);
    }
  });
  // Time in state keeps counting between pushes.
  setInterval(() => {
    const drift = (Date.now() - receivedAt) / 1000;
    for (const a of board.agents) {
      const cell = document.querySelector(`#agents-section tr[data-agent="${CSS.escape(a.id)}"] .in-state`);
      if (cell && a.seconds_in_state !== null) inState(cell, a, drift);
    }
  }, 1000);
})();
