// The agent panel (/agent): one Socket.IO connection to /agent (the session cookie signs it in).
// State: my status, chat offers, the call on my phone, the chats I hold, wrap-ups to fill in.
// Every change comes from the server; after a reconnect, sync + panel_sync rebuild the screen.
"use strict";
(() => {
  const config = JSON.parse(document.getElementById("panel").dataset.config);
  const $ = (id) => document.getElementById(id);
  const state = { me: null, offers: new Map(), call: null, chats: new Map(), wrapups: new Map() };

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "text") node.textContent = v;
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  }
  const clock = (seconds) => {
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return (h ? `${h}:${String(m).padStart(2, "0")}` : `${m}`) + `:${String(r).padStart(2, "0")}`;
  };
  // Server times are POSIX seconds; the offset keeps timers right when the clocks differ.
  let skew = 0;
  const now = () => Date.now() / 1000 + skew;

  function showError(message) {
    const box = $("panel-error");
    box.textContent = message;
    box.hidden = !message;
  }

  const socket = io("/agent", { transports: ["websocket", "polling"], withCredentials: true });
  function send(name, payload) {
    return new Promise((resolve) => {
      socket.timeout(10000).emit(name, payload || {}, (err, ack) => {
        if (err) ack = { error: "no answer from the server" };
        if (ack && ack.error) showError(`${name}: ${ack.error}`);
        else showError("");
        resolve(ack || {});
      });
    });
  }

  // --- my state ---------------------------------------------------------------------------------
  const stateNames = {
    available: "Available", offered: "Ringing", busy: "On a call", wrap_up: "Wrap-up",
    paused: "Paused", logged_out: "Logged out",
  };
  function renderMe() {
    const me = state.me;
    if (!me) return;
    $("me-ext").textContent = me.extension;
    const reg = $("me-reg");
    reg.textContent = me.registered ? "phone registered" : "phone not registered";
    reg.className = "badge " + (me.registered ? "ok" : "bad");
    $("me-state").textContent = stateNames[me.state] || me.state;
    $("me-reason").textContent = me.reason ? `(${me.reason})` : "";
    $("go-available").disabled = me.state === "available";
    $("go-logout").disabled = me.state === "logged_out";
    document.body.dataset.agentState = me.state;
  }
  for (const reason of config.pause_reasons) $("pause-reason").append(el("option", { value: reason, text: reason }));
  $("go-available").addEventListener("click", () => setState("available"));
  $("go-pause").addEventListener("click", () => setState("paused", $("pause-reason").value));
  $("go-logout").addEventListener("click", () => setState("logged_out"));
  async function setState(wanted, reason) {
    const ack = await send("set_state", { state: wanted, reason: reason || "" });
    if (ack.me) { state.me = ack.me; renderMe(); }
  }

  // --- offers (chats) ---------------------------------------------------------------------------
  function renderOffers() {
    const box = $("offers");
    box.replaceChildren();
    for (const offer of state.offers.values()) {
      const name = offer.customer.name || offer.customer.id;
      const card = el("article", { class: "card offer", "aria-label": `Offer: ${offer.channel} from ${name}` },
        el("h3", { text: `${offer.channel} from ${name}` }),
        el("p", {}, "Answer within ", el("span", { class: "countdown", "data-until": offer.until, text: "" })),
        timeline(offer.timeline),
        el("div", { class: "row" },
          el("button", { type: "button", "data-accept": offer.interaction_id, onclick: () => accept(offer) }, "Accept ", el("kbd", { text: "a" })),
          el("button", { type: "button", class: "secondary", onclick: () => decline(offer) }, "Decline ", el("kbd", { text: "d" }))));
      box.append(card);
    }
    tick();
  }
  function timeline(messages) {
    const list = el("ol", { class: "log", "aria-label": "Earlier messages" });
    for (const m of messages || []) list.append(message(m));
    if (!messages || !messages.length) list.append(el("li", { class: "muted", text: "No earlier messages." }));
    return list;
  }
  function message(m) {
    const when = new Date(m.at * 1000).toLocaleTimeString();
    return el("li", { class: m.from }, el("small", { text: `${m.from} · ${m.channel} · ${when}` }), el("div", { text: m.body }));
  }
  async function accept(offer) {
    const ack = await send("accept", { interaction_id: offer.interaction_id });
    state.offers.delete(offer.interaction_id);
    if (ack.ok) addChat(ack, offer.customer);
    render();
  }
  async function decline(offer) {
    await send("decline", { interaction_id: offer.interaction_id });
    state.offers.delete(offer.interaction_id);
    render();
  }

  // --- chats ------------------------------------------------------------------------------------
  function addChat(held, customer) {
    const previous = state.chats.get(held.conversation_id);
    state.chats.set(held.conversation_id, {
      interaction_id: held.interaction_id, conversation_id: held.conversation_id, channel: held.channel,
      customer: customer || (previous && previous.customer) || { id: held.customer_id, name: "" },
      messages: held.messages || [], typing: false, draft: previous ? previous.draft : "",
    });
  }
  function chatCard(chat) {
    const name = chat.customer.name || chat.customer.id || "customer";
    const input = el("input", { type: "text", "aria-label": `Reply to ${name}`, "data-reply": chat.conversation_id, value: chat.draft || "", autocomplete: "off" });
    let typingSent = false;
    input.addEventListener("input", () => {
      chat.draft = input.value;
      if (!typingSent) { typingSent = true; send("typing", { conversation_id: chat.conversation_id, typing: true }); setTimeout(() => { typingSent = false; }, 3000); }
    });
    const form = el("form", { class: "reply", onsubmit: async (e) => {
      e.preventDefault();
      const body = input.value.trim();
      if (!body) return;
      const ack = await send("reply", { conversation_id: chat.conversation_id, text: body });
      if (ack.ok) { chat.draft = ""; chat.messages.push(ack.message); renderWork(); focusReply(chat.conversation_id); }
    } }, input, el("button", { type: "submit", text: "Send" }));
    const targets = el("select", { "aria-label": "Transfer to" },
      el("option", { value: "", text: "Transfer to…" }),
      ...config.agents.filter((a) => !state.me || a.id !== state.me.agent_id).map((a) => el("option", { value: `agent:${a.id}`, text: `agent ${a.name}` })),
      ...(config.queues || []).map((q) => el("option", { value: `queue:${q}`, text: `queue ${q}` })));
    const log = el("ol", { class: "log", "aria-label": `Conversation with ${name}`, "aria-live": "polite" });
    for (const m of chat.messages) log.append(message(m));
    const card = el("article", { class: "card chat", "data-conversation": chat.conversation_id, "aria-label": `Chat with ${name}` },
      el("h3", { text: `${chat.channel}: ${name}` }),
      log,
      el("div", { class: "typing", "aria-live": "polite", text: chat.typing ? `${name} is typing…` : "" }),
      form,
      el("div", { class: "row" },
        targets,
        el("button", { type: "button", class: "secondary", onclick: async () => {
          const [kind, target] = targets.value.split(":");
          if (!target) return showError("choose where to transfer");
          const ack = await send("transfer", { conversation_id: chat.conversation_id, [`to_${kind}`]: target });
          if (ack.ok) { state.chats.delete(chat.conversation_id); render(); }
        } }, "Transfer"),
        el("button", { type: "button", class: "danger", onclick: async () => {
          const ack = await send("close", { conversation_id: chat.conversation_id });
          if (ack.ok) { state.chats.delete(chat.conversation_id); render(); }
        } }, "Close")));
    setTimeout(() => { log.scrollTop = log.scrollHeight; }, 0);
    return card;
  }
  function focusReply(conversationId) {
    const box = document.querySelector(conversationId ? `[data-reply="${CSS.escape(conversationId)}"]` : "[data-reply]");
    if (box) box.focus();
  }

  // --- the call ---------------------------------------------------------------------------------
  function callCard(call) {
    const who = call.customer.name || call.caller_name || call.caller_number;
    const ivr = el("dl", { class: "ivr", "aria-label": "What the IVR collected" });
    for (const [k, v] of Object.entries(call.ivr || {})) ivr.append(el("dt", { text: k }), el("dd", { text: v }));
    const phaseText = {
      ringing: "Ringing: answer on your phone", talking: "Talking", held: "On hold (the caller hears music)",
      consult: "A colleague asks you to take this call: answer on your phone",
      conference: "A colleague brings you into this call: answer on your phone",
    }[call.phase] || call.phase;
    const card = el("article", { class: "card call", "aria-label": `Call from ${who}`, "data-call": call.interaction_id },
      el("h3", {}, `Call from ${who} `, el("span", { class: "badge", role: "status", "data-phase": call.phase, text: phaseText })),
      el("p", {}, el("strong", { text: call.caller_number }), call.queue ? ` · queue ${call.queue}` : "",
        call.answered_at ? el("span", {}, " · ", el("span", { "data-since": call.answered_at, text: "" })) : ""),
      call.customer.identities.length ? el("p", { class: "muted", text: call.customer.identities.join(", ") }) : el("p", { class: "muted", text: "Not a known customer." }),
      Object.keys(call.ivr || {}).length ? ivr : null,
      el("h4", { text: "Earlier contacts" }),
      timeline(call.customer.timeline));
    if (!["ringing", "consult", "conference"].includes(call.phase)) {
      const transferTo = el("select", { "aria-label": "Transfer the call to" },
        el("option", { value: "", text: "Transfer to…" }),
        ...config.agents.filter((a) => !state.me || a.id !== state.me.agent_id).map((a) => el("option", { value: `agent:${a.id}`, text: `agent ${a.name}` })),
        ...(config.queues || []).map((q) => el("option", { value: `queue:${q}`, text: `queue ${q}` })));
      const number = el("input", { type: "tel", "aria-label": "or an outside number", placeholder: "or number", size: 12 });
      card.append(el("div", { class: "row" },
        el("button", { type: "button", class: "danger", onclick: hangup, "aria-keyshortcuts": "h" }, "Hang up ", el("kbd", { text: "h" })),
        el("button", { type: "button", onclick: toggleHold, "aria-keyshortcuts": "o" }, call.phase === "held" ? "Resume " : "Hold ", el("kbd", { text: "o" })),
        el("button", { type: "button", class: "secondary", "aria-pressed": call.recording_paused ? "true" : "false", onclick: async () => {
          const ack = await send("call_recording", { interaction_id: call.interaction_id, paused: !call.recording_paused });
          if (ack.ok) { call.recording_paused = ack.paused; renderWork(); }
        } }, call.recording_paused ? "Resume recording" : "Pause recording (card data)")),
        call.consulting
          ? el("div", { class: "row", role: "group", "aria-label": "Attended transfer" },
            el("span", { text: `Consulting agent ${call.consulting}…` }),
            el("button", { type: "button", onclick: () => send("call_consult_end", { interaction_id: call.interaction_id, complete: true }) }, "Complete transfer"),
            el("button", { type: "button", class: "secondary", onclick: () => send("call_consult_end", { interaction_id: call.interaction_id, complete: false }) }, "Back to the caller"))
          : call.conference_with
            ? el("div", { class: "row", role: "group", "aria-label": "Conference" },
              el("span", { text: `Conference with agent ${call.conference_with}` }),
              el("button", { type: "button", class: "secondary", onclick: () => send("call_conference_end", { interaction_id: call.interaction_id }) }, "Drop the third party"))
            : el("div", { class: "row" },
              el("button", { type: "button", class: "secondary", onclick: async () => {
                const [kind, target] = transferTo.value.split(":");
                if (kind !== "agent" || !target) return showError("choose an agent to consult");
                await send("call_consult", { interaction_id: call.interaction_id, to_agent: target });
              } }, "Consult agent first"),
              el("button", { type: "button", class: "secondary", onclick: async () => {
                const [kind, target] = transferTo.value.split(":");
                if (kind !== "agent" || !target) return showError("choose an agent to bring in");
                await send("call_conference", { interaction_id: call.interaction_id, to_agent: target });
              } }, "Conference agent in")),
        el("div", { class: "row" }, transferTo, number,
          el("button", { type: "button", class: "secondary", onclick: async () => {
            const payload = { interaction_id: call.interaction_id };
            if (number.value.trim()) payload.to_number = number.value.trim();
            else if (transferTo.value) { const [kind, target] = transferTo.value.split(":"); payload[`to_${kind}`] = target; }
            else return showError("choose an agent, a queue or a number");
            await send("call_transfer", payload);
          } }, "Transfer")));
    }
    return card;
  }
  async function hangup() {
    if (state.call && !["ringing", "consult", "conference"].includes(state.call.phase)) await send("call_hangup", { interaction_id: state.call.interaction_id });
  }
  async function toggleHold() {
    const call = state.call;
    if (!call || ["ringing", "consult", "conference"].includes(call.phase)) return;
    await send("call_hold", { interaction_id: call.interaction_id, held: call.phase !== "held" });
  }

  // --- wrap-up ----------------------------------------------------------------------------------
  function wrapCard(w) {
    const dispositions = w.dispositions || config.dispositions;
    const select = el("select", { name: "disposition", required: dispositions.length > 0 },
      el("option", { value: "", text: "Choose…" }), ...dispositions.map((d) => el("option", { value: d, text: d })));
    const notes = el("textarea", { name: "notes", maxlength: "2000" });
    return el("form", { class: "card wrapup", "aria-label": `Wrap-up of ${w.who}`, "data-wrapup": w.interaction_id, onsubmit: async (e) => {
      e.preventDefault();
      const ack = await send("wrap_up", { interaction_id: w.interaction_id, disposition: select.value, notes: notes.value });
      if (ack.ok) { state.wrapups.delete(w.interaction_id); if (ack.me) state.me = ack.me; render(); }
    } },
      el("h3", { text: `Wrap-up: ${w.channel} with ${w.who}` }),
      w.until ? el("p", {}, "Wrap-up time left: ", el("span", { class: "countdown", "data-until": w.until, text: "" })) : null,
      w.transferred_to ? el("p", { class: "muted", text: `Transferred to ${w.transferred_to}` }) : null,
      el("label", {}, "Disposition ", select),
      el("label", { class: "stack" }, "Notes", notes),
      el("div", { class: "row" }, el("button", { type: "submit", text: "Done" })));
  }

  // --- rendering and timers ---------------------------------------------------------------------
  function renderWork() {
    const work = $("work");
    work.replaceChildren();
    if (state.call) work.append(callCard(state.call));
    for (const chat of state.chats.values()) work.append(chatCard(chat));
    if (!work.children.length) work.append(el("p", { class: "muted", id: "idle", text: "No call or chat in progress." }));
    tick();
  }
  function renderWrapups() {
    // A form already on screen is kept as it is: what the agent has chosen and typed (and the focus)
    // must survive any other update of the panel. Only forms done elsewhere go, new ones come.
    const box = $("wrapups");
    const shown = new Map([...box.querySelectorAll("form[data-wrapup]")].map((f) => [f.dataset.wrapup, f]));
    for (const [id, form] of shown) if (!state.wrapups.has(id)) form.remove();
    for (const w of state.wrapups.values()) if (!shown.has(w.interaction_id)) box.append(wrapCard(w));
    tick();
  }
  function render() { renderMe(); renderOffers(); renderWork(); renderWrapups(); }
  function tick() {
    if (state.me) $("me-timer").textContent = clock(now() - state.me.since);
    for (const node of document.querySelectorAll("[data-until]")) node.textContent = clock(Number(node.dataset.until) - now());
    for (const node of document.querySelectorAll("[data-since]")) node.textContent = clock(now() - Number(node.dataset.since));
  }
  setInterval(tick, 1000);

  // --- server -> panel --------------------------------------------------------------------------
  socket.on("connect", async () => {
    $("conn").textContent = "connected";
    $("conn").className = "badge ok";
    const [chats, panel] = await Promise.all([send("sync"), send("panel_sync")]);
    if (panel.me) {
      state.me = panel.me;
      state.call = panel.call;
      state.wrapups = new Map((panel.wrap_ups || []).map((w) => [w.interaction_id, w]));
    }
    state.offers = new Map((chats.offers || []).map((o) => [o.interaction_id, withDeadline(o)]));
    const old = state.chats;
    state.chats = new Map();
    for (const held of chats.conversations || []) {
      const before = old.get(held.conversation_id);
      addChat(held, before ? before.customer : null);
    }
    render();
  });
  socket.on("disconnect", () => { $("conn").textContent = "reconnecting…"; $("conn").className = "badge bad"; });
  socket.on("connect_error", (err) => { $("conn").textContent = `not connected: ${err.message}`; $("conn").className = "badge bad"; });
  function withDeadline(offer) { return { ...offer, until: offer.until || now() + offer.timeout }; }
  socket.on("me", (me) => { state.me = me; renderMe(); tick(); });
  socket.on("offer", (offer) => { state.offers.set(offer.interaction_id, withDeadline(offer)); renderOffers(); });
  socket.on("offer_withdrawn", (w) => { state.offers.delete(w.interaction_id); renderOffers(); });
  socket.on("message", (m) => {
    const chat = state.chats.get(m.conversation_id);
    if (chat) { chat.messages.push(m); chat.typing = false; renderWork(); }
  });
  socket.on("typing", (t) => {
    const chat = state.chats.get(t.conversation_id);
    if (!chat) return;
    chat.typing = t.typing;
    const node = document.querySelector(`[data-conversation="${CSS.escape(t.conversation_id)}"] .typing`);
    if (node) node.textContent = t.typing ? `${chat.customer.name || "customer"} is typing…` : "";
  });
  socket.on("ended", (e) => {
    const chat = state.chats.get(e.conversation_id);
    if (chat) { chat.messages.push({ from: "customer", channel: chat.channel, at: now(), body: `(the ${e.by} ended the chat)` }); renderWork(); }
  });
  socket.on("call", (call) => { state.call = call; renderWork(); });
  socket.on("consult_failed", (e) => showError(`The consult ended: ${e.reason}`));
  socket.on("call_ended", (e) => {
    if (state.call && state.call.interaction_id === e.interaction_id) { state.call = null; renderWork(); }
  });
  socket.on("wrap_up", (w) => {
    state.wrapups.set(w.interaction_id, w);
    for (const [id, chat] of state.chats) if (chat.interaction_id === w.interaction_id) state.chats.delete(id);
    renderWork();
    renderWrapups();
  });

  // --- keyboard ---------------------------------------------------------------------------------
  const help = $("help");
  function openHelp() { help.hidden = false; $("help-close").focus(); }
  function closeHelp() { help.hidden = true; $("help-open").focus(); }
  $("help-open").addEventListener("click", openHelp);
  $("help-close").addEventListener("click", closeHelp);
  document.addEventListener("keydown", (e) => {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const typing = ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement && document.activeElement.tagName);
    if (e.key === "Escape") {
      if (!help.hidden) closeHelp();
      else if (typing) document.activeElement.blur();
      return;
    }
    if (typing) return;
    const first = state.offers.values().next().value;
    const actions = {
      "?": () => (help.hidden ? openHelp() : closeHelp()),
      a: () => first && accept(first),
      d: () => first && decline(first),
      v: () => setState("available"),
      p: () => setState("paused", $("pause-reason").value),
      h: hangup,
      o: toggleHold,
      r: () => focusReply(null),
      w: () => { const f = document.querySelector("[data-wrapup] select"); if (f) f.focus(); },
    };
    const action = actions[e.key];
    if (action) { e.preventDefault(); action(); }
  });
})();
