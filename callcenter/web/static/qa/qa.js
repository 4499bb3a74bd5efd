// Shared helpers of the QA pages. No framework, no build step: text goes in with textContent only.
"use strict";

const qa = {
  async api(path, options = {}) {
    // Signed in with the session cookie: changes carry the page's CSRF token (docs/security.md).
    const method = (options.method || "GET").toUpperCase();
    const headers = { ...(options.headers || {}) };
    const meta = document.querySelector('meta[name="csrf-token"]');
    if (method !== "GET" && method !== "HEAD" && meta) headers["X-CSRF-Token"] = meta.content;
    const response = await fetch(path, { credentials: "same-origin", ...options, headers });
    let body = null;
    try { body = await response.json(); } catch (err) { body = null; }
    if (!response.ok) {
      const message = body && body.error ? body.error : `HTTP ${response.status}`;
      throw new Error(message);
    }
    return body;
  },
  el(tag, props = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props)) {
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("data-") || key.startsWith("aria-") || key === "for" || key === "role") node.setAttribute(key, value);
      else node[key] = value;
    }
    for (const child of children) node.append(child);
    return node;
  },
  time(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
  },
  // Speaker labels of the transcript (the data says "agent" / "caller").
  speaker(name) { return { agent: t("agent"), caller: t("caller") }[name] || name; },
  scoreText(score) { return score === null || score === undefined ? "—" : `${score}`; },
  flag(name) { return qa.el("span", { class: name === "emergency" ? "flag emergency" : "flag", text: name }); },
};
