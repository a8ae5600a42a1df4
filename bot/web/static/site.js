// Only makes the page faster: everything works without it.
// Enter sends, Shift+Enter starts a new line (not while an input method is composing);
// a question is sent in the background and only the reply is replaced.
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    var box = event.target;
    if (box.tagName !== "TEXTAREA" || event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) {
      return;
    }
    event.preventDefault();
    if (box.value.trim() && box.form) {
      if (box.form.requestSubmit) { box.form.requestSubmit(); } else { box.form.submit(); }
    }
  });
  var form = document.getElementById("ask");
  var reply = document.getElementById("reply");
  if (!form || !reply || !window.fetch) { return; }
  // A picture (chosen, or pasted anywhere on the page) is sent at once; only the reply is replaced.
  var picture = document.getElementById("picture");
  function sendPicture(file) {
    var body = new FormData();
    body.append("image", file);
    reply.classList.add("busy");
    fetch("/image", {method: "POST", body: body, headers: {"X-Partial": "1"}, credentials: "same-origin"})
      .then(function (response) { return response.text(); })
      .then(function (html) {
        reply.innerHTML = html;
        reply.scrollIntoView({behavior: "smooth", block: "start"});
      })
      .catch(function () { if (picture) { picture.submit(); } })
      .then(function () { reply.classList.remove("busy"); });
  }
  if (picture && window.FormData) {
    picture.addEventListener("submit", function (event) {
      if (!picture.image.files.length) { return; }
      event.preventDefault();
      sendPicture(picture.image.files[0]);
    });
    picture.image.addEventListener("change", function () {
      if (picture.image.files.length) { sendPicture(picture.image.files[0]); }
    });
    document.addEventListener("paste", function (event) {
      var items = (event.clipboardData && event.clipboardData.files) || [];
      for (var i = 0; i < items.length; i++) {
        if (items[i].type.indexOf("image/") === 0) {
          event.preventDefault();
          sendPicture(items[i]);
          return;
        }
      }
    });
  }
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var button = form.querySelector("button[type=submit]");
    button.disabled = true;
    reply.classList.add("busy");
    fetch("/", {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      headers: {"X-Partial": "1", "X-Page-Lang": document.documentElement.lang},
      credentials: "same-origin"
    }).then(function (response) {
      // A reply, or a refusal (too many requests) as a reply; anything else: the plain form.
      // X-Whole-Page: the reply is in another language than the page, so the whole page comes back in it.
      if ((!response.ok && response.status !== 429) || response.headers.get("X-Whole-Page")) { form.submit(); return; }
      return response.text().then(function (html) {
        reply.innerHTML = html;
        form.q.blur();  // a phone's keyboard goes down, so the reply has the screen
        reply.scrollIntoView({behavior: "smooth", block: "start"});
      });
    }).catch(function () {
      form.submit();  // no network magic: the plain form still works
    }).then(function () {
      button.disabled = false;
      reply.classList.remove("busy");
    });
  });
})();
