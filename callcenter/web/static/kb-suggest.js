// Knowledge-base suggestions on the agent panel (docs/knowledge-base.md): for each chat, the top 3
// articles for the customer's recent messages, asked of POST /api/kb/suggest when a customer message
// arrives. "Insert" (or Alt+Shift+1/2/3 on the chat that has the focus, else the first chat) puts the
// article's answer into that chat's reply box, where the agent reads, edits and sends it.
//
// The panel calls window.ccKb.chat(card, chat) whenever it updates a chat card (agent-panel.js); this
// module owns only its own box inside the card and never touches the reply box but to insert.
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
      const form = card.querySelector("form.reply");
      card.insertBefore(aside, form);
    }
    return aside;
  }

  function insert(card, hit) {
    const input = card.querySelector("input[data-reply]");
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
    hits.forEach((hit, i) => {
      list.append(el("li", { "data-article": String(hit.id) },
        el("div", { class: "kb-title" }, el("strong", { text: hit.title })),
        el("p", { class: "kb-answer", text: hit.answer }),
        el("button", { type: "button", class: "secondary", "aria-keyshortcuts": `Alt+Shift+${i + 1}`,
          "aria-label": t("Insert the answer of {title}", { title: hit.title }), onclick: () => insert(card, hit) },
          t("Insert"), " ", el("kbd", { text: `Alt+Shift+${i + 1}` }))));
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

  document.addEventListener("keydown", (e) => {
    if (!e.altKey || !e.shiftKey || e.ctrlKey || e.metaKey || e.isComposing) return;
    const n = { Digit1: 0, Digit2: 1, Digit3: 2 }[e.code];
    if (n === undefined) return;
    const focused = document.activeElement && document.activeElement.closest("[data-conversation]");
    const card = focused || document.querySelector("[data-conversation]");
    const state = card && shown.get(card);
    if (!state || !state.hits[n]) return;
    e.preventDefault();
    insert(card, state.hits[n]);
  });

  window.ccKb = { chat };
})();
