// The ticket access page (/tickets/access, docs/tickets.md): the requests waiting for a
// supervisor (approve / refuse, with a note), the temporary grants in force (revoke) and the form
// that gives one. ?ticket=T-... prefills the form (the panel links here).
"use strict";
(() => {
  const { $, el } = window.cc;
  const LEVELS = { view: t("view"), work: t("work") };
  const when = (iso) => (iso ? window.ccLocale.date(iso) : "–");
  function say(text) { $("#status").textContent = text; }

  function describe(a) {
    if (a.action === "delete") return t("Delete the ticket");
    return t("Priority {before} → {after}", { before: a.params.before || "–", after: a.params.priority });
  }

  async function decide(a, verdict, note) {
    const r = await window.cc.request("POST", `/api/ticket-approvals/${a.id}/${verdict}`, { note: note.value });
    say(r.ok
      ? (verdict === "approve" ? t("Request {id} approved and done.", { id: a.id }) : t("Request {id} refused.", { id: a.id }))
      : t("Request {id}: {error}", { id: a.id, error: r.data.error || r.status }));
    await approvals();
  }

  async function approvals() {
    try {
      const data = await window.cc.api("GET", "/api/ticket-approvals?state=pending");
      $("#approvals tbody").replaceChildren(...data.approvals.map((a) => {
        const note = el("input", { type: "text", maxlength: "500", "aria-label": t("Note for request {id}", { id: a.id }) });
        const yes = el("button", { type: "button", "data-approve": String(a.id) }, t("Approve"));
        const no = el("button", { type: "button", class: "secondary", "data-refuse": String(a.id) }, t("Refuse"));
        yes.addEventListener("click", () => decide(a, "approve", note));
        no.addEventListener("click", () => decide(a, "refuse", note));
        return el("tr", { "data-approval": String(a.id) },
          el("td", {}, when(a.requested_at)), el("td", {}, `${a.ticket_id}: ${a.title}`), el("td", {}, describe(a)),
          el("td", {}, a.requested_by), el("td", {}, a.reason || "–"), el("td", { class: "decision" }, note, yes, no));
      }));
      $("#approvals-empty").hidden = data.approvals.length > 0;
    } catch (err) {
      say(err.message);
    }
  }

  async function revoke(g, button) {
    button.disabled = true;
    const r = await window.cc.request("DELETE", `/api/ticket-grants/${g.id}`);
    say(r.ok ? t("Access of {user} ended.", { user: g.user }) : t("Not ended: {error}", { error: r.data.error || r.status }));
    await grants();
  }

  async function grants() {
    try {
      const data = await window.cc.api("GET", "/api/ticket-grants");
      $("#grants tbody").replaceChildren(...data.grants.map((g) => {
        const end = el("button", { type: "button", class: "secondary", "data-revoke": String(g.id) }, t("End now"));
        end.addEventListener("click", () => revoke(g, end));
        return el("tr", { "data-grant": String(g.id) }, el("td", {}, g.user),
          el("td", {}, g.ticket_id || t("team {team}", { team: g.team })), el("td", {}, LEVELS[g.level] || g.level),
          el("td", {}, g.granted_by), el("td", {}, when(g.expires_at)), el("td", {}, end));
      }));
      $("#grants-empty").hidden = data.grants.length > 0;
    } catch (err) {
      say(err.message);
    }
  }

  async function give(e) {
    e.preventDefault();
    const ticket = $("#grant-ticket").value.trim().toUpperCase();
    const body = { user: $("#grant-user").value.trim().toLowerCase(), level: $("#grant-level").value,
      minutes: Number($("#grant-minutes").value) };
    if (ticket) body.ticket_id = ticket; else if ($("#grant-team").value) body.team = $("#grant-team").value;
    const r = await window.cc.request("POST", "/api/ticket-grants", body);
    const box = $("#grant-error");
    box.hidden = r.ok;
    if (!r.ok) {
      box.textContent = r.data.error || `HTTP ${r.status}`;
      return;
    }
    say(t("{user} has access until {end}.", { user: r.data.user, end: when(r.data.expires_at) }));
    await grants();
  }

  document.addEventListener("DOMContentLoaded", async () => {
    $("#grant-form").addEventListener("submit", give);
    const ticket = new URLSearchParams(window.location.search).get("ticket");
    if (ticket) $("#grant-ticket").value = ticket;
    try {
      const wf = await window.cc.api("GET", "/api/tickets/workflow");
      $("#grant-team").append(...Object.keys(wf.teams).map((team) => el("option", { value: team }, team)));
    } catch (err) {
      say(err.message);
    }
    await Promise.all([approvals(), grants()]);
  });
})();
