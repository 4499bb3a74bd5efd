// Tickets on the agent panel (docs/tickets.md): "Create ticket" on a call or chat card (the hook in
// agent-panel.js calls window.ccTickets.button), a dialog built from the workflow's ticket types,
// and "My tickets": my teams' open tickets, each opened in place to move, transfer or comment.
// Everything goes through /api/tickets (the server checks team and line again).
"use strict";
(() => {
  const { el, api } = window.cc;
  let workflow = null;
  const targets = { first_response: t("first response"), resolution: t("resolution") };
  const loadWorkflow = async () => (workflow = workflow || (await api("GET", "/api/tickets/workflow")));
  const say = (text, bad) => {
    const box = document.getElementById("tickets-status");
    box.textContent = text;
    box.className = bad ? "error" : "muted";
  };

  // --- creating -------------------------------------------------------------------------------
  function fieldInput(f) {
    const id = `ticket-field-${f.name}`;
    const label = el("label", { for: id }, f.label + (f.required ? " *" : ""));
    let input;
    if (f.kind === "choice") {
      input = el("select", { id, "data-ticket-field": f.name }, el("option", { value: "" }, "–"),
        ...f.choices.map((c) => el("option", { value: c }, c)));
    } else {
      const type = { number: "number", date: "date" }[f.kind] || "text";
      input = el("input", { id, type, "data-ticket-field": f.name, autocomplete: "off" });
      if (f.min !== null) input.setAttribute("min", f.min);
      if (f.max !== null) input.setAttribute("max", f.max);
    }
    if (f.required) input.setAttribute("required", "");
    input.dataset.kind = f.kind;
    return el("div", { class: "ticket-field" }, label, input);
  }

  async function openCreate(context, opener) {
    await loadWorkflow();
    const dialog = document.getElementById("ticket-dialog");
    const form = document.getElementById("ticket-form");
    const typeSelect = document.getElementById("ticket-type");
    const fieldsBox = document.getElementById("ticket-fields");
    typeSelect.replaceChildren(...Object.entries(workflow.types).map(([name, tt]) => el("option", { value: name }, tt.label || name)));
    const showFields = () => fieldsBox.replaceChildren(...workflow.types[typeSelect.value].fields.map(fieldInput));
    typeSelect.onchange = showFields;
    showFields();
    document.getElementById("ticket-title").value = "";
    document.getElementById("ticket-error").textContent = "";
    dialog.hidden = false;
    typeSelect.focus();
    const close = () => { dialog.hidden = true; form.onsubmit = null; if (opener) opener.focus(); };
    dialog.onkeydown = (e) => { if (e.key === "Escape") close(); };
    document.getElementById("ticket-cancel").onclick = close;
    form.onsubmit = async (e) => {
      e.preventDefault();
      const fields = {};
      for (const input of fieldsBox.querySelectorAll("[data-ticket-field]")) {
        if (input.value === "") continue;
        fields[input.dataset.ticketField] = input.dataset.kind === "number" ? Number(input.value) : input.value;
      }
      const body = { type: typeSelect.value, title: document.getElementById("ticket-title").value, fields,
        interaction_id: context.interaction_id, customer_id: context.customer_id || null, ivr: context.ivr || {} };
      const r = await window.cc.request("POST", "/api/tickets", body);
      if (!r.ok) {
        const problems = (r.data.problems || []).map((p) => `${p.field}: ${p.message}`).join("; ");
        document.getElementById("ticket-error").textContent = problems || r.data.error || `HTTP ${r.status}`;
        return;
      }
      close();
      say(t("Ticket {id} created for team {team}", { id: r.data.id, team: r.data.team }));
      await refresh();
    };
  }

  // --- my tickets -----------------------------------------------------------------------------
  function row(ticket) {
    const open = el("button", { type: "button", class: "link", "data-ticket": ticket.id, onclick: () => show(ticket.id) }, ticket.id);
    return el("tr", {}, el("td", {}, open), el("td", {}, ticket.title), el("td", {}, ticket.status),
      el("td", {}, ticket.team), el("td", {}, ticket.priority));
  }
  async function refresh() {
    const body = document.getElementById("tickets-rows");
    try {
      const data = await api("GET", "/api/tickets?open=true&mine=true&limit=50");
      body.replaceChildren(...data.tickets.map(row));
      document.getElementById("tickets-empty").hidden = data.tickets.length > 0;
      await shared(new Set(data.tickets.map((x) => x.id)));
    } catch (err) {
      say(err.message, true);
    }
  }

  // Single tickets a supervisor gave me for a while (a team-wide grant's are in the list above).
  async function shared(listed) {
    const box = document.getElementById("tickets-shared");
    const grants = (await api("GET", "/api/ticket-grants")).grants.filter((g) => g.ticket_id && !listed.has(g.ticket_id));
    box.replaceChildren(...(grants.length ? [el("span", { class: "muted" }, t("Shared with you:"))] : []),
      ...grants.map((g) => el("button", { type: "button", class: "link", "data-ticket": g.ticket_id, onclick: () => show(g.ticket_id) },
        t("{id} ({access}, until {end})", { id: g.ticket_id, access: g.level === "work" ? t("work") : t("view"), end: window.ccLocale.date(g.expires_at) }))));
    box.hidden = grants.length === 0;
  }

  async function show(id) {
    await loadWorkflow();
    const box = document.getElementById("ticket-detail");
    let ticket;
    try { ticket = await api("GET", `/api/tickets/${encodeURIComponent(id)}`); } catch (err) { return say(err.message, true); }
    const act = async (path, body) => {
      const r = await window.cc.request("POST", `/api/tickets/${encodeURIComponent(id)}/${path}`, body);
      if (!r.ok) return say(r.data.error || `HTTP ${r.status}`, true);
      say(t("Ticket {id} updated", { id }));
      await refresh();
      await show(id);
    };
    const moves = ticket.may_work ? ticket.next.map((s) => el("button", { type: "button", class: "secondary", onclick: () => act("transition", { status: s }) }, t("Move to {status}", { status: s }))) : [];
    const paths = (workflow.teams[ticket.team] || { transfers: [] }).transfers;
    const transferTo = el("select", { id: "ticket-transfer-to", "aria-label": t("Transfer the ticket to") },
      el("option", { value: "" }, t("Transfer to team…")), ...paths.map((team) => el("option", { value: team }, team)));
    const note = el("textarea", { id: "ticket-comment", rows: "2", "aria-label": t("Comment") });
    const internal = el("input", { type: "checkbox", id: "ticket-internal", checked: "" });
    box.replaceChildren(
      el("h3", {}, `${ticket.id}: ${ticket.title}`),
      el("p", {}, t("{type} · status {status} · team {team} · priority {priority}", ticket)),
      ...Object.entries(ticket.fields).map(([k, v]) => el("p", { class: "muted" }, `${k}: ${v}`)),
      ...ticket.sla.map((c) => el("p", { class: c.late ? "error" : "muted" }, t("SLA {target}: {elapsed} of {total} min", { target: targets[c.target] || c.target, elapsed: Math.round(c.elapsed_seconds / 60), total: Math.round(c.target_seconds / 60) }))),
      ticket.may_work ? el("div", { class: "row", role: "group", "aria-label": t("Status") }, ...moves) : el("p", { class: "muted" }, t("Another team works this ticket.")),
      ticket.may_work ? el("div", { class: "row" }, transferTo, el("button", { type: "button", onclick: () => transferTo.value && act("transfer", { team: transferTo.value }) }, t("Transfer"))) : "",
      ticket.may_work ? el("form", { class: "row", onsubmit: (e) => { e.preventDefault(); if (note.value.trim()) act("comments", { body: note.value, internal: internal.checked }); } },
        note, el("label", {}, internal, " ", t("Internal note")), el("button", { type: "submit" }, t("Add comment"))) : "",
      el("ol", { class: "log", "aria-label": t("Comments") }, ...ticket.comments.map((c) => el("li", {}, `${c.by}${c.internal ? " (" + t("note") + ")" : ""}: ${c.body}`))),
      attachments(ticket, id),
      ticket.may_work ? requests(ticket, id) : "");
    box.hidden = false;
    if (window.ccKb && ticket.may_work) window.ccKb.ticket(box, ticket); // articles for its answer (kb-suggest.js)
  }

  // --- notifications (mentions, tickets for my team, SLA warnings and breaches) --------------------
  function noteText(n) {
    const values = { id: n.ticket_id, title: n.title, by: n.by, target: targets[n.text] || n.text };
    if (n.kind === "mention") return t("{by} mentioned you on {id} ({title}): {text}", { ...values, text: n.text });
    if (n.kind === "assigned") return t("New for your team: {id} ({title})", values);
    if (n.kind === "sla_warning") return t("SLA {target} about to be missed: {id} ({title})", values);
    if (n.kind === "sla_breached") return t("SLA {target} missed: {id} ({title})", values);
    return `${n.kind}: ${n.ticket_id}`;
  }
  async function loadNotes() {
    try {
      const data = await api("GET", "/api/tickets/notifications");
      document.getElementById("notes-list").replaceChildren(...data.notifications.map((n) => el("li", { class: n.read ? "read" : "unread" },
        el("button", { type: "button", class: "link", "data-note": String(n.id), onclick: () => show(n.ticket_id) }, noteText(n)),
        " ", el("small", {}, window.ccLocale.date(n.at)))));
      document.getElementById("notes-empty").hidden = data.notifications.length > 0;
      const badge = document.getElementById("notes-unread");
      badge.textContent = t("{n} unread", { n: data.unread });
      badge.hidden = data.unread === 0;
    } catch (err) {
      say(err.message, true);
    }
  }
  async function readAll() {
    try { await api("POST", "/api/tickets/notifications/read", {}); } catch (err) { return say(err.message, true); }
    await loadNotes();
  }

  // --- attachments: listed with a download link; uploaded as the file's bytes ---------------------
  function attachments(ticket, id) {
    const list = el("ul", { class: "attachments", "aria-label": t("Attachments") }, ...ticket.attachments.map((a) =>
      el("li", {}, el("a", { href: a.url, download: a.name }, a.name), " ",
        el("span", { class: "muted" }, t("{size} KB, by {by}", { size: window.ccLocale.number(Math.ceil(a.size / 1024)), by: a.uploaded_by })))));
    if (!ticket.may_work) return el("div", {}, el("h4", {}, t("Attachments")), list);
    const file = el("input", { type: "file", id: "ticket-file", "aria-label": t("File to attach") });
    const fields = ((workflow.types[ticket.type] || { fields: [] }).fields).filter((f) => f.kind === "attachment");
    const into = el("select", { id: "ticket-file-field", "aria-label": t("Attach to field") },
      el("option", { value: "" }, t("No field")), ...fields.map((f) => el("option", { value: f.name }, f.label || f.name)));
    const upload = async (e) => {
      e.preventDefault();
      const chosen = file.files[0];
      if (!chosen) return;
      const q = new URLSearchParams({ name: chosen.name });
      if (into.value) q.set("field", into.value);
      const resp = await fetch(`/api/tickets/${encodeURIComponent(id)}/attachments?${q}`, {
        method: "POST", credentials: "same-origin", body: chosen,
        headers: { "X-CSRF-Token": window.cc.csrfToken(), "Content-Type": "application/octet-stream" },
      });
      const data = await resp.json().catch(() => ({}));
      if (!resp.ok) return say(t("Not attached: {error}", { error: data.error || resp.status }), true);
      say(t("{name} attached to {id}", { name: chosen.name, id }));
      await show(id);
    };
    return el("div", {}, el("h4", {}, t("Attachments")), list,
      el("form", { class: "row", onsubmit: upload }, file, into, el("button", { type: "submit" }, t("Attach"))));
  }

  // --- high-risk actions: an agent's are requests a supervisor approves ----------------------------
  function requests(ticket, id) {
    const priority = el("select", { id: "ticket-priority", "aria-label": t("New priority") },
      ...workflow.priorities.map((p) => el("option", { value: p, ...(p === ticket.priority ? { selected: "" } : {}) }, p)));
    const reason = el("input", { type: "text", id: "ticket-request-reason", maxlength: "500", "aria-label": t("Reason for the request"), placeholder: t("Reason for the request") });
    const ask = async (method, path, body, what) => {
      const r = await window.cc.request(method, path, body);
      if (!r.ok) return say(r.data.error || `HTTP ${r.status}`, true);
      say(r.status === 202 ? t("{what}: waiting for a supervisor's approval", { what }) : t("Ticket {id} updated", { id }));
      await refresh();
      if (r.status !== 200 || method !== "DELETE") await show(id);
    };
    const base = `/api/tickets/${encodeURIComponent(id)}`;
    return el("form", { class: "row", onsubmit: (e) => e.preventDefault() }, priority,
      el("button", { type: "button", class: "secondary", onclick: () => ask("POST", `${base}/priority`, { priority: priority.value, reason: reason.value }, t("Priority change")) }, t("Change priority")),
      reason,
      el("button", { type: "button", class: "secondary", onclick: () => window.confirm(t("Ask to delete ticket {id}?", { id })) && ask("DELETE", `${base}?reason=${encodeURIComponent(reason.value)}`, undefined, t("Deletion")) }, t("Ask to delete")));
  }

  window.ccTickets = {
    // The hook for a call or chat card: a button that opens the dialog prefilled from it.
    button(context) {
      const b = el("button", { type: "button", class: "secondary", "data-create-ticket": context.interaction_id }, t("Create ticket"));
      b.addEventListener("click", () => openCreate(context, b));
      return b;
    },
    refresh,
    show,
    loadNotes,
  };
  document.addEventListener("DOMContentLoaded", () => {
    document.getElementById("tickets-refresh").addEventListener("click", refresh);
    document.getElementById("notes-read").addEventListener("click", readAll);
    refresh();
    loadNotes();
    // Pushed over the panel's socket (any node's change: docs/tickets.md); the list is read again.
    const socket = window.ccAgentSocket;
    if (socket) {
      socket.on("ticket_notification", () => { loadNotes(); refresh(); });
      socket.on("connect", loadNotes);
    }
  });
})();
