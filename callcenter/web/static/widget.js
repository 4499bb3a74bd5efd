/* Web-chat widget. Embed with one tag on any page:
 *
 *   <script src="https://cc.example.com/widget.js" async
 *           data-title="Chat with us"
 *           data-user-id="42" data-signature="<hex HMAC-SHA256 of the user id>"></script>
 *
 * data-server (default: where this file came from), data-title, data-user-id + data-signature (a
 * site's logged-in user, signed with messaging.web_identity_secret), optionally data-phone (a phone
 * the site verified, E.164; then the signature is of user id + "\n" + phone), data-open="true",
 * data-language (en, zh-CN; default: the visitor's browser language).
 * Look: data-accent (a CSS colour: header, buttons), data-accent-text (the text on it), data-font,
 * data-radius (a CSS length) and data-position ("left"; default right); or CSS custom properties
 * on .cc-widget in the site's stylesheet: --cc-accent, --cc-accent-text, --cc-text, --cc-background,
 * --cc-customer-bubble, --cc-agent-bubble, --cc-focus, --cc-font, --cc-radius (docs/omnichannel.md).
 * Loads the Socket.IO client from the same server (no CDN). Keeps the visitor token in localStorage
 * so a reload or a new tab continues the same conversation.
 */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__ccWidget) { return; }
  window.__ccWidget = true;
  var data = script.dataset;
  var server = (data.server || new URL(script.src, location.href).origin).replace(/\/+$/, "");
  var STORE = "cc-visitor:" + server;
  // Translations: the server fills CATALOGUES (language -> English text -> translation) when it
  // serves this file, so the widget needs no second request and no inline script.
  var CATALOGUES = {};
  function pickLanguage() {
    var asked = [data.language].concat(navigator.languages || [navigator.language]);
    for (var i = 0; i < asked.length; i += 1) {
      var tag = String(asked[i] || "").toLowerCase();
      if (tag.indexOf("zh") === 0) { return "zh-CN"; }
      if (tag.indexOf("en") === 0) { return "en"; }
    }
    return "en";
  }
  var language = pickLanguage();
  var messages = CATALOGUES[language] || {};
  function t(message, values) {
    var text = Object.prototype.hasOwnProperty.call(messages, message) ? messages[message] : message;
    return text.replace(/\{(\w+)\}/g, function (all, name) {
      return values && name in values ? String(values[name]) : all;
    });
  }
  var state = { socket: null, started: false, online: true, agent: null, typingTimer: null,
                sentTyping: false, email: "", unanswered: Object.create(null) };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") { node.textContent = attrs[k]; } else { node.setAttribute(k, attrs[k]); }
    });
    (children || []).forEach(function (c) { node.appendChild(c); });
    return node;
  }
  function field(id, label, type, required) {
    var input = el(type === "textarea" ? "textarea" : "input",
                   { id: id, name: id, autocomplete: type === "email" ? "email" : "on" });
    if (type !== "textarea") { input.setAttribute("type", type); }
    if (required) { input.required = true; }
    return { wrap: el("div", { "class": "cc-field" }, [el("label", { "for": id, text: label }), input]),
             input: input };
  }
  function load(src, done) {
    if (window.io) { done(); return; }
    var s = el("script", { src: src });
    s.onload = done;
    s.onerror = function () { status(t("The chat is unavailable right now.")); };
    document.head.appendChild(s);
  }

  var css = el("link", { rel: "stylesheet", href: server + "/static/widget.css" });
  document.head.appendChild(css);

  var title = data.title || t("Chat with us");
  var button = el("button", { type: "button", "class": "cc-launch", "aria-expanded": "false",
                              "aria-controls": "cc-panel", text: title });
  var heading = el("h2", { id: "cc-title", text: title });
  var close = el("button", { type: "button", "class": "cc-close", "aria-label": t("Close the chat"),
                             text: "\u00d7" });
  var statusLine = el("p", { "class": "cc-status", role: "status", "aria-live": "polite" });

  // Pre-chat form
  var pName = field("cc-name", t("Your name"), "text", true);
  var pEmail = field("cc-email", t("Email (optional, for a transcript)"), "email", false);
  var pMsg = field("cc-first", t("How can we help?"), "textarea", true);
  var preForm = el("form", { "class": "cc-form", "aria-label": t("Start a chat") },
                   [pName.wrap, pEmail.wrap, pMsg.wrap,
                    el("button", { type: "submit", text: t("Start chat") })]);

  // Offline form
  var oName = field("cc-off-name", t("Your name"), "text", true);
  var oEmail = field("cc-off-email", t("Your email"), "email", true);
  var oMsg = field("cc-off-msg", t("Your message"), "textarea", true);
  var offForm = el("form", { "class": "cc-form", "aria-label": t("Leave a message"), hidden: "" },
                   [el("p", { text: t("No one is available right now. Leave a message and we will get back to you.") }),
                    oName.wrap, oEmail.wrap, oMsg.wrap,
                    el("button", { type: "submit", text: t("Send message") })]);

  // "Call me back" (status says "callback"): a number, a day and a time, in the visitor's own time.
  var cNumber = field("cc-cb-number", t("Your phone number"), "tel", true);
  var cDate = field("cc-cb-date", t("Day"), "date", true);
  var cTime = field("cc-cb-time", t("Time"), "time", true);
  var callForm = el("form", { "class": "cc-form", "aria-label": t("Ask to be called back"), hidden: "" },
                    [el("p", { text: t("Pick when we should call you, in your own time.") }),
                     cNumber.wrap, cDate.wrap, cTime.wrap,
                     el("button", { type: "submit", text: t("Call me back") })]);
  var callMe = el("button", { type: "button", "class": "cc-link", hidden: "", text: t("Rather be called back?") });

  // Conversation
  var log = el("ol", { "class": "cc-log", role: "log", "aria-live": "polite", "aria-label": t("Messages") });
  var typing = el("p", { "class": "cc-typing", "aria-live": "polite" });
  var input = el("textarea", { id: "cc-input", rows: "2", maxlength: "4000" });
  var send = el("form", { "class": "cc-send", "aria-label": t("Send a message") },
                [el("label", { "for": "cc-input", "class": "cc-visually-hidden", text: t("Your message") }),
                 input, el("button", { type: "submit", text: t("Send") })]);
  var transcript = el("button", { type: "button", text: t("Email me the transcript") });
  var end = el("button", { type: "button", text: t("End chat") });
  var tools = el("div", { "class": "cc-tools" }, [transcript, end]);
  var botName = t("Assistant");
  var helped = el("button", { type: "button", text: t("That answers my question") });
  var person = el("button", { type: "button", text: t("Talk to a person") });
  var bot = el("div", { "class": "cc-tools cc-bot-choice", hidden: "" }, [helped, person]);
  var chat = el("section", { "class": "cc-chat", hidden: "", "aria-labelledby": "cc-title" },
                [log, typing, bot, send, tools]);

  // Rating
  var stars = el("fieldset", {}, [el("legend", { text: t("How was this chat?") })]);
  [1, 2, 3, 4, 5].forEach(function (n) {
    var id = "cc-score-" + n;
    var radio = el("input", { type: "radio", name: "cc-score", id: id, value: String(n) });
    stars.appendChild(el("span", { "class": "cc-star" },
                         [radio, el("label", { "for": id, text: n === 1 ? t("1 star") : t("{count} stars", { count: n }) })]));
  });
  var comment = field("cc-comment", t("Comment (optional)"), "textarea", false);
  var rateForm = el("form", { "class": "cc-form cc-rate", "aria-label": t("Rate this chat"), hidden: "" },
                    [stars, comment.wrap, el("button", { type: "submit", text: t("Send rating") })]);

  var panel = el("div", { id: "cc-panel", "class": "cc-panel", role: "dialog",
                          "aria-labelledby": "cc-title", hidden: "" },
                 [el("header", {}, [heading, close]), statusLine, preForm, offForm, callForm, callMe, chat, rateForm]);
  var root = el("div", { "class": "cc-widget" + (data.position === "left" ? " cc-left" : ""), lang: language },
                [panel, button]);
  // The site's look from the script tag: only values CSS accepts for that property are applied.
  [["accent", "--cc-accent", "color"], ["accentText", "--cc-accent-text", "color"],
   ["font", "--cc-font", "font-family"], ["radius", "--cc-radius", "border-radius"]].forEach(function (p) {
    var value = data[p[0]];
    if (value && window.CSS && CSS.supports(p[2], value)) { root.style.setProperty(p[1], value); }
  });
  document.body.appendChild(root);

  function status(text) { statusLine.textContent = text || ""; }
  function show(which) {
    panel.classList.remove("cc-over");
    send.hidden = false; end.hidden = false;
    [preForm, offForm, callForm, chat, rateForm].forEach(function (n) { n.hidden = n !== which; });
    callMe.hidden = !state.callback || (which !== preForm && which !== offForm);
    // Keyboard and screen-reader users land on the first field of what is now shown, unless they
    // are typing in it already (the form shows before the server's answer, which shows it again).
    var first = which.querySelector("input, textarea");
    if (first && !panel.hidden && !which.contains(document.activeElement)) { first.focus(); }
  }
  // The end keeps the conversation on screen (read only, with the transcript button) and puts the
  // rating form under it; rated, the form goes and the conversation stays.
  function ended() {
    status(t("The chat has ended."));
    [preForm, offForm].forEach(function (n) { n.hidden = true; });
    chat.hidden = false; send.hidden = true; end.hidden = true; typing.textContent = "";
    if (!log.querySelector(".cc-ended")) {
      log.appendChild(el("li", { "class": "cc-ended", text: t("The chat has ended.") }));
      log.scrollTop = log.scrollHeight;
    }
    panel.classList.add("cc-over");
    rateForm.hidden = false;
    var first = rateForm.querySelector("input");
    if (first && !panel.hidden) { first.focus(); }
  }
  function add(from, body, id) {
    if (id && log.querySelector('[data-id="' + id + '"]')) { return; }
    var who = from === "customer" ? t("You") : from === "bot" ? t("Assistant") : (state.agent || t("Agent"));
    var item = el("li", { "class": from === "bot" ? "cc-msg cc-agent cc-bot" : "cc-msg cc-" + from }, [
      el("span", { "class": "cc-who", text: t("{who}: ", { who: who }) }), el("span", { "class": "cc-body", text: body })]);
    if (id) { item.setAttribute("data-id", id); }
    log.appendChild(item);
    log.scrollTop = log.scrollHeight;
  }
  function identity() {
    if (!data.userId || !data.signature) return undefined;
    var signed = { user_id: data.userId, signature: data.signature };
    if (data.phone) signed.phone = data.phone; // the site signed user_id + "\n" + phone
    return signed;
  }
  function started(ack) {
    if (!ack || ack.error) { status(ack ? ack.error : t("No answer from the server.")); return false; }
    if (ack.visitor) { try { localStorage.setItem(STORE, ack.visitor); } catch (e) { /* private mode */ } }
    state.started = true;
    state.agent = ack.agent || state.agent;
    log.textContent = "";
    (ack.history || []).forEach(function (m) { add(m.from, m.body, m.id); });
    if (state.agent) { status(t("{agent} is with you.", { agent: state.agent })); }
    return true;
  }
  function emit(name, payload, then) {
    state.socket.timeout(10000).emit(name, payload, function (err, ack) {
      if (err) { status(t("No answer from the server: try again.")); return; }
      if (ack && ack.error) { status(ack.error); }
      if (then) { then(ack || {}); }
    });
  }
  function newId() {
    var a = new Uint8Array(12);
    (window.crypto || window.msCrypto).getRandomValues(a);
    return Array.prototype.map.call(a, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function connect() {
    var socket = window.io(server + "/customer", { path: "/socket.io/", transports: ["websocket", "polling"] });
    state.socket = socket;
    socket.on("connect", function () {
      var saved = null;
      try { saved = localStorage.getItem(STORE); } catch (e) { saved = null; }
      emit("status", {}, function (ack) {
        state.online = ack.online !== false;
        state.assistant = ack.assistant === true;
        state.callback = ack.callback === true;
        if (saved || identity()) {
          emit("start", { visitor: saved || undefined, identity: identity() }, function (ack2) {
            if (started(ack2) && ack2.history && ack2.history.length) { show(chat); return; }
            state.started = false;
            show(state.online ? preForm : offForm);
          });
        } else if (!state.started) {
          show(state.online ? preForm : offForm);
        }
      });
    });
    socket.on("disconnect", function () { status(t("Reconnecting\u2026")); });
    socket.on("message", function (m) { add(m.from || "agent", m.body, m.id); typing.textContent = ""; });
    socket.on("typing", function (event) {
      typing.textContent = event.typing ? t("{agent} is typing\u2026", { agent: state.agent || t("The agent") }) : "";
    });
    socket.on("agent_joined", function (a) { state.agent = a.name; status(t("{agent} joined the chat.", { agent: a.name })); });
    socket.on("ended", function () { ended(); });
  }

  function startChat() {
    bot.hidden = true; tools.hidden = false;
    emit("start", { name: pName.input.value, email: state.email || undefined,
                    identity: identity(), message: pMsg.input.value, visitor: undefined }, function (ack) {
      if (started(ack)) { show(chat); input.focus(); }
    });
  }
  // The virtual agent (status says "assistant"): the question goes to it first; a confident answer
  // from a public article shows with "Talk to a person" beside it, anything else starts the chat.
  preForm.addEventListener("submit", function (e) {
    e.preventDefault();
    state.email = pEmail.input.value.trim();
    if (!state.assistant) { startChat(); return; }
    emit("ask", { text: pMsg.input.value }, function (ack) {
      if (!ack.answer) { startChat(); return; }
      show(chat);
      send.hidden = true; tools.hidden = true; // nothing to send or end before a person is there
      log.textContent = "";
      add("customer", pMsg.input.value);
      var item = el("li", { "class": "cc-msg cc-agent cc-bot" }, [
        el("span", { "class": "cc-who", text: t("{who}: ", { who: botName }) }),
        el("strong", { text: ack.answer.title }), el("br", {}), el("span", { "class": "cc-body", text: ack.answer.text })]);
      log.appendChild(item);
      bot.hidden = false;
      helped.focus();
    });
  });
  person.addEventListener("click", startChat);
  helped.addEventListener("click", function () { bot.hidden = true; status(t("Glad we could help.")); });
  offForm.addEventListener("submit", function (e) {
    e.preventDefault();
    emit("offline", { name: oName.input.value, email: oEmail.input.value, text: oMsg.input.value,
                      identity: identity() }, function (ack) {
      if (ack.ok) {
        if (ack.visitor) { try { localStorage.setItem(STORE, ack.visitor); } catch (x) { /* ignore */ } }
        offForm.hidden = true;
        status(t("Thank you: we will get back to you."));
      }
    });
  });
  callMe.addEventListener("click", function () {
    if (data.phone && !cNumber.input.value) { cNumber.input.value = data.phone; }
    status("");
    show(callForm);
  });
  // The server's reasons, in the visitor's language; times are the visitor's own (their zone).
  function refused(ack) {
    var shown = function (local) { return local.slice(0, 16).replace("T", " "); };
    switch (ack.reason) {
      case "dnc": return t("We cannot call this number: it asked not to be called.");
      case "past": return t("That time has passed: pick a later one.");
      case "too_far": return t("That is too far ahead: pick a sooner time.");
      case "outside_window": return ack.next_local
        ? t("We do not call at that time. The next possible time is {when}.", { when: shown(ack.next_local) })
        : t("We do not call at that time.");
      case "invalid": return t("Check the phone number.");
      default: return t("The callback could not be booked: try again later.");
    }
  }
  callForm.addEventListener("submit", function (e) {
    e.preventDefault();
    state.socket.timeout(10000).emit("callback", { number: cNumber.input.value, date: cDate.input.value,
                                                   time: cTime.input.value }, function (err, ack) {
      if (err || !ack) { status(t("No answer from the server: try again.")); return; }
      if (ack.ok) {
        callForm.hidden = true; callMe.hidden = true;
        status(t("Thank you: we will call {number} on {when}.", { number: ack.number, when: ack.local.slice(0, 16).replace("T", " ") }));
        return;
      }
      status(refused(ack));
      if (ack.next_local) {
        cDate.input.value = ack.next_local.slice(0, 10);
        cTime.input.value = ack.next_local.slice(11, 16);
      }
    });
  });
  send.addEventListener("submit", function (e) {
    e.preventDefault();
    var text = input.value.trim();
    if (!text) { return; }
    // Sent again after no answer, a text keeps its id: the server stores it once if the first got there.
    var id = state.unanswered[text] || newId();
    state.unanswered[text] = id;
    emit("message", { text: text, id: id }, function (ack) {
      if (ack.ok) {
        delete state.unanswered[text];
        add("customer", text, ack.id); input.value = ""; status("");
      }
    });
    stopTyping();
  });
  function stopTyping() {
    clearTimeout(state.typingTimer);
    if (state.sentTyping) { state.sentTyping = false; state.socket.emit("typing", { typing: false }); }
  }
  input.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); send.requestSubmit(); }
  });
  input.addEventListener("input", function () {
    if (!state.sentTyping) { state.sentTyping = true; state.socket.emit("typing", { typing: true }); }
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(stopTyping, 3000);
  });
  transcript.addEventListener("click", function () {
    emit("transcript", {}, function (ack) { if (ack.ok) { status(t("The transcript is on its way.")); } });
  });
  end.addEventListener("click", function () {
    emit("end", {}, function (ack) { if (ack.ok) { ended(); } });
  });
  rateForm.addEventListener("submit", function (e) {
    e.preventDefault();
    var picked = rateForm.querySelector('input[name="cc-score"]:checked');
    if (!picked) { status(t("Pick a score from 1 to 5.")); return; }
    emit("rate", { score: Number(picked.value), comment: comment.input.value }, function (ack) {
      if (ack.ok) { rateForm.hidden = true; status(t("Thank you for your feedback.")); }
    });
  });

  function toggle(open) {
    panel.hidden = !open;
    button.setAttribute("aria-expanded", String(open));
    if (open && !state.socket) {
      status(t("Connecting\u2026"));
      load(server + "/static/socket.io.min.js?v=4.8.4", function () { status(""); connect(); });
    }
  }
  button.addEventListener("click", function () { toggle(panel.hidden); });
  close.addEventListener("click", function () { toggle(false); button.focus(); });
  panel.addEventListener("keydown", function (e) { if (e.key === "Escape") { toggle(false); button.focus(); } });
  if (data.open === "true") { toggle(true); }
})();
