/* Live bed board: the element with [data-beds-ws-path] is re-read over HTTP (htmx event "beds-changed")
   when the WebSocket says a bed changed, and after every reconnect, so a push lost while offline loses
   nothing. The socket carries no patient data. */
(function () {
  "use strict";
  var box = document.querySelector("[data-beds-ws-path]");
  if (!box || !window.WebSocket) { return; }
  var status = document.getElementById("beds-live-status");
  var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
  var url = scheme + window.location.host + box.dataset.bedsWsPath;
  var delay = 1000, opened = false;
  function say(text) { if (status) { status.textContent = text; } }
  function refresh() { htmx.trigger(document.body, "beds-changed"); }
  function connect() {
    var socket = new WebSocket(url);
    socket.onopen = function () {
      say("live");
      box.dataset.live = "1";
      if (opened) { refresh(); }
      opened = true; delay = 1000;
    };
    socket.onmessage = refresh;
    socket.onclose = function () {
      say("reconnecting…");
      box.dataset.live = "0";
      window.setTimeout(connect, delay);
      delay = Math.min(delay * 2, 30000);
    };
  }
  connect();
})();
