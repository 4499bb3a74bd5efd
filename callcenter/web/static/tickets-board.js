// The ticket boards page: asks /api/tickets/workflow for the filters' choices, then
// /api/tickets/board (with the chosen team, type and priority) every 30 seconds and on each change,
// and shows one card per team: its open tickets by priority, the overdue and the about-to-breach.
"use strict";
(() => {
  const { $, el } = window.cc;
  const form = $("#filters");
  const REFRESH_MS = 30000;
  let workflow = null;
  let timer = null;

  function fill(select, values, label) {
    for (const value of values) select.append(el("option", { value }, label(value)));
  }

  function params() {
    const query = new URLSearchParams();
    for (const name of ["team", "type", "priority"]) {
      const value = $(`#${name}`).value;
      if (value) query.set(name, value);
    }
    return query;
  }

  function duration(seconds) {
    const minutes = Math.max(1, Math.round(seconds / 60));
    if (minutes < 60) return t("{m} min", { m: minutes });
    return t("{h} h {m} min", { h: Math.floor(minutes / 60), m: minutes % 60 });
  }

  const typeLabel = (name) => (workflow && workflow.types[name] ? workflow.types[name].label : name);

  function list(board, ids, kind) {
    const heading = kind === "overdue"
      ? t("Overdue ({n})", { n: ids.length })
      : t("About to breach ({n})", { n: ids.length });
    const id = `${kind}-${board.team}`;
    const parts = [el("h3", { id, class: kind === "overdue" ? "overdue" : "at-risk" }, heading)];
    if (!ids.length) {
      parts.push(el("p", { class: "none" }, t("None")));
      return parts;
    }
    const when = kind === "overdue" ? t("Late by") : t("Due");
    const rows = ids.map((ticketId) => {
      const x = board.tickets[ticketId];
      const cell = kind === "overdue"
        ? duration(x.late_seconds)
        : (x.due_at ? window.ccLocale.date(x.due_at, { dateStyle: "short", timeStyle: "short" }) : t("clock paused"));
      return el("tr", {},
        el("td", { class: "id" }, x.id), el("td", { class: "title" }, x.title), el("td", {}, typeLabel(x.type)),
        el("td", {}, x.priority), el("td", {}, x.status), el("td", { class: "when" }, cell));
    });
    const columns = [t("Ticket"), t("Title"), t("Type"), t("Priority"), t("Status"), when];
    parts.push(el("div", { class: "table-scroll" }, el("table", { "aria-labelledby": id },
      el("thead", {}, el("tr", {}, ...columns.map((c) => el("th", { scope: "col" }, c)))),
      el("tbody", {}, ...rows))));
    return parts;
  }

  function card(board) {
    const id = `team-${board.team}`;
    const priorities = (workflow ? workflow.priorities : Object.keys(board.by_priority))
      .filter((p) => board.by_priority[p]);
    return el("section", { class: "card board", "aria-labelledby": id },
      el("h2", { id }, board.team),
      el("ul", { class: "counts", "aria-label": t("Open tickets by priority") },
        el("li", { class: "total" }, t("{n} open", { n: board.open })),
        ...priorities.map((p) => el("li", {}, t("{priority}: {n}", { priority: p, n: board.by_priority[p] })))),
      ...list(board, board.overdue, "overdue"),
      ...list(board, board.at_risk, "at_risk"));
  }

  async function show(event) {
    if (event) event.preventDefault();
    clearTimeout(timer);
    try {
      const data = await window.cc.api("GET", `/api/tickets/board?${params()}`);
      $("#boards").replaceChildren(...data.teams.map(card));
      $("#status").textContent = t("Updated {time}", { time: window.ccLocale.time(data.at) });
    } catch (err) {
      $("#status").textContent = t("Could not load the boards: {error}", { error: err.message });
    }
    timer = setTimeout(show, REFRESH_MS);
  }

  async function start() {
    try {
      workflow = await window.cc.api("GET", "/api/tickets/workflow");
      fill($("#team"), Object.keys(workflow.teams), (name) => name);
      fill($("#type"), Object.keys(workflow.types), typeLabel);
      fill($("#priority"), workflow.priorities, (name) => name);
    } catch (err) {
      $("#status").textContent = t("Could not load the boards: {error}", { error: err.message });
      return;
    }
    form.addEventListener("submit", show);
    for (const name of ["team", "type", "priority"]) $(`#${name}`).addEventListener("change", () => show());
    show();
  }

  start();
})();
