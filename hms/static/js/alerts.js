/* Code alerts and broadcasts on every staff page (Asclepius).
 *
 * Connects to ws/alerts/ (session auth). The server pushes small JSON hints without patient data:
 *   code.activated  -> re-read my open alerts (portal:my_alerts fragment) into #alerts-banners, beep;
 *   code.changed / code.closed -> re-read them if a banner of that activation is showing;
 *   code.acknowledged (to the activator) -> a toast "<who> acknowledged <code>";
 *   broadcast       -> a banner with the title and body (beep when urgent).
 * Every message is also dispatched as a DOM event "hms:alert" (detail = the message) so a page (the
 * activation page) can refresh its own table; "hms:alert-reconnect" fires after each reconnect.
 * On each (re)connect the open alerts are re-read, so a push missed while offline loses nothing.
 * Reconnects with exponential backoff (1 s doubling to 30 s). The sound is a Web Audio beep.
 */
(function () {
  "use strict";
  var box = document.getElementById("alerts-banners");
  if (!box || !window.WebSocket) { return; }
  var toasts = document.getElementById("alerts-toasts");
  var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
  var url = scheme + window.location.host + box.dataset.wsPath;
  var delay = 1000;
  var audio = null;

  function beep(times) {
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) { return; }
      audio = audio || new Ctx();
      if (audio.state === "suspended") { audio.resume(); }
      for (var i = 0; i < (times || 3); i++) {
        var osc = audio.createOscillator();
        var gain = audio.createGain();
        var start = audio.currentTime + i * 0.35;
        osc.type = "square";
        osc.frequency.value = 880;
        gain.gain.setValueAtTime(0.15, start);
        gain.gain.setValueAtTime(0, start + 0.2);
        osc.connect(gain);
        gain.connect(audio.destination);
        osc.start(start);
        osc.stop(start + 0.22);
      }
    } catch (e) { /* no sound: the banner still shows */ }
  }

  /* Browsers start audio only after a user gesture: unlock the context on the first one. */
  document.addEventListener("pointerdown", function unlock() {
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (Ctx && !audio) { audio = new Ctx(); }
    } catch (e) { /* ignore */ }
    document.removeEventListener("pointerdown", unlock);
  });

  function loadMine() {
    return fetch(box.dataset.myAlertsUrl, { credentials: "same-origin", headers: { "HX-Request": "true" } })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (html === null) { return; }
        var keep = box.querySelectorAll(".alertbanner--broadcast");
        box.innerHTML = html;
        for (var i = 0; i < keep.length; i++) { box.appendChild(keep[i]); }
        if (window.htmx) { window.htmx.process(box); }
      })
      .catch(function () { /* next push or reconnect retries */ });
  }

  function showsActivation(id) {
    return box.querySelector('[data-activation="' + String(parseInt(id, 10)) + '"]') !== null;
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) { node.className = cls; }
    if (text) { node.textContent = text; }
    return node;
  }

  function timeOf(iso) {
    var d = new Date(iso);
    if (isNaN(d)) { return ""; }
    var options = { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false };
    try {
      return d.toLocaleTimeString([], Object.assign({ timeZone: box.dataset.timeZone }, options));
    } catch (e) {
      return d.toLocaleTimeString([], options);  /* unknown zone name: the browser's own */
    }
  }

  function toast(message) {
    var node = el("div", "alerttoast");
    node.setAttribute("role", "status");
    node.dataset.testid = "ack-toast";
    node.appendChild(document.createTextNode(message.by + " acknowledged " + message.code + " at " + timeOf(message.at) + ". "));
    var link = el("a", "", "Open");
    link.href = box.dataset.activationUrl.replace("/0/", "/" + parseInt(message.activation, 10) + "/");
    node.appendChild(link);
    toasts.appendChild(node);
    window.setTimeout(function () { node.remove(); }, 15000);
  }

  function broadcastBanner(message) {
    var node = el("div", "alertbanner alertbanner--broadcast" + (message.urgent ? " alertbanner--urgent" : ""));
    node.setAttribute("role", "alert");
    node.dataset.testid = "broadcast-banner";
    node.appendChild(el("span", "alertbanner__code", message.urgent ? "Urgent broadcast" : "Broadcast"));
    node.appendChild(el("span", "alertbanner__where", message.title));
    node.appendChild(el("span", "alertbanner__meta", message.body + " · " + message.by + ", " + timeOf(message.at)));
    var actions = el("span", "alertbanner__actions");
    var close = el("button", "btn btn--small", "Dismiss");
    close.type = "button";
    close.addEventListener("click", function () { node.remove(); });
    actions.appendChild(close);
    node.appendChild(actions);
    box.appendChild(node);
  }

  function handle(message) {
    switch (message.event) {
      case "code.activated":
        loadMine();
        beep(3);
        break;
      case "code.changed":
      case "code.closed":
        if (showsActivation(message.activation)) { loadMine(); }
        break;
      case "code.acknowledged":
        toast(message);
        break;
      case "broadcast":
        broadcastBanner(message);
        if (message.urgent) { beep(2); }
        break;
    }
    document.dispatchEvent(new CustomEvent("hms:alert", { detail: message }));
  }

  function connect() {
    var socket = new WebSocket(url);
    socket.onopen = function () {
      delay = 1000;
      box.dataset.live = "1";
      loadMine();
      document.dispatchEvent(new CustomEvent("hms:alert-reconnect"));
    };
    socket.onmessage = function (e) {
      var message;
      try { message = JSON.parse(e.data); } catch (err) { return; }
      handle(message);
    };
    socket.onclose = function () {
      box.dataset.live = "0";
      window.setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }
  connect();
})();
