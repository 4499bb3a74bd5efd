// The webhook delivery log (/admin/webhooks, docs/webhooks.md): GET /api/webhooks/deliveries with
// the subscription and state filters, newest first, a page at a time; each row's attempts shown on
// demand; "Redeliver" sends a delivery again (POST .../redeliver). Everything is a real button or
// form control, so the page works with the keyboard alone.
"use strict";
(() => {
  const { $, el } = window.cc;
  const PAGE = 50;
  const STATES = { pending: t("pending"), delivered: t("delivered"), failed: t("failed") };
  let oldest = null;

  function say(text) { $("#status").textContent = text; }
  const when = (iso) => (iso ? window.ccLocale.date(iso) : "–");

  function query(before) {
    const q = new URLSearchParams({ limit: String(PAGE) });
    if ($("#subscription").value) q.set("subscription", $("#subscription").value);
    if ($("#state").value) q.set("state", $("#state").value);
    if (before) q.set("before", String(before));
    return `/api/webhooks/deliveries?${q}`;
  }

  async function redeliver(d, button) {
    button.disabled = true;
    const r = await window.cc.request("POST", `/api/webhooks/deliveries/${d.id}/redeliver`);
    say(r.ok ? t("Delivery {id} will be sent again.", { id: d.id })
      : t("Delivery {id} was not sent again: {error}", { id: d.id, error: r.data.error || r.status }));
    if (r.ok) await load(false, true);
    else button.disabled = false;
  }

  function rows(d) {
    const log = el("tr", { class: "attempts", id: `attempts-${d.id}`, hidden: "" },
      el("td", { colspan: "8" }, d.log.length
        ? el("ol", { "aria-label": t("Attempts of delivery {id}", { id: d.id }) }, ...d.log.map((a) => el("li", {},
          t("{at}: status {status}, {seconds} s {error}", {
            at: when(a.at), status: a.status === null ? "–" : a.status,
            seconds: window.ccLocale.number(Math.round(a.seconds * 100) / 100), error: a.error,
          }))))
        : t("Not attempted yet.")));
    const toggle = el("button", { type: "button", class: "secondary", "aria-expanded": "false", "aria-controls": log.id },
      t("Attempts"));
    toggle.addEventListener("click", () => {
      log.hidden = !log.hidden;
      toggle.setAttribute("aria-expanded", String(!log.hidden));
    });
    const again = el("button", { type: "button", "data-redeliver": String(d.id) }, t("Redeliver"));
    again.addEventListener("click", () => redeliver(d, again));
    again.disabled = d.state === "pending";
    const row = el("tr", { "data-id": String(d.id) },
      el("td", {}, when(d.created_at)),
      el("td", {}, d.subscription),
      el("td", {}, d.event),
      el("td", { class: `state-${d.state}` }, STATES[d.state] || d.state),
      el("td", { class: "num" }, window.ccLocale.number(d.attempts)),
      el("td", {}, d.last_status === null ? "–" : String(d.last_status)),
      el("td", { class: "error-text" }, d.last_error || ""),
      el("td", { class: "actions" }, toggle, " ", again));
    return [row, log];
  }

  // more: the next page, below; quiet: keep the status line (it says what was just done).
  async function load(more, quiet) {
    const body = $("#deliveries tbody");
    try {
      const data = await window.cc.api("GET", query(more ? oldest : null));
      const found = data.deliveries;
      if (!more) body.replaceChildren();
      for (const d of found) body.append(...rows(d));
      if (found.length) oldest = found[found.length - 1].id;
      $("#empty").hidden = body.children.length > 0;
      $("#more").hidden = found.length < PAGE;
      if (!more && !quiet) say(t("{count} deliveries shown.", { count: window.ccLocale.number(found.length) }));
    } catch (err) {
      say(err.message);
    }
  }

  async function subscriptions() {
    try {
      const data = await window.cc.api("GET", "/api/webhooks");
      const select = $("#subscription");
      for (const s of data.subscriptions) select.append(el("option", { value: s.name }, s.name));
    } catch (err) {
      say(err.message);
    }
  }

  document.addEventListener("DOMContentLoaded", async () => {
    $("#filters").addEventListener("submit", (e) => { e.preventDefault(); load(); });
    $("#more").addEventListener("click", () => load(true));
    await subscriptions();
    await load();
  });
})();
