// One client for the job event streams (Server-Sent Events) of the set, interview and message-test pages.
// Named events carry JSON; a final event closes the stream (EventSource would reconnect otherwise). A dropped
// connection (no data) is told apart from a server-sent "error" event (with data); EventSource reconnects by
// itself and the server resends what the page needs.
(function () {
  "use strict";
  window.mpEventStream = function (url, options) {
    options = options || {};
    if (!window.EventSource) {
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
  };
})();
