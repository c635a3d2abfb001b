// Progressive enhancement only: every flow works without this file.
// A form sent once is not sent twice by a second tap while the page loads.
document.addEventListener("submit", function (e) {
  var b = e.target.querySelector("button[type=submit]");
  if (b) { setTimeout(function () { b.disabled = true; }, 0); }
});

// Live updates (server-sent events): the inbox badge in the header, and a "new posts" link on
// an open channel. The page never changes under the reader's thumb; they choose to reload.
(function () {
  var url = document.body.getAttribute("data-live");
  if (!url || !window.EventSource) { return; }
  var events = new EventSource(url);
  var badge = document.querySelector("[data-unread]");
  events.addEventListener("unread", function (e) {
    if (!badge) { return; }
    var n = parseInt(e.data, 10) || 0;
    badge.textContent = n > 0 ? String(n) : "";
    badge.setAttribute("aria-label", n + " unread");
    badge.hidden = n === 0;
  });
  events.addEventListener("post", function () {
    var note = document.querySelector("[data-new-posts]");
    if (note) { note.hidden = false; }
  });
})();
