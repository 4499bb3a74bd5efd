// "Schedule a callback" on the agent panel (docs/outbound.md, "Scheduled callbacks"): the number,
// the queue whose callbacks campaign calls, a date and a time in the customer's own time (their
// zone from the number, on the server). POST /api/callbacks checks everything again; a refusal
// says why, and outside the calling hours offers the next opening (one click fills it in).
"use strict";
(() => {
  const form = document.getElementById("callback-form");
  if (!form) return;
  const config = JSON.parse(document.getElementById("panel").dataset.config);
  const $ = (id) => document.getElementById(id);
  const result = $("callback-result");
  const queue = $("callback-queue");
  // Only queues with a callbacks campaign; none: nothing to file with, the form stays hidden.
  if (!(config.callback_queues || []).length) return;
  form.closest("section").hidden = false;
  queue.append(...(config.callback_queues || []).map((q) => Object.assign(document.createElement("option"), { value: q, textContent: q })));

  function say(text, kind) {
    result.textContent = text;
    result.className = kind || "";
  }
  function fill() {
    const contact = window.ccAgentContact ? window.ccAgentContact() : null;
    if (contact && contact.number) $("callback-number").value = contact.number;
    if (contact && contact.queue && [...queue.options].some((o) => o.value === contact.queue)) queue.value = contact.queue;
    if (!$("callback-date").value) {
      const tomorrow = new Date(Date.now() + 86400000);
      $("callback-date").value = `${tomorrow.getFullYear()}-${String(tomorrow.getMonth() + 1).padStart(2, "0")}-${String(tomorrow.getDate()).padStart(2, "0")}`;
    }
    if (!$("callback-time").value) $("callback-time").value = "10:00";
    $("callback-number").focus();
  }
  window.ccCallbackForm = { fill };
  $("callback-fill").addEventListener("click", fill);

  // "2026-12-05T04:00-05:00" as "2026-12-05 04:00 (UTC-05:00)": the customer's clock and zone.
  const shown = (local) => `${local.slice(0, 16).replace("T", " ")} (UTC${local.slice(16) || "+00:00"})`;

  // The server's reasons, as the agent reads them (the local times are the customer's).
  function refusal(data) {
    switch (data.reason) {
      case "dnc": return t("Refused: the number is on the do-not-call list.");
      case "past": return t("Refused: that time is in the past.");
      case "too_far": return t("Refused: that time is too far ahead.");
      case "no_window": return t("Refused: no calling hours open in time for that callback.");
      case "outside_window": return t("Refused: outside the calling hours. The next opening is {when} (the customer's time).", { when: shown(data.next_opening) });
      default: return t("Refused: {detail}", { detail: data.error || "" });
    }
  }
  let opening = null;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const number = $("callback-number").value.trim(), date = $("callback-date").value, time = $("callback-time").value;
    if (!number || !date || !time || !queue.value) return say(t("Give the number, the queue, a date and a time."), "error");
    const body = { queue: queue.value, number, at: `${date}T${time}`, note: $("callback-note").value };
    const r = await window.cc.request("POST", "/api/callbacks", body);
    if (r.ok) {
      opening = null;
      $("callback-note").value = "";
      return say(t("Callback scheduled: {number} at {when} (the customer's time).", { number: r.data.number, when: shown(r.data.local) }), "ok");
    }
    opening = r.data.next_opening || null;
    say(refusal(r.data), "error");
    if (opening) {
      const take = Object.assign(document.createElement("button"), { type: "button", className: "secondary", textContent: t("Use the next opening") });
      take.addEventListener("click", () => {
        $("callback-date").value = opening.slice(0, 10);
        $("callback-time").value = opening.slice(11, 16);
        say("");
        form.querySelector("button[type=submit]").focus();
      });
      result.append(" ", take);
    }
  });
})();
