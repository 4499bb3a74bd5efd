// The browser softphone of the agent panel and the supervisor console (docs/agent-panel.md,
// "Softphone"). JsSIP (vendor/jssip.min.js) registers the account's browser endpoint
// (<extension>-web) over a WebSocket to Asterisk; calls are WebRTC (DTLS-SRTP, ICE). While it is
// registered, Asterisk rings this browser instead of the desk phone (the server's rule,
// asterisk/devices.py), so the checkbox is the agent's choice of phone; it is remembered in this
// browser. The SIP password comes from /api/softphone (the signed-in account's own) and stays in
// memory. The call card's controls (hold, transfer...) stay the server's; the softphone's hang-up,
// mute, hold and keypad act on this phone's leg, as a desk phone's buttons do.
"use strict";
(() => {
  const root = document.getElementById("softphone");
  if (!root || !window.JsSIP) return;
  const config = JSON.parse(root.dataset.config || "{}");
  const $ = (id) => document.getElementById(id);
  const enable = $("sp-enable"), status = $("sp-status"), errorBox = $("sp-error");
  const callBox = $("sp-call"), peer = $("sp-peer"), stateText = $("sp-state"), timer = $("sp-timer");
  const answerBtn = $("sp-answer"), rejectBtn = $("sp-reject"), hangupBtn = $("sp-hangup");
  const muteBtn = $("sp-mute"), holdBtn = $("sp-hold"), keypad = $("sp-keypad"), audio = $("sp-audio");
  const STORE = "cc-softphone-on";
  const title = document.title;
  let ua = null, session = null, started = 0, tick = null, ringer = null, audioContext = null;

  function setStatus(text, kind) {
    status.textContent = text;
    status.className = "badge" + (kind ? " " + kind : "");
    root.dataset.status = kind || "";
  }
  function showError(text) {
    errorBox.textContent = text || "";
    errorBox.hidden = !text;
  }

  // --- the ring: a tone from Web Audio while a call rings (no sound file), and the tab's title ------
  function ring(on) {
    if (ringer) { clearInterval(ringer); ringer = null; }
    document.title = on ? "☎ " + t("Incoming call") + " · " + title : title;
    if (!on || !audioContext) return;
    const beep = () => {
      const osc = audioContext.createOscillator(), gain = audioContext.createGain();
      osc.frequency.value = 440;
      gain.gain.value = 0.08;
      osc.connect(gain).connect(audioContext.destination);
      osc.start();
      osc.stop(audioContext.currentTime + 0.8);
    };
    beep();
    ringer = setInterval(beep, 3000);
  }

  // --- the call on screen --------------------------------------------------------------------------
  function render() {
    const s = session;
    callBox.hidden = !s;
    if (!s) { clearInterval(tick); tick = null; timer.textContent = ""; ring(false); return; }
    const incoming = s.direction === "incoming";
    const ringing = incoming && !s.isEstablished() && !s.isEnded();
    const identity = s.remote_identity;
    peer.textContent = (identity && (identity.display_name || (identity.uri && identity.uri.user))) || t("Unknown caller");
    const held = s.isOnHold().local;
    const muted = s.isMuted().audio;
    stateText.textContent = ringing ? t("Ringing") : held ? t("On hold") : s.isEstablished() ? t("Connected") : t("Connecting…");
    root.dataset.call = ringing ? "ringing" : s.isEstablished() ? (held ? "held" : "connected") : "connecting";
    answerBtn.hidden = rejectBtn.hidden = !ringing;
    hangupBtn.hidden = ringing;
    muteBtn.disabled = holdBtn.disabled = !s.isEstablished();
    muteBtn.setAttribute("aria-pressed", String(muted));
    muteBtn.firstChild.textContent = muted ? t("Unmute") + " " : t("Mute") + " ";
    holdBtn.setAttribute("aria-pressed", String(held));
    holdBtn.textContent = held ? t("Resume") : t("Hold");
    keypad.querySelectorAll("button").forEach((b) => { b.disabled = !s.isEstablished(); });
    ring(ringing);
    if (ringing) answerBtn.focus();
  }
  function showTime() {
    const secs = Math.max(0, Math.floor((Date.now() - started) / 1000));
    timer.textContent = `${Math.floor(secs / 60)}:${String(secs % 60).padStart(2, "0")}`;
  }

  function onSession(e) {
    const s = e.session;
    if (session && session !== s) {  // one call at a time: a second one is refused as busy
      s.terminate({ status_code: 486 });
      return;
    }
    session = s;
    s.on("peerconnection", (ev) => attachAudio(ev.peerconnection));
    if (s.connection) attachAudio(s.connection);
    s.on("accepted", () => { started = Date.now(); tick = setInterval(showTime, 1000); showTime(); render(); });
    s.on("confirmed", render);
    s.on("hold", render);
    s.on("unhold", render);
    s.on("muted", render);
    s.on("unmuted", render);
    const over = () => { if (session === s) { session = null; render(); } };
    s.on("ended", over);
    s.on("failed", over);
    render();
  }
  function attachAudio(pc) {
    pc.addEventListener("track", (ev) => {
      if (ev.track.kind !== "audio") return;
      audio.srcObject = ev.streams[0] || new MediaStream([ev.track]);
      audio.play().catch(() => {});
    });
  }

  // --- register / unregister -------------------------------------------------------------------------
  async function start() {
    showError("");
    setStatus(t("registering…"), "");
    let account;
    try {
      const response = await fetch(config.credentials, { credentials: "same-origin", cache: "no-store" });
      const body = await response.json();
      if (!response.ok) throw new Error(body.error || response.statusText);
      account = body;
    } catch (err) {
      setStatus(t("off"), "bad");
      showError(t("The softphone could not start: {error}", { error: err.message }));
      enable.checked = false;
      return;
    }
    ua = new JsSIP.UA({
      sockets: [new JsSIP.WebSocketInterface(account.websocket)],
      uri: account.uri,
      authorization_user: account.username,
      password: account.password,
      display_name: account.display_name,
      register: true,
      register_expires: 120,
      session_timers: false,
      user_agent: "callcenter-softphone",
    });
    ua.on("registered", () => { setStatus(t("ready: calls ring here"), "ok"); showError(""); });
    ua.on("unregistered", () => { if (ua) setStatus(t("not registered"), "bad"); });
    ua.on("registrationFailed", (e) => {
      setStatus(t("not registered"), "bad");
      showError(t("Registration failed: {cause}", { cause: e.cause || "" }));
    });
    ua.on("disconnected", () => { if (ua) setStatus(t("no connection to the phone server"), "bad"); });
    ua.on("newRTCSession", onSession);
    ua.start();
  }
  function stop() {
    if (session) { try { session.terminate(); } catch (err) { /* already over */ } session = null; }
    if (ua) { const old = ua; ua = null; old.stop(); }
    render();
    setStatus(t("off"), "");
  }

  enable.addEventListener("change", () => {
    // A click is a user gesture: the ring tone may start its audio now.
    if (!audioContext && window.AudioContext) audioContext = new AudioContext();
    try { localStorage.setItem(STORE, enable.checked ? "1" : ""); } catch (err) { /* private mode */ }
    if (enable.checked) start(); else stop();
  });
  window.addEventListener("pagehide", () => { if (ua) ua.stop(); });

  // --- the call's buttons ---------------------------------------------------------------------------
  const media = { mediaConstraints: { audio: true, video: false }, pcConfig: { iceServers: [] } };
  function answer() {
    if (!session || session.isEstablished() || session.direction !== "incoming") return;
    ring(false);
    session.answer(media);
  }
  function endCall() {
    if (!session) return;
    if (session.direction === "incoming" && !session.isEstablished()) session.terminate({ status_code: 486 });
    else session.terminate();
  }
  answerBtn.addEventListener("click", answer);
  rejectBtn.addEventListener("click", endCall);
  hangupBtn.addEventListener("click", endCall);
  muteBtn.addEventListener("click", () => {
    if (!session || !session.isEstablished()) return;
    if (session.isMuted().audio) session.unmute({ audio: true }); else session.mute({ audio: true });
  });
  holdBtn.addEventListener("click", () => {
    if (!session || !session.isEstablished()) return;
    if (session.isOnHold().local) session.unhold(); else session.hold();
  });
  function press(key) {
    if (!session || !session.isEstablished()) return;
    session.sendDTMF(key, { transportType: "RFC2833", duration: 160 });
    const button = keypad.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (button) { button.classList.add("pressed"); setTimeout(() => button.classList.remove("pressed"), 200); }
  }
  keypad.addEventListener("click", (e) => { const key = e.target.closest("[data-key]"); if (key) press(key.dataset.key); });
  // Keys 0-9, * and # while the focus is on the keypad send them; shortcuts are Alt+Shift only, so
  // typing in a text box never triggers one.
  keypad.addEventListener("keydown", (e) => {
    if (!e.altKey && !e.ctrlKey && !e.metaKey && /^[0-9*#]$/.test(e.key)) { e.preventDefault(); press(e.key); }
  });
  document.addEventListener("keydown", (e) => {
    if (!e.altKey || !e.shiftKey || e.ctrlKey || e.metaKey) return;
    const code = e.code;
    if (code === "KeyN") { e.preventDefault(); answer(); }
    else if (code === "KeyX") { e.preventDefault(); endCall(); }
    else if (code === "KeyM") { e.preventDefault(); muteBtn.click(); }
  });

  render();
  let remembered = "";
  try { remembered = localStorage.getItem(STORE) || ""; } catch (err) { /* private mode */ }
  // On if it was on in this browser, or if the box was ticked before this script ran.
  if (remembered || enable.checked) { enable.checked = true; start(); }
})();
