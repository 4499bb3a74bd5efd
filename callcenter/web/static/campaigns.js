// The campaigns page: /api/campaigns every few seconds, each row updated in place (a focused
// button keeps its focus), start / pause / stop, a campaign's latest decisions and its list import,
// and the import of definitions with every problem as file:line.
"use strict";
(() => {
  const { $, el } = window.cc;
  const REFRESH_MS = 5000;
  const pct = (x) => (x === null || x === undefined ? "–" : window.ccLocale.percent(x));
  const num = (x) => window.ccLocale.number(x);
  const STATES = { draft: t("draft"), running: t("running"), paused: t("paused"), stopped: t("stopped") };
  const MODES = {
    preview: t("preview"), progressive: t("progressive"), predictive: t("predictive"), agentless: t("agentless"),
  };
  const KINDS = {
    dial: t("dial"), skip: t("skip"), pacing: t("pacing"), state: t("state"), preview: t("preview"), disposition: t("disposition"),
  };
  const REASONS = {
    progressive: t("progressive: one call per free agent"),
    predictive: t("predictive: calls for the agents expected free"),
    no_agent: t("no agent free"),
    agentless: t("agentless: no agent needed"),
    opt_out: t("opted out"),
    message_played: t("message played"),
    dnc: t("on the do-not-call list"),
    max_attempts: t("no attempt left"),
    outside_window: t("outside the callee's calling hours"),
    no_window: t("no calling hours within a week"),
    warming_up: t("too few calls yet for predictive pacing"),
    abandon_cap: t("held back by the abandonment cap"),
    preview: t("shown to an agent"),
    agent_passed: t("the agent skipped it"),
    agent_left: t("taken back: the agent left"),
    agent_busy: t("taken back: a call took the agent"),
    timed_out: t("passed: not answered in time"),
    record_changed: t("taken back: the callback was moved or cancelled"),
    changed_before_dial: t("not dialled: changed just before the call (a callback moved or cancelled)"),
    campaign_paused: t("taken back: the campaign paused"),
    campaign_stopped: t("taken back: the campaign stopped"),
  };
  // Which moves each state allows (core/outbound/campaign.py's TRANSITIONS).
  const MOVES = { draft: ["start", "stop"], running: ["pause", "stop"], paused: ["start", "stop"], stopped: [] };
  const ACTIONS = { start: t("Start"), pause: t("Pause calling"), stop: t("Stop") };
  const rows = new Map(); // name -> { tr, cells, buttons }
  let selected = null;

  function say(text) { $("#status").textContent = text; }

  function abandoned(c) {
    const p = c.progress || {};
    const cap = ((c.definition || {}).abandonment || {}).cap;
    const ledger = p.window;
    if (!ledger) return t("no call answered yet");
    return t("{rate} of {answered} answered (cap {cap})", {
      rate: pct(p.abandon_rate), answered: num(ledger.answered), cap: cap === undefined ? "–" : pct(cap),
    });
  }

  async function move(c, action) {
    if (action === "stop" && !window.confirm(t("Stop campaign {name} for good? Its records stay for the reports.", { name: c.name }))) return;
    const r = await window.cc.request("POST", `/api/campaigns/${encodeURIComponent(c.name)}/${action}`);
    say(r.ok
      ? t("Campaign {name} is {state}.", { name: c.name, state: STATES[r.data.state] || r.data.state })
      : t("Could not {action} {name}: {error}", { action: ACTIONS[action], name: c.name, error: r.data.error || r.status }));
    await refresh();
  }

  function makeRow(c) {
    const cells = {};
    for (const key of ["name", "mode", "queue", "state", "records", "pending", "dialled", "abandoned"]) {
      cells[key] = el("td", ["records", "pending", "dialled"].includes(key) ? { class: "num" } : {});
    }
    const buttons = {};
    const actions = el("td", { class: "actions" });
    for (const action of ["start", "pause", "stop"]) {
      buttons[action] = el("button", { type: "button", class: action === "stop" ? "danger" : "", "data-action": action },
        ACTIONS[action]);
      actions.append(buttons[action]);
    }
    buttons.details = el("button", { type: "button", class: "secondary", "aria-controls": "detail" }, t("Details"));
    actions.append(buttons.details);
    const row = { tr: el("tr", { "data-name": c.name }, ...Object.values(cells), actions), cells, buttons, campaign: c };
    for (const action of ["start", "pause", "stop"]) buttons[action].addEventListener("click", () => move(row.campaign, action));
    buttons.details.addEventListener("click", () => { selected = row.campaign.name; showDetail(row.campaign, true); });
    return row;
  }

  function fill(row, c) {
    row.campaign = c;
    const p = c.progress || {};
    row.cells.name.textContent = c.line ? `${c.name} (${c.line})` : c.name;
    row.cells.mode.textContent = MODES[c.mode] || c.mode;
    row.cells.queue.textContent = c.queue || "";
    row.cells.state.textContent = STATES[c.state] || c.state;
    row.cells.state.className = `state state-${c.state}`;
    row.cells.records.textContent = num(p.records || 0);
    row.cells.pending.textContent = num(p.pending || 0);
    row.cells.dialled.textContent = num(p.dialled || 0);
    row.cells.abandoned.textContent = abandoned(c);
    const allowed = MOVES[c.state] || [];
    for (const action of ["start", "pause", "stop"]) {
      row.buttons[action].disabled = !allowed.includes(action);
      row.buttons[action].setAttribute("aria-label", `${ACTIONS[action]} ${c.name}`);
    }
    row.buttons.details.setAttribute("aria-label", t("Details of {name}", { name: c.name }));
  }

  function outcomes(c) {
    const p = c.progress || {};
    const items = [];
    for (const [title, counts] of [[t("Last outcome"), p.outcomes || {}], [t("Done"), p.done || {}]]) {
      const text = Object.entries(counts).map(([k, n]) => `${REASONS[k] || k.replace(/_/g, " ")}: ${num(n)}`).join(" · ");
      items.push(el("dt", {}, title), el("dd", {}, text || "–"));
    }
    // The agents' dispositions of its calls, as the campaign names them (text, never HTML).
    const chosen = Object.entries(p.dispositions || {}).map(([k, n]) => `${k}: ${num(n)}`).join(" · ");
    items.push(el("dt", {}, t("Dispositions")), el("dd", {}, chosen || "–"));
    $("#outcomes").replaceChildren(...items);
  }

  async function showDetail(c, focus) {
    const detail = $("#detail");
    detail.hidden = false;
    $("#detail-title").textContent = t("Campaign {name}", { name: c.name });
    outcomes(c);
    if (focus) { $("#detail-title").setAttribute("tabindex", "-1"); $("#detail-title").focus(); }
    try {
      const data = await window.cc.api("GET", `/api/campaigns/${encodeURIComponent(c.name)}/decisions?newest=true&limit=50`);
      $("#decisions tbody").replaceChildren(...data.decisions.map((d) => el("tr", {},
        el("td", {}, window.ccLocale.date(d.at)),
        el("td", {}, d.record === null ? "" : String(d.record)),
        el("td", {}, KINDS[d.kind] || d.kind),
        el("td", {}, REASONS[d.reason] || d.reason.replace(/_/g, " ")),
      )));
    } catch (err) {
      say(t("Could not read the decisions: {error}", { error: err.message }));
    }
  }

  async function refresh() {
    let data;
    try {
      data = await window.cc.api("GET", "/api/campaigns");
    } catch (err) {
      say(t("Could not read the campaigns: {error}", { error: err.message }));
      return;
    }
    const body = $("#campaigns tbody");
    const seen = new Set();
    for (const c of data.campaigns) {
      seen.add(c.name);
      let row = rows.get(c.name);
      if (!row) { row = makeRow(c); rows.set(c.name, row); body.append(row.tr); }
      fill(row, c);
      if (selected === c.name) outcomes(c);
    }
    for (const [name, row] of rows) if (!seen.has(name)) { row.tr.remove(); rows.delete(name); }
    $("#empty").hidden = data.campaigns.length > 0;
  }

  $("#list-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = $("#list-file").files[0];
    if (!file || !selected) return;
    const source = file.name.replace(/[^\w.-]/g, "_").slice(0, 128) || "list.csv";
    const result = $("#list-result");
    result.replaceChildren(el("p", {}, t("Importing {file}…", { file: file.name })));
    const r = await window.cc.request("POST", `/api/campaigns/${encodeURIComponent(selected)}/list`, { csv: await file.text(), source });
    if (!r.ok) {
      result.replaceChildren(el("p", { class: "error" }, t("The list was not imported: {error}", { error: r.data.error || r.status })));
      return;
    }
    const shown = r.data.errors.slice(0, 50);
    result.replaceChildren(
      el("p", {}, t("{added} added, {duplicates} already in the campaign, {errors} refused.", {
        added: num(r.data.added), duplicates: num(r.data.duplicates), errors: num(r.data.errors.length),
      })),
      el("ul", { class: "problems" }, ...shown.map((e) => el("li", {}, e))),
    );
    await refresh();
    const row = rows.get(selected);
    if (row) showDetail(row.campaign, false);
  });

  $("#definitions-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const problems = $("#problems");
    const r = await window.cc.request("POST", "/api/campaigns", { yaml: $("#definitions").value });
    if (!r.ok) {
      say(t("The campaigns were not imported: {error}", { error: r.data.error || r.status }));
      problems.replaceChildren(...(r.data.problems || []).map((p) => el("li", {}, p)));
      return;
    }
    problems.replaceChildren();
    say(t("Imported: {new} new, {replaced} replaced.", {
      new: r.data.new.join(", ") || t("none"), replaced: r.data.replaced.join(", ") || t("none"),
    }));
    await refresh();
  });

  refresh();
  setInterval(async () => {
    await refresh();
    const row = selected && rows.get(selected);
    if (row && !document.hidden) showDetail(row.campaign, false);
  }, REFRESH_MS);
})();
