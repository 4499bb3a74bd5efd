// The calls list: the filters form drives GET /api/qa/calls; the URL keeps the filters.
"use strict";

(() => {
  const form = document.getElementById("filters");
  const status = document.getElementById("status");
  const body = document.getElementById("calls");
  const pageSize = 25;
  let offset = 0;
  let total = 0;

  const params = new URLSearchParams(location.search);
  for (const [key, value] of params) {
    const field = form.elements.namedItem(key);
    if (field) field.value = value;
  }
  offset = Number(params.get("offset") || 0);

  function query() {
    const q = new URLSearchParams();
    for (const field of form.elements) {
      if (field.name && field.value !== "") q.set(field.name, field.value);
    }
    q.set("limit", pageSize);
    q.set("offset", offset);
    return q;
  }

  async function load() {
    const q = query();
    history.replaceState(null, "", `/qa?${q}`);
    status.textContent = t("Searching…");
    try {
      const data = await qa.api(`/api/qa/calls?${q}`);
      total = data.total;
      body.replaceChildren(...data.calls.map(row));
      const last = Math.min(offset + data.calls.length, total);
      status.textContent = total ? t("Calls {from}–{to} of {total}", { from: offset + 1, to: last, total }) : t("No calls match.");
    } catch (err) {
      status.textContent = t("Error: {error}", { error: err.message });
    }
    document.getElementById("prev").disabled = offset === 0;
    document.getElementById("next").disabled = offset + pageSize >= total;
  }

  // Agents by name (the page is given the names of the agents this login may see).
  const agentNames = JSON.parse(document.querySelector("table.calls").dataset.agents || "{}");
  const when = (iso) => window.ccLocale.date(iso);

  function row(call) {
    // The call's link reads as its date and time; its id follows, smaller (still the link's name).
    const link = qa.el("a", { href: `/qa/calls/${encodeURIComponent(call.interaction_id)}` },
      qa.el("span", { class: "when", text: when(call.call_at) }), " ",
      qa.el("small", { class: "id", text: call.interaction_id }));
    const score = qa.el("span", { class: call.score !== null && call.score < 70 ? "score low" : "score", text: qa.scoreText(call.score) });
    const flags = qa.el("td");
    call.flags.forEach((f) => flags.append(qa.flag(f)));
    if (call.calibration) flags.append(qa.el("span", { class: "flag", text: t("calibration") }));
    const agent = qa.el("td", { text: call.agent_id ? (agentNames[call.agent_id] || call.agent_id) : "" });
    if (call.agent_id && agentNames[call.agent_id]) agent.append(" ", qa.el("small", { class: "id", text: call.agent_id }));
    const queue = qa.el("td", { text: call.queue || "" });
    if (call.business_line && call.business_line !== call.queue) queue.append(" ", qa.el("small", { class: "id", text: t("line {line}", { line: call.business_line }) }));
    return qa.el("tr", {},
      qa.el("td", { class: "call" }, link),
      qa.el("td", { text: call.caller || "" }),
      agent,
      qa.el("td", { class: "num", text: qa.time(call.duration) }),
      queue,
      qa.el("td", { class: "num" }, score),
      flags,
      qa.el("td", { class: "num", text: String(call.reviews) }),
      qa.el("td", { class: "excerpt", text: call.excerpt }));
  }

  form.addEventListener("submit", (event) => { event.preventDefault(); offset = 0; load(); });
  document.getElementById("prev").addEventListener("click", () => { offset = Math.max(0, offset - pageSize); load(); });
  document.getElementById("next").addEventListener("click", () => { offset += pageSize; load(); });
  load();
})();
