// The planning page: asks /api/planning for the period and shows, per queue, the forecast (with its
// backtest), the agents needed by the Erlang formulas, the shifts that cover them and the roster's
// simulated service level, side by side, one table per queue.
"use strict";
(() => {
  const { $, el } = window.cc;
  const form = $("#filters");
  const pct = (x) => (x === null || x === undefined ? "–" : window.ccLocale.percent(x));
  const num = (x) => (x === null || x === undefined ? "–" : window.ccLocale.number(x));

  function params() {
    const data = new FormData(form), query = new URLSearchParams();
    for (const name of [
      "start", "days", "interval", "sl", "seconds", "shrinkage", "patience", "queue", "shift_minutes", "break_minutes",
    ]) {
      const value = String(data.get(name) || "").trim();
      if (value) query.set(name, value);
    }
    const starts = /^(\d{2}):(\d{2})$/.exec(String(data.get("day_starts") || ""));
    if (starts) query.set("day_starts", String(Number(starts[1]) * 60 + Number(starts[2])));
    return query;
  }

  function accuracy(q) {
    const method = q.method === "holt-winters" ? t("Holt-Winters") : t("weekday means");
    if (!q.accuracy) return t("Forecast: {method}; too little history for a backtest.", { method });
    return t("Forecast: {method}; backtest on {weeks} held-back week(s): WAPE {wape} per interval, {daily} per day.", {
      method, weeks: q.accuracy.weeks, wape: pct(q.accuracy.wape), daily: pct(q.accuracy.daily_wape),
    });
  }

  const hhmm = (iso) => (iso ? iso.slice(11, 16) : "");
  const day = (iso) => iso.slice(5, 16).replace("T", " ");

  function shifts(q) {
    if (!q.shifts.length) return t("No shifts: no agents needed.");
    const parts = q.shifts.map((s) => (s.break_start
      ? t("{n} × {from}–{to} (break {pause})", { n: s.agents, from: day(s.start), to: hhmm(s.end), pause: hhmm(s.break_start) })
      : t("{n} × {from}–{to}", { n: s.agents, from: day(s.start), to: hhmm(s.end) })));
    return t("Shifts: {list}", { list: parts.join("; ") });
  }

  function queueTable(q) {
    const columns = [
      t("Interval"), t("Forecast contacts"), t("AHT (s)"), t("Agents needed"), t("Agents to schedule"),
      t("On shift"), t("Erlang service level"), t("Simulated contacts"), t("Simulated service level"), t("Simulated ASA (s)"),
    ];
    const rows = q.rows.map((r) => el("tr", {},
      el("td", {}, r.start.slice(5, 16).replace("T", " ")),
      el("td", { class: "num" }, num(r.calls)),
      el("td", { class: "num" }, num(r.aht)),
      el("td", { class: "num" }, num(r.agents)),
      el("td", { class: "num" }, num(r.scheduled)),
      el("td", { class: "num" }, num(r.on_shift)),
      el("td", { class: "num" }, pct(r.erlang_service_level)),
      el("td", { class: "num" }, num(r.simulated_offered)),
      el("td", { class: "num" }, pct(r.simulated_service_level)),
      el("td", { class: "num" }, num(r.simulated_asa)),
    ));
    const id = `plan-${q.queue}`;
    return el("section", { class: "card", "aria-labelledby": id },
      el("h2", { id }, t("Queue {queue}: {n} agents on the roster", { queue: q.queue, n: q.roster })),
      el("p", { class: "muted" }, accuracy(q)),
      el("p", { class: "shifts" }, shifts(q)),
      el("div", { class: "table-scroll" },
        el("table", { class: "plan" },
          el("thead", {}, el("tr", {}, ...columns.map((c) => el("th", { scope: "col" }, c)))),
          el("tbody", {}, ...rows))));
  }

  async function show(event) {
    if (event) event.preventDefault();
    $("#status").textContent = t("Planning…");
    try {
      const data = await window.cc.api("GET", `/api/planning?${params()}`);
      $("#plans").replaceChildren(...data.queues.map(queueTable));
      $("#status").textContent = data.queues.length
        ? t("{n} queue(s) planned", { n: data.queues.length })
        : t("No history before this day: nothing to forecast.");
    } catch (err) {
      $("#plans").replaceChildren();
      $("#status").textContent = t("Could not make the plan: {error}", { error: err.message });
    }
  }

  const tomorrow = new Date(Date.now() + 86400000).toISOString().slice(0, 10);
  $("#start").value = tomorrow;
  form.addEventListener("submit", show);
})();
