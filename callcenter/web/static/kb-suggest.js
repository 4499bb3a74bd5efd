// Knowledge-base suggestions on the agent panel (docs/knowledge-base.md), the top 3 articles asked
// of POST /api/kb/suggest:
// - for each chat, from the customer's recent messages, when one arrives. "Insert" (or Alt+Shift+1/2/3
//   on the chat that has the focus, else the first chat) puts the article's answer into that chat's
//   reply box, where the agent reads, edits and sends it;
// - for the call, from what the IVR collected and, with live transcription, the caller's last
//   sentences (agent assist: the answer is shown for the agent to say);
// - for the ticket open on the panel, from its title, fields and the customer's comments; "Insert"
//   puts the answer into the comment box.
//
// The panel calls window.ccKb.chat(card, chat) whenever it updates a chat card (agent-panel.js),
// ccKb.call(card, call) for the call card, ccKb.heard(id, text) for each final sentence of the caller
// (live-transcript.js) and ccKb.ticket(box, ticket) (tickets-panel.js); this module owns only its
// own box and never touches a reply box but to insert.
"use strict";
(() => {
  const RECENT = 4; // customer messages sent (the server weighs the newer more)
  const shown = new WeakMap(); // card -> { asked: signature of the messages asked about, hits }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }

  function box(card) {
    let aside = card.querySelector("aside.kb-suggestions");
    if (!aside) {
      aside = el("aside", { class: "kb-suggestions", "aria-label": t("Suggested articles"), "aria-live": "polite" });
      const comment = card.querySelector("textarea#ticket-comment");
      if (comment) comment.closest("form").after(aside); // a ticket: under its comment box
      else card.insertBefore(aside, card.querySelector("form.reply")); // a chat: above its reply box
    }
    return aside;
  }

  // Where an answer goes: a chat's reply box, the ticket's comment box; a call has none.
  function replyBox(card) {
    return card.querySelector("input[data-reply], textarea#ticket-comment");
  }

  function insert(card, hit) {
    const input = replyBox(card);
    if (!input) return;
    const current = input.value.trim();
    input.value = current ? `${current} ${hit.answer}` : hit.answer;
    input.dispatchEvent(new Event("input", { bubbles: true })); // the panel keeps the draft
    input.focus();
  }

  function render(card, hits) {
    const aside = box(card);
    aside.replaceChildren();
    if (!hits.length) { aside.hidden = true; return; }
    aside.hidden = false;
    aside.append(el("h4", { text: t("Suggested articles") }));
    const list = el("ol", {});
    const insertable = Boolean(replyBox(card));
    hits.forEach((hit, i) => {
      list.append(el("li", { "data-article": String(hit.id) },
        el("div", { class: "kb-title" }, el("strong", { text: hit.title })),
        el("p", { class: "kb-answer", text: hit.answer }),
        insertable ? el("button", { type: "button", class: "secondary", "aria-keyshortcuts": `Alt+Shift+${i + 1}`,
          "aria-label": t("Insert the answer of {title}", { title: hit.title }), onclick: () => insert(card, hit) },
          t("Insert"), " ", el("kbd", { text: `Alt+Shift+${i + 1}` })) : null));
    });
    aside.append(list);
  }

  async function ask(card, chat, messages, signature) {
    const body = { messages, interaction_id: chat.interaction_id };
    try {
      const data = await window.cc.api("POST", "/api/kb/suggest", body);
      const state = shown.get(card);
      if (!state || state.asked !== signature) return; // a newer question is on its way
      state.hits = data.suggestions || [];
      render(card, state.hits);
    } catch (err) {
      render(card, []); // no suggestions is never an error the agent must deal with
    }
  }

  function chat(card, data) {
    const messages = (data.messages || []).filter((m) => m.from === "customer").map((m) => m.body).slice(-RECENT);
    if (!messages.length) return;
    const signature = JSON.stringify(messages);
    const state = shown.get(card);
    if (state && state.asked === signature) return;
    shown.set(card, { asked: signature, hits: state ? state.hits : [] });
    ask(card, data, messages, signature);
  }

  // --- the call: the IVR's data, then what the caller says (live transcription) -----------------
  const calls = new Map(); // interaction id -> { said: [...], asked, hits } (the call under way only)

  function call(card, data) {
    const id = data.interaction_id;
    let state = calls.get(id);
    if (!state) {
      calls.clear(); // one call at a time on the panel
      const collected = Object.values(data.ivr || {}).map(String).filter((v) => /\p{L}/u.test(v));
      state = { ivr: collected, said: [], asked: null, hits: [] };
      calls.set(id, state);
    }
    if (state.hits.length) render(card, state.hits); // the card was redrawn: what was shown stays
    askCall(id);
  }

  function heard(id, text) {
    const state = calls.get(id);
    if (!state || !text) return;
    state.said = [...state.said, text].slice(-RECENT);
    askCall(id);
  }

  async function askCall(id) {
    const state = calls.get(id);
    const messages = [...state.ivr, ...state.said];
    if (!messages.length) return;
    const signature = JSON.stringify(messages);
    if (state.asked === signature) return;
    state.asked = signature;
    let hits = [];
    try {
      const data = await window.cc.api("POST", "/api/kb/suggest", { messages, interaction_id: id });
      hits = data.suggestions || [];
    } catch (err) { hits = []; }
    if (state.asked !== signature || calls.get(id) !== state) return; // a newer question is on its way
    state.hits = hits;
    const card = document.querySelector(`[data-call="${CSS.escape(id)}"]`);
    if (card) render(card, hits);
  }

  // --- the ticket open on the panel: its title, fields and the customer's words ----------------
  let ticketAsked = null;
  async function ticket(container, data) {
    const customer = (data.comments || []).filter((c) => c.by === "customer").map((c) => c.body).slice(-RECENT);
    const fields = Object.values(data.fields || {}).map(String).filter((v) => /\p{L}/u.test(v));
    const messages = [data.title, ...fields, ...customer].filter(Boolean);
    const signature = JSON.stringify([data.id, messages]);
    ticketAsked = signature;
    let hits = [];
    try {
      hits = (await window.cc.api("POST", "/api/kb/suggest", { messages })).suggestions || [];
    } catch (err) { hits = []; }
    if (ticketAsked !== signature || !container.isConnected) return;
    shown.set(container, { asked: signature, hits });
    render(container, hits);
  }

  document.addEventListener("keydown", (e) => {
    if (!e.altKey || !e.shiftKey || e.ctrlKey || e.metaKey || e.isComposing) return;
    const n = { Digit1: 0, Digit2: 1, Digit3: 2 }[e.code];
    if (n === undefined) return;
    // The chat or the ticket that has the focus, else the first chat.
    const focused = document.activeElement && document.activeElement.closest("[data-conversation], #ticket-detail");
    const card = focused || document.querySelector("[data-conversation]");
    const state = card && shown.get(card);
    if (!state || !state.hits[n]) return;
    e.preventDefault();
    insert(card, state.hits[n]);
  });

  window.ccKb = { chat, call, heard, ticket };
})();
