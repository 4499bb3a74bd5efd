// Live transcripts on the supervisor console (docs/supervisor.md): the final text of the calls of
// the supervisor's lines as they are said (redacted on the server), one call shown at a time — pick
// it, or it follows the agent you listen to —, and live QA alerts (an emergency word, the caller's
// anger) as banners. Uses the console's socket (supervisor.js sets window.ccSupervisorSocket).
"use strict";
(() => {
  const socket = window.ccSupervisorSocket;
  const section = document.getElementById("live-section");
  if (!socket || !section) return;
  const calls = new Map(); // interaction id -> {agent_name, queue, lines: [...]}
  const list = document.getElementById("live-calls");
  const lines = document.getElementById("live-lines");
  const alerts = document.getElementById("alerts");
  let shown = null;
  const MAX_LINES = 200, MAX_CALLS = 50;

  function renderCalls() {
    list.replaceChildren(...[...calls].map(([id, c]) => {
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.interaction = id;
      b.setAttribute("aria-pressed", String(id === shown));
      b.textContent = c.queue ? `${c.agent_name} (${c.queue})` : c.agent_name;
      b.addEventListener("click", () => show(id));
      return b;
    }));
    section.hidden = calls.size === 0;
  }
  function line(m) {
    const li = document.createElement("li");
    li.dataset.speaker = m.speaker;
    const name = document.createElement("span");
    name.className = "who";
    name.textContent = m.speaker === "agent" ? m.agent_name : t("Caller");
    li.append(name, " ", m.text);
    return li;
  }
  function show(id) {
    shown = id;
    const c = calls.get(id);
    lines.replaceChildren(...(c ? c.lines.map(line) : []));
    renderCalls();
  }
  socket.on("live_text", (m) => {
    if (!m.final || !m.text) return;
    let c = calls.get(m.interaction_id);
    if (!c) {
      c = { agent_id: m.agent_id, agent_name: m.agent_name || m.agent_id, queue: m.queue, lines: [] };
      calls.set(m.interaction_id, c);
      while (calls.size > MAX_CALLS) calls.delete(calls.keys().next().value);
      if (shown === null) shown = m.interaction_id;
      renderCalls();
    }
    c.lines.push(m);
    if (c.lines.length > MAX_LINES) c.lines.shift();
    if (shown === m.interaction_id) lines.append(line(m));
  });
  // Listening to an agent (the Listen / Whisper / Barge buttons): show that agent's call.
  document.addEventListener("click", (e) => {
    const row = e.target.closest && e.target.closest("[data-agent]");
    if (!row || !e.target.closest("button")) return;
    for (const [id, c] of calls) if (c.agent_id === row.dataset.agent) show(id);
  });
  socket.on("alert", (a) => {
    if (!a.live || a.kind !== "anger") return; // emergency words: supervisor.js shows them
    const b = document.createElement("div");
    b.className = "banner bad";
    b.setAttribute("role", "alert");
    const text = document.createElement("span");
    text.textContent = t("The caller sounds angry in a call of {agent}: \"{words}\"", { agent: a.agent_name || a.agent_id, words: a.word });
    const open = document.createElement("button");
    open.type = "button";
    open.textContent = t("Show the transcript");
    open.addEventListener("click", () => { show(a.interaction_id); section.scrollIntoView({ block: "center" }); });
    const dismiss = document.createElement("button");
    dismiss.type = "button";
    dismiss.className = "dismiss";
    dismiss.textContent = t("Dismiss");
    dismiss.addEventListener("click", () => b.remove());
    b.append(text, open, dismiss);
    alerts.prepend(b);
  });
})();
