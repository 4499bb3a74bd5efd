// Shared by every page: fetch() with the session's CSRF token (state-changing requests need it),
// and the two DOM helpers the admin and supervisor pages build with.
"use strict";
window.cc = {
  csrfToken() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  },
  // The answer as it came, a refusal's body (its problems) included: { ok, status, data }.
  async request(method, path, body) {
    const headers = { "X-CSRF-Token": window.cc.csrfToken() };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const resp = await fetch(path, {
      method, headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const data = await resp.json().catch(() => ({}));
    return { ok: resp.ok, status: resp.status, data };
  },
  // The answer's body; a refusal throws its error.
  async api(method, path, body) {
    const r = await window.cc.request(method, path, body);
    if (!r.ok) throw new Error(r.data.error || `HTTP ${r.status}`);
    return r.data;
  },
  $: (sel) => document.querySelector(sel),
  // An element with attributes ("class", "on<event>" handlers, the rest as attributes) and children
  // (nodes, or text: never parsed as HTML).
  el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") node.className = v; else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v);
    }
    for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return node;
  },
};
