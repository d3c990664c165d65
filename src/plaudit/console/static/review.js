// Review page keys (docs/queues.md): 1–9 choose, c comments, Enter submits and opens the next,
// s skips, Esc leaves a text field. Shift+Enter makes a new line in a text field.
(function () {
  "use strict";
  function typing(target) {
    return target && (target.tagName === "TEXTAREA" || (target.tagName === "INPUT" && target.type === "text"));
  }
  function onKey(event) {
    var form = document.getElementById("review-form");
    if (!form || event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    if (event.key === "Enter" && !event.shiftKey) {
      if (target && (target.tagName === "BUTTON" || target.tagName === "A")) return;
      event.preventDefault();
      form.requestSubmit();
      return;
    }
    if (typing(target)) {
      if (event.key === "Escape") target.blur();
      return;
    }
    if (/^[1-9]$/.test(event.key)) {
      var choice = form.querySelector('input[data-key="' + event.key + '"]');
      if (choice) { event.preventDefault(); choice.checked = true; choice.focus(); }
    } else if (event.key === "c") {
      event.preventDefault();
      document.getElementById("review-comment").focus();
    } else if (event.key === "s") {
      event.preventDefault();
      window.location.href = document.getElementById("skip").href;
    }
  }
  document.addEventListener("keydown", onKey);
})();
