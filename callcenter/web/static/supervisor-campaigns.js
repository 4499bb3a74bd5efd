// The supervisor console's campaigns (docs/supervisor.md): every campaign of the viewer's business
// lines with its live progress — dialled, connected, abandoned in the current window against the
// cap, dispositions, records and scheduled callbacks due now — from GET /api/campaigns every 5 s.
// The numbers come from the shared database, so every node shows the same, whichever routes.
"use strict";
(() => {
  const body = document.querySelector("#campaign-progress tbody");
  if (!body) return;
  const { el } = window.cc;
  const STATES = { draft: t("draft"), running: t("running"), paused: t("paused"), stopped: t("stopped") };
  const lang = document.documentElement.lang || "en";
  const percent = new Intl.NumberFormat(lang, { style: "percent", maximumFractionDigits: 1 });
  const number = new Intl.NumberFormat(lang);
  const status = document.getElementById("campaign-progress-status");

  function row(c) {
    const p = c.progress || {};
    const rate = p.abandon_rate === null || p.abandon_rate === undefined ? "–" : percent.format(p.abandon_rate);
    const over = p.abandon_rate !== null && p.abandon_rate !== undefined && p.abandon_rate > p.abandon_cap;
    const inWindow = p.window
      ? t("{rate} of {answered} answered (cap {cap})", { rate, answered: number.format(p.window.answered), cap: percent.format(p.abandon_cap) })
      : t("none answered yet (cap {cap})", { cap: percent.format(p.abandon_cap) });
    const dispositions = Object.entries(p.dispositions || {}).sort((a, b) => b[1] - a[1]);
    return el("tr", { "data-campaign": c.name },
      el("th", { scope: "row" }, c.name, c.callbacks ? el("span", { class: "badge" }, " " + t("callbacks")) : ""),
      el("td", {}, STATES[c.state] || c.state),
      el("td", {}, number.format(p.dialled || 0)),
      el("td", {}, number.format(p.connected || 0)),
      el("td", { class: over ? "bad" : "" }, inWindow),
      el("td", {}, dispositions.length ? dispositions.map(([d, n]) => `${d}: ${number.format(n)}`).join(", ") : "–"),
      el("td", {}, number.format(p.due || 0)),
      el("td", {}, number.format(p.pending || 0)));
  }
  async function refresh() {
    const r = await window.cc.request("GET", "/api/campaigns");
    if (!r.ok) { status.textContent = t("Campaigns could not be read: {error}", { error: r.data.error || r.status }); return; }
    const campaigns = r.data.campaigns || [];
    body.replaceChildren(...(campaigns.length ? campaigns.map(row)
      : [el("tr", {}, el("td", { colspan: "8", class: "empty" }, t("No campaigns on your business lines.")))]));
    status.textContent = t("Updated {time}", { time: window.ccLocale.time(Date.now() / 1000) });
  }
  refresh();
  setInterval(refresh, 5000);
})();
