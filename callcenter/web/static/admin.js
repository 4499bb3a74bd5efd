// Administrators' configuration pages: queues file, agents' profiles, IVR flows. Errors from the
// server come as "file:line: key: problem" lines and are shown as a list.
"use strict";
(() => {
  // call(): a refusal keeps its body (its problems) instead of throwing it away.
  const { $, el, request: call } = window.cc;

  function status(box, ok, message, problems = []) {
    box.replaceChildren(el("p", { class: ok ? "notice" : "error", role: ok ? "status" : "alert" }, message));
    if (problems.length) box.append(el("ul", { class: "problems" }, ...problems.map((p) => el("li", {}, p))));
  }

  const problemText = (p) => (typeof p === "string" ? p : `${p.file}:${p.line}:${p.column}: ${p.message}`);

  // --- queues ---------------------------------------------------------------------------------------
  async function queuesPage() {
    const box = $("#queues-status"), text = $("#queues-yaml");
    const load = async () => {
      const r = await call("GET", "/api/admin/queues");
      if (!r.ok) { status(box, false, r.data.error || `HTTP ${r.status}`); return; }
      text.value = r.data.yaml;
      $("#queues-running").textContent = t("Running: {queues}", { queues: r.data.running.join(", ") || t("none") }) +
        (r.data.lines.length ? " · " + t("lines: {lines}", { lines: r.data.lines.join(", ") }) : "");
      if (r.data.last_error) status(box, false, t("The file on disk has a problem; the running queues are the last valid ones."), r.data.last_error.split("\n"));
    };
    $("#queues-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const r = await call("PUT", "/api/admin/queues", { yaml: text.value });
      if (r.ok) { await load(); status(box, true, t("Saved and applied. Running: {queues}", { queues: r.data.running.join(", ") })); }
      else status(box, false, r.data.error || `HTTP ${r.status}`, r.data.problems || []);
    });
    await load();
  }

  // --- agents ---------------------------------------------------------------------------------------
  const pairs = (obj) => Object.entries(obj).map(([k, v]) => `${k}=${v}`).join(", ");
  const list = (s) => s.split(",").map((x) => x.trim()).filter(Boolean);
  function parsePairs(s) {
    const out = {};
    for (const part of list(s)) {
      const [k, v] = part.split("=").map((x) => x.trim());
      out[k] = Number(v);
    }
    return out;
  }
  async function agentsPage() {
    const box = $("#agents-status");
    const r = await call("GET", "/api/admin/agents");
    if (!r.ok) { status(box, false, r.data.error || `HTTP ${r.status}`); return; }
    if (r.data.last_error) status(box, false, t("The agents file has a problem; the last valid profiles run."), r.data.last_error.split("\n"));
    const rows = r.data.agents.map((a) => {
      const f = (name, value, label) => el("input", { name, value, "aria-label": t("{field} of {agent}", { field: label, agent: a.name }), ...(r.data.editable ? {} : { readonly: "" }) });
      const inputs = {
        queues: f("queues", a.queues.join(", "), t("Queues")),
        skills: f("skills", pairs(a.skills), t("Skills")),
        languages: f("languages", a.languages.join(", "), t("Languages")),
        max_chats: f("max_chats", a.max_chats, t("Chats at once")),
        chat_capacity: f("chat_capacity", pairs(a.chat_capacity), t("Chat capacity per channel")),
      };
      const save = el("button", {
        type: "button", onclick: async () => {
          const body = {
            queues: list(inputs.queues.value), skills: parsePairs(inputs.skills.value),
            languages: list(inputs.languages.value), max_chats: Number(inputs.max_chats.value),
            chat_capacity: parsePairs(inputs.chat_capacity.value),
          };
          const res = await call("PUT", `/api/admin/agents/${encodeURIComponent(a.id)}`, body);
          if (res.ok) status(box, true, t("{agent}: saved and applied.", { agent: a.name }));
          else status(box, false, `${a.name}: ${res.data.error || `HTTP ${res.status}`}`, res.data.problems || []);
        },
      }, t("Save"));
      if (!r.data.editable) save.disabled = true;
      return el("tr", { "data-agent": a.id },
        el("th", { scope: "row" }, a.name, el("small", { class: "muted" }, ` ${a.id}`)),
        ...Object.values(inputs).map((i) => el("td", {}, i)), el("td", {}, save));
    });
    $("#agents-table tbody").replaceChildren(...rows);
  }

  // --- IVR ------------------------------------------------------------------------------------------
  async function ivrPage() {
    const box = $("#flow-status"), text = $("#flow-yaml");
    let current = null;
    const showGraph = (graph) => {
      $("#flow-graph").replaceChildren(...(graph ? graph.nodes.map((n) => {
        const out = graph.edges.filter((e) => e.from === n.id).map((e) => e.to).join(", ");
        return el("li", {}, t("{node} ({type}, line {line})", { node: n.id, type: n.type, line: n.line }) + (out ? ` → ${out}` : ""));
      }) : []));
    };
    const open = async (name) => {
      const r = await call("GET", `/api/ivr/flows/${encodeURIComponent(name)}`);
      if (!r.ok) { status(box, false, r.data.error || `HTTP ${r.status}`); return; }
      current = name;
      $("#flow-name").textContent = name + " " + (r.data.running ? t("(running)") : t("(not running)"));
      text.value = r.data.yaml;
      showGraph(r.data.graph);
      if (r.data.problems.length) status(box, false, t("This file has problems:"), r.data.problems.map(problemText));
      else box.replaceChildren();
    };
    const listFlows = async () => {
      const r = await call("GET", "/api/ivr/flows");
      if (!r.ok) { status(box, false, r.data.error || `HTTP ${r.status}`); return; }
      $("#flows").replaceChildren(...r.data.flows.map((f) => el("li", {},
        el("button", { type: "button", onclick: () => open(f.name) }, f.name),
        el("small", { class: "muted" }, (f.name === r.data.entry ? " · " + t("entry") : "") + (f.running ? "" : " · " + t("not running")) + (f.tests ? " · " + t("tests") : "")))));
      $("#flows-problems").textContent = r.data.problems.length ? t("Problems in the saved flows: {count}", { count: r.data.problems.length }) : "";
    };
    $("#flow-validate").addEventListener("click", async () => {
      if (!current) return;
      const r = await call("POST", `/api/ivr/flows/${encodeURIComponent(current)}/validate`, { yaml: text.value });
      if (r.ok && r.data.valid) { status(box, true, t("Valid.")); showGraph(r.data.graph); }
      else status(box, false, r.data.error || t("Not valid:"), (r.data.problems || []).map(problemText));
    });
    $("#flow-test").addEventListener("click", async () => {
      if (!current) return;
      const r = await call("POST", `/api/ivr/flows/${encodeURIComponent(current)}/test`, { yaml: text.value });
      if (r.ok && r.data.passed) status(box, true, t("Tests passed: {cases}", { cases: r.data.cases.map((c) => c.name).join(", ") }));
      else status(box, false, r.data.error || t("Tests failed:"), [
        ...(r.data.problems || []).map(problemText),
        ...(r.data.cases || []).filter((c) => !c.passed).flatMap((c) => c.failures.map((f) => `${c.name}: ${f}`)),
      ]);
    });
    $("#flow-save").addEventListener("click", async () => {
      if (!current) return;
      const r = await call("PUT", `/api/ivr/flows/${encodeURIComponent(current)}`, { yaml: text.value });
      if (r.ok && r.data.saved) { status(box, true, r.data.running ? t("Saved; calls from now on use it.") : t("Saved.")); await listFlows(); }
      else status(box, false, r.data.error || t("Not saved:"), (r.data.problems || []).map(problemText));
    });
    await listFlows();
  }

  if ($("#queues-form")) queuesPage();
  if ($("#agents-table")) agentsPage();
  if ($("#flow-yaml")) ivrPage();
})();
