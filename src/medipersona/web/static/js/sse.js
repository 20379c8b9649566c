// The one client for the job event streams (Server-Sent Events) of every page that streams: persona, timeline,
// competitors, persona sets, interviews and message tests. An ES module (loaded with type="module", no build step):
//   import { eventStream } from "./sse.js";
//   var stream = eventStream(url, { events: { delta: fn, done: fn, error: fn }, onDrop: fn, onUnsupported: fn });
// Named events carry JSON; a final event ("done" and "error" unless options.final says otherwise) closes the stream
// (EventSource would reconnect otherwise) before its handler runs. A dropped connection (an error event without
// data) is told apart from a server-sent "error" event (with data): EventSource reconnects by itself (Last-Event-ID)
// and the server resends what the page needs; onDrop lets the page say so. Without EventSource the stream is not
// opened, onUnsupported runs (the page tells the user to reload) and null is returned.

export function supported() {
  return typeof window.EventSource === "function";
}

export function eventStream(url, options) {
  options = options || {};
  if (!supported()) {
    if (options.onUnsupported) { options.onUnsupported(); }
    return null;
  }
  var finals = options.final || ["done", "error"];
  var source = new EventSource(url);
  var closed = false;
  function close() { closed = true; source.close(); }
  Object.keys(options.events || {}).forEach(function (name) {
    source.addEventListener(name, function (event) {
      if (!event.data) { return; } // the connection's own error event
      var data;
      try { data = JSON.parse(event.data); } catch (e) { return; }
      if (finals.indexOf(name) !== -1) { close(); }
      options.events[name](data);
    });
  });
  source.onerror = function () {
    if (!closed && source.readyState === EventSource.CONNECTING && options.onDrop) { options.onDrop(); }
  };
  source.onopen = function () { if (options.onOpen) { options.onOpen(); } };
  return { close: close };
}
