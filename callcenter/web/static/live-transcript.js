// The live transcript on the agent panel (docs/agent-panel.md): what the caller and the agent say
// on the call under way, as the recognizer hears it (redacted on the server before it is sent),
// and the QA checklist of phrases still to say. Text is always inserted as text, never as HTML.
// Uses the panel's socket (agent-panel.js sets window.ccAgentSocket).
"use strict";
(() => {
  const socket = window.ccAgentSocket;
  const section = document.getElementById("live-section");
  if (!socket || !section) return;
  const lines = document.getElementById("live-lines");
  const partial = document.getElementById("live-partial");
  const checklist = document.getElementById("live-checklist");
  const who = { caller: t("Caller"), agent: t("You") };
  const partials = new Map(); // speaker -> text being said
  let current = null; // the interaction shown
  const MAX_LINES = 200;

  function follow(interactionId) {
    if (current === interactionId) return;
    current = interactionId;
    lines.replaceChildren();
    checklist.replaceChildren();
    checklist.hidden = true;
    partials.clear();
    renderPartial();
    section.classList.remove("ended");
    section.hidden = false;
  }
  function renderPartial() {
    partial.textContent = [...partials].filter(([, text]) => text).map(([speaker, text]) => `${who[speaker] || speaker}: ${text}…`).join("  ");
  }

  socket.on("live_text", (m) => {
    follow(m.interaction_id);
    if (!m.final) { partials.set(m.speaker, m.text); renderPartial(); return; }
    partials.delete(m.speaker);
    renderPartial();
    if (!m.text) return;
    if (window.ccKb && m.speaker === "caller") window.ccKb.heard(m.interaction_id, m.text); // agent assist
    const line = document.createElement("li");
    line.dataset.speaker = m.speaker;
    const name = document.createElement("span");
    name.className = "who";
    name.textContent = who[m.speaker] || m.speaker;
    line.append(name, " ", m.text);
    lines.append(line);
    while (lines.children.length > MAX_LINES) lines.firstElementChild.remove();
    line.scrollIntoView({ block: "nearest" });
  });
  socket.on("live_checklist", (c) => {
    follow(c.interaction_id);
    checklist.replaceChildren(...c.items.map((item) => {
      const li = document.createElement("li");
      li.className = item.said ? "said" : "todo";
      li.textContent = `${item.said ? "✓" : "○"} ${item.phrases[0] || item.rule}`;
      li.title = item.phrases.join(" / ");
      return li;
    }));
    checklist.hidden = c.items.length === 0;
  });
  socket.on("call_ended", (e) => {
    if (e.interaction_id !== current) return;
    partials.clear();
    renderPartial();
    section.classList.add("ended");
  });
})();
