// The agent panel's "My schedule": the signed-in agent's own shifts for the coming week, read-only,
// from /api/agent/schedule, shown in the browser's time zone.
"use strict";
(() => {
  const { $, el } = window.cc;
  const day = (iso) => window.ccLocale.date(iso, { weekday: "short", month: "short", day: "numeric" });
  const hm = (iso) => window.ccLocale.date(iso, { timeStyle: "short" });

  async function load() {
    const list = $("#my-shifts");
    try {
      const data = await window.cc.api("GET", "/api/agent/schedule?days=7");
      if (!data.shifts.length) {
        list.replaceChildren(el("li", { class: "muted" }, t("No shifts scheduled in the next 7 days.")));
        return;
      }
      list.replaceChildren(...data.shifts.map((s) => el("li", {},
        s.break_start
          ? t("{day}: {from}–{to}, break {pause}–{back}", {
            day: day(s.start), from: hm(s.start), to: hm(s.end), pause: hm(s.break_start), back: hm(s.break_end),
          })
          : t("{day}: {from}–{to}", { day: day(s.start), from: hm(s.start), to: hm(s.end) }))));
    } catch (err) {
      list.replaceChildren(el("li", { class: "muted" }, t("Could not load your schedule: {error}", { error: err.message })));
    }
  }
  load();
})();
