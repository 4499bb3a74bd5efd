// The agent panel (/agent): one Socket.IO connection to /agent (the session cookie signs it in).
// State: my status, chat offers, the call on my phone, the chats I hold, wrap-ups to fill in.
// Every change comes from the server; after a reconnect, sync + panel_sync rebuild the screen.
//
// Invariant: an update never rebuilds what the agent may be typing in or has focused. Chat cards,
// offer cards and wrap-up forms are keyed and updated in place (new messages are appended to the
// log; the reply box, its draft and the focus stay); the call card is rebuilt only when the call
// changes, carrying its fields' values and the focus over. Shortcuts need Alt+Shift, so no key
// typed into a text box (or typed after the focus was lost) can act on the agent's state.
"use strict";
(() => {
  const config = JSON.parse(document.getElementById("panel").dataset.config);
  const $ = (id) => document.getElementById(id);
  const state = { me: null, offers: new Map(), previews: new Map(), call: null, chats: new Map(), wrapups: new Map() };

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

  // Channel names as people read them (the data says "webchat", "sms"...; English shows those).
  const channelNames = {
    webchat: t("webchat"), sms: t("sms"), whatsapp: t("whatsapp"), wechat: t("wechat"), email: t("email"), voice: t("voice"),
  };
  const channel = (name) => channelNames[name] || name;

  function showError(message) {
    const box = $("panel-error");
    box.textContent = message;
    box.hidden = !message;
  }

  const socket = io("/agent", { transports: ["websocket", "polling"], withCredentials: true });
  window.ccAgentSocket = socket; // for the panel's other modules (live-transcript.js...)
  // The contact to call back (callbacks-panel.js): the call on my phone, else the newest wrap-up.
  window.ccAgentContact = () => {
    if (state.call) return { number: state.call.caller_number || "", queue: state.call.queue || "" };
    const last = [...state.wrapups.values()].pop();
    return last ? { number: last.number || "", queue: last.queue || "" } : null;
  };
  function send(name, payload) {
    return new Promise((resolve) => {
      socket.timeout(10000).emit(name, payload || {}, (err, ack) => {
        if (err) ack = { error: t("no answer from the server") };
        if (ack && ack.error) showError(`${name}: ${ack.error}`);
        else showError("");
        resolve(ack || {});
      });
    });
  }

  // --- my state ---------------------------------------------------------------------------------
  const stateNames = {
    available: t("Available"), offered: t("Ringing"), busy: t("On a call"), wrap_up: t("Wrap-up"),
    paused: t("Paused"), logged_out: t("Logged out"),
  };
  function renderMe() {
    const me = state.me;
    if (!me) return;
    $("me-ext").textContent = me.extension;
    const reg = $("me-reg");
    reg.textContent = me.registered ? t("phone registered") : t("phone not registered");
    reg.className = "badge " + (me.registered ? "ok" : "bad");
    $("me-state").textContent = stateNames[me.state] || me.state;
    // Available with no phone registered: calls cannot reach the agent (chats still can).
    $("me-warning").hidden = !(me.state === "available" && !me.registered);
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
    if (ack.me) { state.me = ack.me; renderMe(); tick(); }
  }

  // --- offers (chats) ---------------------------------------------------------------------------
  const shortcut = (key) => el("kbd", { text: `Alt+Shift+${key}` });
  function renderOffers() {
    // Keyed: a card already shown stays (its buttons may have the focus); gone ones go, new ones come.
    const box = $("offers");
    const shown = new Map([...box.querySelectorAll("[data-offer]")].map((c) => [c.dataset.offer, c]));
    for (const [id, card] of shown) if (!state.offers.has(id)) card.remove();
    for (const offer of state.offers.values()) {
      if (shown.has(offer.interaction_id)) continue;
      const name = offer.customer.name || offer.customer.id;
      const from = t("{channel} from {customer}", { channel: channel(offer.channel), customer: name });
      const card = el("article", { class: "card offer", "data-offer": offer.interaction_id, "aria-label": t("Offer: {what}", { what: from }) },
        el("h3", { text: from }),
        collectedList(offer.collected),
        el("p", {}, t("Answer within") + " ", el("span", { class: "countdown", "data-until": offer.until, text: "" })),
        timeline(offer.timeline),
        el("div", { class: "row" },
          el("button", { type: "button", "data-accept": offer.interaction_id, "aria-keyshortcuts": "Alt+Shift+A", onclick: () => accept(offer) }, t("Accept") + " ", shortcut("A")),
          el("button", { type: "button", class: "secondary", "aria-keyshortcuts": "Alt+Shift+D", onclick: () => decline(offer) }, t("Decline") + " ", shortcut("D"))));
      box.append(card);
    }
    alertOffers();
    tick();
  }
  function collectedList(collected) {
    // What the virtual agent's flow collected before it handed the conversation over.
    const entries = Object.entries(collected || {});
    if (!entries.length) return null;
    const list = el("dl", { class: "ivr", "aria-label": t("What the virtual agent collected") });
    for (const [k, v] of entries) list.append(el("dt", { text: k }), el("dd", { text: v }));
    return el("div", {}, el("h4", { text: t("What the virtual agent collected") }), list);
  }
  function timeline(messages) {
    const list = el("ol", { class: "log", "aria-label": t("Earlier messages") });
    for (const m of messages || []) list.append(message(m));
    if (!messages || !messages.length) list.append(el("li", { class: "muted", text: t("No earlier messages.") }));
    return list;
  }
  function message(m) {
    const when = window.ccLocale.time(m.at);
    const from = { customer: t("customer"), agent: t("agent"), bot: t("virtual agent") }[m.from] || m.from;
    return el("li", { class: m.from }, el("small", { text: `${from} · ${channel(m.channel)} · ${when}` }), el("div", { text: m.body }));
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

  // --- getting the agent's attention ------------------------------------------------------------
  // An offer that is not answered in time pauses the agent, so it must be noticed from another tab
  // or window: the page title changes while something rings, a short tone plays (WebAudio) and,
  // when the agent allowed it, a desktop notification shows. Each offer alerts once.
  const baseTitle = document.title;
  const alerted = new Set();
  let audio = null;
  function beep() {
    try {
      audio = audio || new AudioContext();
      if (audio.state === "suspended") audio.resume().catch(() => {});
      const at = audio.currentTime;
      for (const [start, freq] of [[0, 880], [0.18, 660]]) {
        const osc = audio.createOscillator(), gain = audio.createGain();
        osc.frequency.value = freq;
        gain.gain.setValueAtTime(0.0001, at + start);
        gain.gain.exponentialRampToValueAtTime(0.2, at + start + 0.02);
        gain.gain.exponentialRampToValueAtTime(0.0001, at + start + 0.15);
        osc.connect(gain).connect(audio.destination);
        osc.start(at + start);
        osc.stop(at + start + 0.16);
      }
    } catch (err) { /* no audio device: the title and the notification remain */ }
  }
  // Browsers start audio only after a user gesture: the first click or key of the day unlocks it.
  const unlock = () => { try { audio = audio || new AudioContext(); audio.resume().catch(() => {}); } catch (err) { /* none */ } };
  document.addEventListener("pointerdown", unlock, { once: true });
  document.addEventListener("keydown", unlock, { once: true });
  function ringing() {
    const out = [...state.offers.values()].map((o) => ({ id: o.interaction_id, text: t("{channel} from {customer}", { channel: channel(o.channel), customer: o.customer.name || o.customer.id }) }));
    const c = state.call;
    if (c && ["ringing", "consult", "conference"].includes(c.phase)) {
      out.push({ id: `${c.interaction_id}:${c.phase}`, text: t("call from {caller}", { caller: c.customer.name || c.caller_name || c.caller_number }) });
    }
    return out;
  }
  function alertOffers() {
    const rings = ringing();
    document.title = rings.length ? `(${rings.length}) ` + t("Ringing: {what}", { what: rings[0].text }) + ` · ${baseTitle}` : baseTitle;
    document.body.dataset.ringing = String(rings.length);
    const fresh = rings.filter((o) => !alerted.has(o.id));
    for (const id of [...alerted]) if (!rings.some((o) => o.id === id)) alerted.delete(id);
    if (!fresh.length) return;
    for (const o of fresh) alerted.add(o.id);
    beep();
    if ("Notification" in window && Notification.permission === "granted" && document.visibilityState !== "visible") {
      try { new Notification(t("Incoming: answer it"), { body: fresh.map((o) => o.text).join("\n"), tag: "callcenter-offer" }); } catch (err) { /* not allowed here */ }
    }
  }
  const notifyButton = $("notify");
  function renderNotify() {
    const supported = "Notification" in window;
    notifyButton.hidden = !supported || Notification.permission !== "default";
  }
  notifyButton.addEventListener("click", async () => { await Notification.requestPermission(); renderNotify(); });
  renderNotify();

  // Tickets (tickets-panel.js): "Create ticket" from a call or chat, when that module is loaded.
  const ticketButton = (context) => (window.ccTickets ? window.ccTickets.button(context) : null);

  // --- chats ------------------------------------------------------------------------------------
  function addChat(held, customer) {
    const previous = state.chats.get(held.conversation_id);
    state.chats.set(held.conversation_id, {
      interaction_id: held.interaction_id, conversation_id: held.conversation_id, channel: held.channel,
      customer: customer || (previous && previous.customer) || { id: held.customer_id, name: "" },
      messages: held.messages || [], typing: false, draft: previous ? previous.draft : "",
      collected: held.collected || (previous && previous.collected) || {},
    });
  }
  function chatCard(chat) {
    // Built once per conversation; updateChat() keeps it current. Handlers look the chat up by id,
    // so a reconnect (which replaces the chat objects) leaves the card and its reply box as they are.
    const id = chat.conversation_id;
    const current = () => state.chats.get(id) || chat;
    const name = chat.customer.name || chat.customer.id || t("customer");
    const input = el("input", { type: "text", "aria-label": t("Reply to {customer}", { customer: name }), "data-reply": id, value: chat.draft || "", autocomplete: "off" });
    let typingSent = false;
    input.addEventListener("input", () => {
      current().draft = input.value;
      if (!typingSent) { typingSent = true; send("typing", { conversation_id: id, typing: true }); setTimeout(() => { typingSent = false; }, 3000); }
    });
    const form = el("form", { class: "reply", onsubmit: async (e) => {
      e.preventDefault();
      const body = input.value.trim();
      if (!body) return;
      // The same text sent again after no answer keeps its id: the server stores and sends it once.
      const pending = current().pendingReply;
      const replyId = pending && pending.body === body ? pending.id
        : Math.random().toString(36).slice(2) + Date.now().toString(36);
      current().pendingReply = { id: replyId, body: body };
      const ack = await send("reply", { conversation_id: id, text: body, id: replyId });
      if (!ack.ok) return;
      const c = current();
      c.pendingReply = null;
      c.messages.push(ack.message);
      // Only what was sent goes: the agent may have typed on while the reply travelled.
      if (input.value.trim() === body) input.value = "";
      c.draft = input.value;
      renderWork();
    } }, input, el("button", { type: "submit", text: t("Send") }));
    const targets = el("select", { "aria-label": t("Transfer to") },
      el("option", { value: "", text: t("Transfer to…") }),
      ...config.agents.filter((a) => !state.me || a.id !== state.me.agent_id).map((a) => el("option", { value: `agent:${a.id}`, text: t("agent {agent}", { agent: a.name }) })),
      ...(config.queues || []).map((q) => el("option", { value: `queue:${q}`, text: t("queue {queue}", { queue: q }) })));
    const log = el("ol", { class: "log", "aria-label": t("Conversation with {customer}", { customer: name }), "aria-live": "polite" });
    const card = el("article", { class: "card chat", "data-conversation": id, "aria-label": t("Chat with {customer}", { customer: name }) },
      el("h3", { text: t("{channel}: {customer}", { channel: channel(chat.channel), customer: name }) }),
      collectedList(chat.collected),
      log,
      el("div", { class: "typing", "aria-live": "polite", text: "" }),
      form,
      el("div", { class: "row" },
        targets,
        el("button", { type: "button", class: "secondary", onclick: async () => {
          const [kind, target] = targets.value.split(":");
          if (!target) return showError(t("choose where to transfer"));
          const ack = await send("transfer", { conversation_id: id, [`to_${kind}`]: target });
          if (ack.ok) { state.chats.delete(id); render(); }
        } }, t("Transfer")),
        el("button", { type: "button", class: "danger", onclick: async () => {
          const ack = await send("close", { conversation_id: id });
          if (ack.ok) { state.chats.delete(id); render(); }
        } }, t("Close")),
        ticketButton({ interaction_id: chat.interaction_id, customer_id: chat.customer.id, ivr: chat.collected })));
    card.shown = { chat: null, count: 0 };
    updateChat(card, chat);
    return card;
  }
  function updateChat(card, chat) {
    // Appends the messages not shown yet (the whole log again only when the chat object changed,
    // after a reconnect); the reply box is never touched.
    const log = card.querySelector("ol.log");
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    if (card.shown.chat !== chat || chat.messages.length < card.shown.count) {
      log.replaceChildren();
      card.shown = { chat, count: 0 };
    }
    for (const m of chat.messages.slice(card.shown.count)) log.append(message(m));
    const added = chat.messages.length - card.shown.count;
    card.shown.count = chat.messages.length;
    const name = chat.customer.name || t("customer");
    card.querySelector(".typing").textContent = chat.typing ? t("{customer} is typing…", { customer: name }) : "";
    if (added > 0 && (atBottom || log.children.length === added)) log.scrollTop = log.scrollHeight;
    if (window.ccKb) window.ccKb.chat(card, chat); // knowledge-base suggestions (kb-suggest.js)
  }
  function focusReply(conversationId) {
    const box = document.querySelector(conversationId ? `[data-reply="${CSS.escape(conversationId)}"]` : "[data-reply]");
    if (box) box.focus();
  }

  // --- campaigns: the record, its script, preview cards ------------------------------------------
  // Everything from a list or a definition is shown as text (textContent), never as HTML.
  function campaignBlock(name, record, fields, script) {
    const list = el("dl", { class: "ivr", "aria-label": t("The record's details") });
    for (const [k, v] of Object.entries(fields || {})) list.append(el("dt", { text: k }), el("dd", { text: v }));
    return el("section", { class: "campaign", "aria-label": t("Campaign {campaign}", { campaign: name }) },
      el("p", { class: "campaign-name", text: t("Call for campaign {campaign} · record {record}", { campaign: name, record: record }) }),
      Object.keys(fields || {}).length ? list : null,
      script ? el("h4", { text: t("Script") }) : null,
      script ? el("p", { class: "script", text: script }) : null);
  }
  const previewKey = (p) => `${p.campaign}:${p.record_id}`;
  function renderPreviews() {
    // Keyed like the offers: a card on screen stays (its buttons may have the focus).
    const box = $("offers");
    const shown = new Map([...box.querySelectorAll("[data-preview]")].map((c) => [c.dataset.preview, c]));
    for (const [key, card] of shown) if (!state.previews.has(key)) card.remove();
    for (const [key, p] of state.previews) {
      if (shown.has(key)) continue;
      const title = t("Preview: call {number}?", { number: p.number });
      const card = el("article", { class: "card offer preview", "data-preview": key, "aria-label": title },
        el("h3", { text: title }),
        campaignBlock(p.campaign, p.record_id, p.fields, p.script),
        el("div", { class: "row" },
          el("button", { type: "button", "data-preview-call": key, "aria-keyshortcuts": "Alt+Shift+C", onclick: () => answerPreview(p, true) }, t("Call") + " ", shortcut("C")),
          el("button", { type: "button", class: "secondary", "aria-keyshortcuts": "Alt+Shift+S", onclick: () => answerPreview(p, false) }, t("Skip") + " ", shortcut("S"))));
      box.append(card);
    }
  }
  async function answerPreview(p, dial) {
    const ack = await send("preview_answer", { campaign: p.campaign, record_id: p.record_id, dial: dial });
    if (ack.ok) { state.previews.delete(previewKey(p)); renderPreviews(); }
  }

  // --- the call ---------------------------------------------------------------------------------
  function callCard(call) {
    const who = call.customer.name || call.caller_name || call.caller_number;
    const ivr = el("dl", { class: "ivr", "aria-label": t("What the IVR collected") });
    for (const [k, v] of Object.entries(call.ivr || {})) ivr.append(el("dt", { text: k }), el("dd", { text: v }));
    const phaseText = {
      ringing: t("Ringing: answer on your phone"), talking: t("Talking"), held: t("On hold (the caller hears music)"),
      consult: t("A colleague asks you to take this call: answer on your phone"),
      conference: t("A colleague brings you into this call: answer on your phone"),
    }[call.phase] || call.phase;
    const card = el("article", { class: "card call", "aria-label": t("Call from {caller}", { caller: who }), "data-call": call.interaction_id },
      el("h3", {}, t("Call from {caller}", { caller: who }) + " ", el("span", { class: "badge", role: "status", "data-phase": call.phase, text: phaseText })),
      el("p", {}, el("strong", { text: call.caller_number }), call.queue ? " · " + t("queue {queue}", { queue: call.queue }) : "",
        call.answered_at ? el("span", {}, " · ", el("span", { "data-since": call.answered_at, text: "" })) : ""),
      call.customer.identities.length ? el("p", { class: "muted", text: call.customer.identities.join(", ") }) : el("p", { class: "muted", text: t("Not a known customer.") }),
      call.campaign ? campaignBlock(call.campaign.name, call.campaign.record, call.campaign.fields, call.campaign.script)
        : Object.keys(call.ivr || {}).length ? ivr : null,
      ticketButton({ interaction_id: call.interaction_id, customer_id: call.customer.id, ivr: call.ivr }),
      el("h4", { text: t("Earlier contacts") }),
      timeline(call.customer.timeline));
    if (!["ringing", "consult", "conference"].includes(call.phase)) {
      const transferTo = el("select", { "aria-label": t("Transfer the call to"), "data-field": "transfer-to" },
        el("option", { value: "", text: t("Transfer to…") }),
        ...config.agents.filter((a) => !state.me || a.id !== state.me.agent_id).map((a) => el("option", { value: `agent:${a.id}`, text: t("agent {agent}", { agent: a.name }) })),
        ...(config.queues || []).map((q) => el("option", { value: `queue:${q}`, text: t("queue {queue}", { queue: q }) })));
      const number = el("input", { type: "tel", "aria-label": t("or an outside number"), "data-field": "number", placeholder: t("or number"), size: 12 });
      card.append(el("div", { class: "row" },
        el("button", { type: "button", class: "danger", "data-field": "hangup", onclick: hangup, "aria-keyshortcuts": "Alt+Shift+H" }, t("Hang up") + " ", shortcut("H")),
        el("button", { type: "button", "data-field": "hold", onclick: toggleHold, "aria-keyshortcuts": "Alt+Shift+O" }, (call.phase === "held" ? t("Resume") : t("Hold")) + " ", shortcut("O")),
        el("button", { type: "button", class: "secondary", "aria-pressed": call.recording_paused ? "true" : "false", onclick: async () => {
          const ack = await send("call_recording", { interaction_id: call.interaction_id, paused: !call.recording_paused });
          if (ack.ok) { call.recording_paused = ack.paused; renderWork(); }
        } }, call.recording_paused ? t("Resume recording") : t("Pause recording (card data)"))),
        call.consulting
          ? el("div", { class: "row", role: "group", "aria-label": t("Attended transfer") },
            el("span", { text: t("Consulting agent {agent}…", { agent: call.consulting }) }),
            el("button", { type: "button", onclick: () => send("call_consult_end", { interaction_id: call.interaction_id, complete: true }) }, t("Complete transfer")),
            el("button", { type: "button", class: "secondary", onclick: () => send("call_consult_end", { interaction_id: call.interaction_id, complete: false }) }, t("Back to the caller")))
          : call.conference_with
            ? el("div", { class: "row", role: "group", "aria-label": t("Conference") },
              el("span", { text: t("Conference with agent {agent}", { agent: call.conference_with }) }),
              el("button", { type: "button", class: "secondary", onclick: () => send("call_conference_end", { interaction_id: call.interaction_id }) }, t("Drop the third party")))
            : el("div", { class: "row" },
              el("button", { type: "button", class: "secondary", onclick: async () => {
                const [kind, target] = transferTo.value.split(":");
                if (kind !== "agent" || !target) return showError(t("choose an agent to consult"));
                await send("call_consult", { interaction_id: call.interaction_id, to_agent: target });
              } }, t("Consult agent first")),
              el("button", { type: "button", class: "secondary", onclick: async () => {
                const [kind, target] = transferTo.value.split(":");
                if (kind !== "agent" || !target) return showError(t("choose an agent to bring in"));
                await send("call_conference", { interaction_id: call.interaction_id, to_agent: target });
              } }, t("Conference agent in"))),
        el("div", { class: "row" }, transferTo, number,
          el("button", { type: "button", class: "secondary", onclick: async () => {
            const payload = { interaction_id: call.interaction_id };
            if (number.value.trim()) payload.to_number = number.value.trim();
            else if (transferTo.value) { const [kind, target] = transferTo.value.split(":"); payload[`to_${kind}`] = target; }
            else return showError(t("choose an agent, a queue or a number"));
            await send("call_transfer", payload);
          } }, t("Transfer"))));
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
      el("option", { value: "", text: t("Choose…") }), ...dispositions.map((d) => el("option", { value: d, text: d })));
    const notes = el("textarea", { name: "notes", maxlength: "2000" });
    return el("form", { class: "card wrapup", "aria-label": t("Wrap-up of {who}", { who: w.who }), "data-wrapup": w.interaction_id, onsubmit: async (e) => {
      e.preventDefault();
      const ack = await send("wrap_up", { interaction_id: w.interaction_id, disposition: select.value, notes: notes.value });
      if (ack.ok) { state.wrapups.delete(w.interaction_id); if (ack.me) state.me = ack.me; render(); }
    } },
      el("h3", { text: t("Wrap-up: {channel} with {who}", { channel: channel(w.channel), who: w.who }) }),
      w.campaign ? el("p", { class: "muted", text: t("Campaign {campaign}", { campaign: w.campaign }) }) : null,
      w.until ? el("p", {}, t("Wrap-up time left:") + " ", el("span", { class: "countdown", "data-until": w.until, text: "" })) : null,
      w.transferred_to ? el("p", { class: "muted", text: t("Transferred to {target}", { target: w.transferred_to }) }) : null,
      el("label", {}, t("Disposition") + " ", select),
      el("label", { class: "stack" }, t("Notes"), notes),
      el("div", { class: "row" }, el("button", { type: "submit", text: t("Done") }),
        ticketButton({ interaction_id: w.interaction_id, customer_id: w.customer_id, ivr: w.ivr })));
  }

  // --- rendering and timers ---------------------------------------------------------------------
  function renderWork() {
    // In place (see the header): nodes already on screen are never moved or rebuilt needlessly,
    // since moving or replacing a node that holds the focus drops it onto <body>.
    const work = $("work");
    renderCall(work);
    const shown = new Map([...work.querySelectorAll("[data-conversation]")].map((c) => [c.dataset.conversation, c]));
    for (const [id, card] of shown) if (!state.chats.has(id)) card.remove();
    for (const chat of state.chats.values()) {
      const card = shown.get(chat.conversation_id);
      if (card) { updateChat(card, chat); continue; }
      const fresh = chatCard(chat);
      work.append(fresh);
      const log = fresh.querySelector("ol.log");
      log.scrollTop = log.scrollHeight;
    }
    const idle = $("idle");
    const empty = !state.call && !state.chats.size;
    if (empty && !idle) work.append(el("p", { class: "muted", id: "idle", text: t("No call or chat in progress.") }));
    if (!empty && idle) idle.remove();
    tick();
  }
  function renderCall(work) {
    const old = work.querySelector("[data-call]");
    const signature = state.call ? JSON.stringify(state.call) : "";
    if (old && old.dataset.signature === signature) return;
    if (!state.call) { if (old) old.remove(); return; }
    const card = callCard(state.call);
    card.dataset.signature = signature;
    if (window.ccKb) window.ccKb.call(card, state.call); // knowledge-base suggestions (kb-suggest.js)
    if (!old) { work.prepend(card); return; }
    // The same fields on the new card get what the agent had chosen or typed, and the focus.
    const focused = old.contains(document.activeElement) ? document.activeElement.dataset.field : null;
    for (const field of old.querySelectorAll("input[data-field], select[data-field]")) {
      const twin = card.querySelector(`[data-field="${field.dataset.field}"]`);
      if (twin) twin.value = field.value;
    }
    old.replaceWith(card);
    const target = focused && card.querySelector(`[data-field="${focused}"]`);
    if (target) target.focus();
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
  function render() { renderMe(); renderOffers(); renderPreviews(); renderWork(); renderWrapups(); }
  function tick() {
    // since 0: no state change since the server started (not 1970): no time to show.
    if (state.me) $("me-timer").textContent = state.me.since > 0 ? clock(now() - state.me.since) : "–";
    for (const node of document.querySelectorAll("[data-until]")) node.textContent = clock(Number(node.dataset.until) - now());
    for (const node of document.querySelectorAll("[data-since]")) node.textContent = clock(now() - Number(node.dataset.since));
  }
  setInterval(tick, 1000);

  // --- server -> panel --------------------------------------------------------------------------
  socket.on("connect", async () => {
    $("conn").textContent = t("connected");
    $("conn").className = "badge ok";
    const [chats, panel] = await Promise.all([send("sync"), send("panel_sync")]);
    if (panel.me) {
      state.me = panel.me;
      state.call = panel.call;
      state.wrapups = new Map((panel.wrap_ups || []).map((w) => [w.interaction_id, w]));
      state.previews = new Map((panel.previews || []).map((p) => [previewKey(p), p]));
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
  socket.on("disconnect", () => { $("conn").textContent = t("reconnecting…"); $("conn").className = "badge bad"; });
  socket.on("connect_error", (err) => { $("conn").textContent = t("not connected: {error}", { error: err.message }); $("conn").className = "badge bad"; });
  function withDeadline(offer) { return { ...offer, until: offer.until || now() + offer.timeout }; }
  socket.on("me", (me) => { state.me = me; renderMe(); tick(); });
  socket.on("offer", (offer) => { state.offers.set(offer.interaction_id, withDeadline(offer)); renderOffers(); });
  socket.on("offer_withdrawn", (w) => { state.offers.delete(w.interaction_id); renderOffers(); });
  socket.on("preview", (p) => { state.previews.set(previewKey(p), p); renderPreviews(); beep(); });
  // Why a card left (a call taking the agent explains itself).
  const WITHDRAWN = {
    changed_before_dial: t("The call was not placed: the callback was moved or cancelled just before it."),
    record_changed: t("A preview card was taken back: the callback was moved or cancelled."),
    timed_out: t("A preview card was passed: it was not answered in time."),
    campaign_paused: t("A preview card was taken back: the campaign was paused."),
    campaign_stopped: t("A preview card was taken back: the campaign was stopped."),
  };
  socket.on("preview_withdrawn", (p) => {
    state.previews.delete(previewKey(p));
    renderPreviews();
    if (WITHDRAWN[p.reason]) showError(WITHDRAWN[p.reason]);
  });
  socket.on("message", (m) => {
    const chat = state.chats.get(m.conversation_id);
    if (chat) { chat.messages.push(m); chat.typing = false; renderWork(); }
  });
  socket.on("typing", (typing) => {
    const chat = state.chats.get(typing.conversation_id);
    if (!chat) return;
    chat.typing = typing.typing;
    const node = document.querySelector(`[data-conversation="${CSS.escape(typing.conversation_id)}"] .typing`);
    if (node) node.textContent = typing.typing ? t("{customer} is typing…", { customer: chat.customer.name || t("customer") }) : "";
  });
  socket.on("ended", (e) => {
    const chat = state.chats.get(e.conversation_id);
    if (chat) { chat.messages.push({ from: "customer", channel: chat.channel, at: now(), body: e.by === "customer" ? t("(the customer ended the chat)") : e.by === "agent" ? t("(the agent ended the chat)") : t("(the {who} ended the chat)", { who: e.by }) }); renderWork(); }
  });
  socket.on("reassigned", (r) => {
    // A supervisor handed the chat to someone else: it leaves this panel (the server no longer lets
    // this agent reply to it), with a word of why.
    const chat = state.chats.get(r.conversation_id);
    if (!chat) return;
    state.chats.delete(r.conversation_id);
    renderWork();
    showError(chat.customer.name ? t("{by} reassigned your chat with {customer}", { by: r.by, customer: chat.customer.name }) : t("{by} reassigned your chat with the customer", { by: r.by }));
  });
  socket.on("call", (call) => { state.call = call; renderWork(); alertOffers(); });
  socket.on("consult_failed", (e) => showError(t("The consult ended: {reason}", { reason: e.reason })));
  socket.on("call_ended", (e) => {
    if (state.call && state.call.interaction_id === e.interaction_id) { state.call = null; renderWork(); alertOffers(); }
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
  // Every shortcut is Alt+Shift+key (by physical key, so any layout and Caps Lock work): plain keys
  // always type, whether or not a text box has the focus.
  const actions = {
    KeyA: () => { const first = state.offers.values().next().value; if (first) accept(first); },
    KeyD: () => { const first = state.offers.values().next().value; if (first) decline(first); },
    KeyV: () => setState("available"),
    KeyP: () => setState("paused", $("pause-reason").value),
    KeyC: () => { const first = state.previews.values().next().value; if (first) answerPreview(first, true); },
    KeyS: () => { const first = state.previews.values().next().value; if (first) answerPreview(first, false); },
    KeyH: hangup,
    KeyO: toggleHold,
    KeyR: () => focusReply(null),
    KeyW: () => { const f = document.querySelector("[data-wrapup] select"); if (f) f.focus(); },
    KeyK: () => { if (window.ccCallbackForm) window.ccCallbackForm.fill(); },
    Slash: () => (help.hidden ? openHelp() : closeHelp()),
  };
  document.addEventListener("keydown", (e) => {
    if (e.isComposing) return;
    if (e.key === "Escape") {
      if (!help.hidden) closeHelp();
      else if (["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement && document.activeElement.tagName)) document.activeElement.blur();
      return;
    }
    if (!e.altKey || !e.shiftKey || e.ctrlKey || e.metaKey) return;
    const action = actions[e.code];
    if (action) { e.preventDefault(); action(); }
  });
})();
