// Progressive enhancement only: every flow works without this file.
// A form sent once is not sent twice by a second tap while the page loads.
document.addEventListener("submit", function (e) {
  var b = e.target.querySelector("button[type=submit]");
  if (b) { setTimeout(function () { b.disabled = true; }, 0); }
});
