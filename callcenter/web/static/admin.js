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

  // A YAML editor with line numbers: a gutter beside the textarea (no wrapping, so a number is a
  // line), kept in step on input and scroll; lines with a problem are marked in the gutter, and a
  // problem in the list puts the caret on its line.
  function lineNumbers(text) {
    const gutter = el("div", { class: "gutter", "aria-hidden": "true" });
    const box = el("div", { class: "editor" });
    text.setAttribute("wrap", "off");
    text.replaceWith(box);
    box.append(gutter, text);
    let bad = new Set();
    const draw = () => {
      const count = text.value.split("\n").length;
      if (gutter.childElementCount !== count || gutter.dataset.bad !== [...bad].join()) {
        gutter.dataset.bad = [...bad].join();
        gutter.replaceChildren(...Array.from({ length: count }, (_, i) => el("span", { class: bad.has(i + 1) ? "bad" : "" }, String(i + 1))));
      }
      gutter.scrollTop = text.scrollTop;
    };
    text.addEventListener("input", draw);
    text.addEventListener("scroll", () => { gutter.scrollTop = text.scrollTop; });
    const editor = {
      draw,
      mark(lines) { bad = new Set(lines); draw(); },
      goTo(line) {
        const lines = text.value.split("\n");
        const at = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
        text.focus();
        text.setSelectionRange(at, at + (lines[line - 1] || "").length);
        const height = parseFloat(getComputedStyle(text).lineHeight) || 20;
        text.scrollTop = Math.max(0, (line - 3) * height);
        draw();
      },
    };
    draw();
    return editor;
  }
  // "file:12: ..." or "file:12:3: ...": the line number of a problem line, if it has one.
  const problemLine = (text) => { const found = /^[^:\s]+:(\d+):/.exec(text); return found ? Number(found[1]) : null; };
  function showProblems(box, editor, ok, message, problems) {
    status(box, ok, message, problems);
    if (!editor) return;
    editor.mark(problems.map(problemLine).filter(Boolean));
    for (const li of box.querySelectorAll(".problems li")) {
      const line = problemLine(li.textContent);
      if (!line) continue;
      const go = el("button", { type: "button", class: "link", onclick: () => editor.goTo(line) }, t("Go to line {line}", { line }));
      li.append(" ", go);
    }
  }

  // --- queues ---------------------------------------------------------------------------------------
  async function queuesPage() {
    const box = $("#queues-status"), text = $("#queues-yaml");
    const editor = lineNumbers(text);
    const load = async () => {
      const r = await call("GET", "/api/admin/queues");
      if (!r.ok) { status(box, false, r.data.error || `HTTP ${r.status}`); return; }
      text.value = r.data.yaml;
      editor.mark([]);
      $("#queues-running").textContent = t("Running: {queues}", { queues: r.data.running.join(", ") || t("none") }) +
        (r.data.lines.length ? " · " + t("lines: {lines}", { lines: r.data.lines.join(", ") }) : "");
      if (r.data.last_error) showProblems(box, editor, false, t("The file on disk has a problem; the running queues are the last valid ones."), r.data.last_error.split("\n"));
    };
    $("#queues-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const r = await call("PUT", "/api/admin/queues", { yaml: text.value });
      if (r.ok) { await load(); status(box, true, t("Saved and applied. Running: {queues}", { queues: r.data.running.join(", ") })); }
      else showProblems(box, editor, false, r.data.error || `HTTP ${r.status}`, r.data.problems || []);
    });
    await load();
  }

  // --- the tickets file -------------------------------------------------------------------------------
  async function ticketsPage() {
    const box = $("#tickets-status"), text = $("#tickets-yaml");
    const editor = lineNumbers(text);
    const running = (d) => t("Types: {types} · teams: {teams}", { types: d.types.join(", ") || t("none"), teams: d.teams.join(", ") || t("none") });
    const load = async () => {
      const r = await call("GET", "/api/admin/tickets");
      if (!r.ok) { status(box, false, r.data.error || `HTTP ${r.status}`); return; }
      text.value = r.data.yaml;
      editor.mark([]);
      $("#tickets-running").textContent = running(r.data);
      if (r.data.last_error) showProblems(box, editor, false, t("The file on disk has a problem; the running workflow is the last valid one."), r.data.last_error.split("\n"));
    };
    $("#tickets-form").addEventListener("submit", async (e) => {
      e.preventDefault();
      const r = await call("PUT", "/api/admin/tickets", { yaml: text.value });
      if (r.ok) { await load(); status(box, true, t("Saved and applied.") + " " + running(r.data)); }
      else showProblems(box, editor, false, r.data.error || `HTTP ${r.status}`, r.data.problems || []);
    });
    await load();
  }

  // --- agents: a searchable table and one edit form, its choices picked from lists -------------------
  const pairs = (obj) => Object.entries(obj).map(([k, v]) => `${k} ${v}`).join(", ");
  const list = (s) => s.split(",").map((x) => x.trim()).filter(Boolean);
  // A number field: empty stays empty (not held / no limit); anything else goes as typed, so the
  // server can say what is wrong with it.
  const numberOf = (input) => (input.value.trim() === "" ? null : Number(input.value));
  function filterRows(search, rows, shown) {
    const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
    for (const row of rows) row.hidden = !words.every((w) => row.textContent.toLowerCase().includes(w));
    shown.textContent = words.length ? t("{shown} of {total} shown", { shown: rows.filter((r) => !r.hidden).length, total: rows.length }) : "";
  }
  async function agentsPage() {
    const box = $("#agents-status"), section = $("#agent-edit"), form = $("#agent-form");
    const r = await call("GET", "/api/admin/agents");
    if (!r.ok) { status(box, false, r.data.error || `HTTP ${r.status}`); return; }
    const data = r.data;
    if (data.last_error) status(box, false, t("The agents file has a problem; the last valid profiles run."), data.last_error.split("\n"));
    let current = null, opener = null;
    const check = (name, value, checked, label) => el("label", { class: "check" },
      el("input", { type: "checkbox", name, value, ...(checked ? { checked: "" } : {}) }), ` ${label}`);
    const level = (name, label, value, extra = {}) => el("label", { class: "level" }, `${label} `,
      el("input", { type: "number", name, value: value ?? "", min: "1", max: "10", size: "4", ...extra }));
    function clearProblems() {
      for (const f of form.querySelectorAll("fieldset")) {
        f.removeAttribute("aria-invalid");
        f.removeAttribute("aria-describedby");
        f.querySelector(".field-error")?.remove();
      }
    }
    // A new agent: the same form, with its identity (id, name, extension) first; saved by POST.
    const blank = { id: "", name: "", extension: "", queues: [], skills: {}, languages: [], max_chats: 3, chat_capacity: {} };
    let adding = false, removing = false;
    function open(a, row, isNew = false) {
      current = a; opener = row; adding = isNew; removing = false;
      $("#agent-identity").hidden = !isNew;
      $("#agent-remove").hidden = isNew;
      $("#agent-remove").textContent = t("Remove this agent");
      for (const id of ["#new-id", "#new-name", "#new-extension"]) $(id).value = "";
      $("#agent-form-title").textContent = isNew ? t("Add an agent")
        : t("Edit {agent} ({id}, extension {extension})", { agent: a.name, id: a.id, extension: a.extension });
      const skills = [...new Set([...data.skills, ...Object.keys(a.skills)])].sort();
      const languages = [...new Set([...data.languages, ...a.languages])].sort();
      $("#pick-queues").replaceChildren(...data.queues.map((q) => check("queue", q, a.queues.includes(q), q)));
      $("#pick-skills").replaceChildren(...skills.map((s) => level(`skill:${s}`, s, a.skills[s])));
      $("#pick-languages").replaceChildren(...languages.map((l) => check("language", l, a.languages.includes(l), l)));
      $("#pick-channels").replaceChildren(...data.channels.map((c) => level(`capacity:${c}`, channel(c), a.chat_capacity[c], { min: "0", max: "50" })));
      $("#new-skill").value = ""; $("#new-skill-level").value = ""; $("#new-languages").value = "";
      $("#max-chats").value = a.max_chats;
      clearProblems();
      for (const input of form.querySelectorAll("input, button")) input.disabled = !data.editable;
      section.hidden = false;
      section.scrollIntoView({ block: "start" });
      (isNew ? $("#new-id") : form.querySelector("#pick-queues input, #pick-skills input, input:not(#new-id):not(#new-name):not(#new-extension)")).focus();
    }
    function close() {
      section.hidden = true;
      if (opener) opener.querySelector("button").focus();
      else $("#agent-add").focus();
    }
    function body() {
      const skills = {};
      for (const input of form.querySelectorAll('input[name^="skill:"]')) {
        const n = numberOf(input);
        if (n !== null) skills[input.name.slice(6)] = n;
      }
      const extra = $("#new-skill").value.trim();
      if (extra) skills[extra] = numberOf($("#new-skill-level")) ?? 1;
      const capacity = {};
      for (const input of form.querySelectorAll('input[name^="capacity:"]')) {
        const n = numberOf(input);
        if (n !== null) capacity[input.name.slice(9)] = n;
      }
      return {
        queues: [...form.querySelectorAll('input[name="queue"]:checked')].map((i) => i.value),
        skills,
        languages: [...[...form.querySelectorAll('input[name="language"]:checked')].map((i) => i.value), ...list($("#new-languages").value)],
        max_chats: numberOf($("#max-chats")),
        chat_capacity: capacity,
      };
    }
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      if (!current) return;
      clearProblems();
      const identity = { id: $("#new-id").value.trim(), name: $("#new-name").value.trim(), extension: $("#new-extension").value.trim() };
      const res = adding ? await call("POST", "/api/admin/agents", { ...identity, ...body() })
        : await call("PUT", `/api/admin/agents/${encodeURIComponent(current.id)}`, body());
      if (res.ok && adding) {
        current = { ...blank, ...identity, name: identity.name || identity.id };
        status(box, true, t("{agent} added: phone {extension} can register now.", { agent: current.name, extension: identity.extension }));
        await reload();
        close();
        return;
      }
      if (res.ok) {
        status(box, true, t("{agent}: saved and applied.", { agent: current.name }));
        await reload();
        close();
        return;
      }
      // Each problem next to its field, in words; the first such field takes the focus.
      const fields = res.data.fields || {};
      let first = null;
      for (const [name, message] of Object.entries(fields)) {
        const set = form.querySelector(`fieldset[data-field="${CSS.escape(name)}"]`);
        if (!set) continue;
        const id = `err-agent-${name}`;
        set.setAttribute("aria-invalid", "true");
        set.setAttribute("aria-describedby", id);
        set.append(el("span", { class: "field-error", id }, message));
        first = first || set;
      }
      status(box, false, `${current.name || t("New agent")}: ${res.data.error || `HTTP ${res.status}`}`, Object.keys(fields).length ? [] : res.data.problems || []);
      (first?.querySelector("input") || (adding ? $("#new-id") : form.querySelector("#pick-queues input, input:not([id^=new-])"))).focus();
    });
    $("#agent-cancel").addEventListener("click", close);
    $("#agent-add").addEventListener("click", (e) => open({ ...blank }, null, true));
    // Removing asks twice (the button says what a second press does); an agent on a call is refused.
    $("#agent-remove").addEventListener("click", async () => {
      if (!current) return;
      if (!removing) {
        removing = true;
        $("#agent-remove").textContent = t("Press again to remove {agent}", { agent: current.name });
        return;
      }
      removing = false;
      const res = await call("DELETE", `/api/admin/agents/${encodeURIComponent(current.id)}`);
      $("#agent-remove").textContent = t("Remove this agent");
      if (!res.ok) { status(box, false, res.data.error || `HTTP ${res.status}`); $("#agent-remove").focus(); return; }
      status(box, true, t("{agent} removed.", { agent: current.name }));
      current = null; opener = null;
      await reload();
      section.hidden = true;
      search.focus();
    });
    form.addEventListener("keydown", (e) => { if (e.key === "Escape") close(); });

    const search = $("#agent-search");
    let rows = [];
    function draw(agents) {
      rows = agents.map((a) => el("tr", { "data-agent": a.id },
        el("th", { scope: "row" }, el("button", { type: "button", class: "link", "aria-label": t("Edit {agent}", { agent: a.name }), onclick: (e) => open(a, e.target.closest("tr")) }, a.name),
          el("small", { class: "muted" }, ` ${a.id} · ${t("ext {extension}", { extension: a.extension })}`)),
        el("td", {}, a.queues.join(", ")), el("td", {}, pairs(a.skills)), el("td", {}, a.languages.join(", ")),
        el("td", {}, String(a.max_chats)), el("td", {}, Object.entries(a.chat_capacity).map(([c, n]) => `${channel(c)} ${n}`).join(", "))));
      $("#agents-table tbody").replaceChildren(...rows);
      $("#agents-count").textContent = `(${agents.length})`;
      filterRows(search, rows, $("#agents-shown"));
    }
    async function reload() {
      const again = await call("GET", "/api/admin/agents");
      if (again.ok) { data.agents = again.data.agents; data.skills = again.data.skills; data.languages = again.data.languages; draw(data.agents); }
      const row = current && document.querySelector(`#agents-table tr[data-agent="${CSS.escape(current.id)}"]`);
      opener = row || opener;
      $("#agent-add").disabled = !data.editable;
    }
    search.addEventListener("input", () => filterRows(search, rows, $("#agents-shown")));
    search.addEventListener("keydown", (e) => {
      if (e.key !== "Enter") return;
      e.preventDefault();
      const found = rows.filter((row) => !row.hidden);
      if (found.length === 1) found[0].querySelector("button").click();
      else if (found.length) found[0].querySelector("button").focus();
    });
    draw(data.agents);
    $("#agent-add").disabled = !data.editable;
  }
  const channelNames = { webchat: t("webchat"), sms: t("sms"), whatsapp: t("whatsapp"), wechat: t("wechat"), email: t("email") };
  const channel = (name) => channelNames[name] || name;

  // --- IVR ------------------------------------------------------------------------------------------
  async function ivrPage() {
    const box = $("#flow-status"), text = $("#flow-yaml");
    const editor = lineNumbers(text);
    let current = null;
    const showGraph = (graph) => {
      // The drawing is made by the server from the parsed flow (escaped there); the list below it
      // says the same in words.
      $("#flow-drawing").innerHTML = graph ? graph.svg : "";
      $("#flow-graph").replaceChildren(...(graph ? graph.nodes.map((n) => {
        const out = graph.edges.filter((e) => e.from === n.id).map((e) => (e.label ? `${e.label}: ${e.to}` : e.to)).join(", ");
        return el("li", {}, t("{node} ({type}, line {line})", { node: n.id, type: n.type, line: n.line }) + (out ? ` → ${out}` : ""));
      }) : []));
    };
    const open = async (name) => {
      const r = await call("GET", `/api/ivr/flows/${encodeURIComponent(name)}`);
      if (!r.ok) { status(box, false, r.data.error || `HTTP ${r.status}`); return; }
      current = name;
      $("#flow-name").textContent = name + " " + (r.data.running ? t("(running)") : t("(not running)"));
      text.value = r.data.yaml;
      editor.mark([]);
      showGraph(r.data.graph);
      if (r.data.problems.length) showProblems(box, editor, false, t("This file has problems:"), r.data.problems.map(problemText));
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
      if (r.ok && r.data.valid) { showProblems(box, editor, true, t("Valid."), []); showGraph(r.data.graph); }
      else showProblems(box, editor, false, r.data.error || t("Not valid:"), (r.data.problems || []).map(problemText));
    });
    $("#flow-test").addEventListener("click", async () => {
      if (!current) return;
      const r = await call("POST", `/api/ivr/flows/${encodeURIComponent(current)}/test`, { yaml: text.value });
      if (r.ok && r.data.passed) status(box, true, t("Tests passed: {cases}", { cases: r.data.cases.map((c) => c.name).join(", ") }));
      else showProblems(box, editor, false, r.data.error || t("Tests failed:"), [
        ...(r.data.problems || []).map(problemText),
        ...(r.data.cases || []).filter((c) => !c.passed).flatMap((c) => c.failures.map((f) => `${c.name}: ${f}`)),
      ]);
    });
    $("#flow-save").addEventListener("click", async () => {
      if (!current) return;
      const r = await call("PUT", `/api/ivr/flows/${encodeURIComponent(current)}`, { yaml: text.value });
      if (r.ok && r.data.saved) { status(box, true, r.data.running ? t("Saved; calls from now on use it.") : t("Saved.")); await listFlows(); }
      else showProblems(box, editor, false, r.data.error || t("Not saved:"), (r.data.problems || []).map(problemText));
    });
    await listFlows();
  }

  // --- users: a search over the accounts table; Enter opens the one match, or goes to the first ---
  function usersPage() {
    const search = $("#user-search"), rows = [...document.querySelectorAll("#users-table tbody tr")];
    const shown = $("#users-shown");
    const visible = () => rows.filter((r) => !r.hidden);
    const filter = () => filterRows(search, rows, shown);
    search.addEventListener("input", filter);
    search.addEventListener("keydown", (e) => {
      if (e.key !== "Enter") return;
      e.preventDefault();
      const found = visible();
      if (found.length === 1) found[0].querySelector("a").click();
      else if (found.length) found[0].querySelector("a").focus();
    });
    filter();
    // The form of the account picked: its first field takes the focus (the page was asked for it).
    const form = document.querySelector("#edit form");
    if (form) (form.querySelector("[aria-invalid=true]") || form.querySelector("input:not([type=hidden]), select")).focus();
    const bad = document.querySelector("#new-account [aria-invalid=true]");
    if (bad) bad.focus();
  }

  if ($("#user-search")) usersPage();
  if ($("#queues-form")) queuesPage();
  if ($("#tickets-form")) ticketsPage();
  if ($("#agents-table")) agentsPage();
  if ($("#flow-yaml")) ivrPage();
})();
