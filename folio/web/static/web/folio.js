/* Folio's small amount of plain JavaScript: htmx settings, announcements for screen readers,
   drag and drop (linking assets into role slots, reordering links), the multi-file upload with
   per-file progress and duplicate prompts, and image zoom. Everything works without it through
   ordinary forms and buttons, except the drag gestures, which have keyboard buttons beside them. */
(function () {
  "use strict";

  function csrf() { return document.body.dataset.csrf || ""; }

  // Messages in the page's language: Django's JavaScript catalogue (/i18n/js/, loaded before
  // this file) defines gettext and interpolate; without it the English text is shown.
  function _(text) { return window.gettext ? window.gettext(text) : text; }
  function fill(text, values) {
    return window.interpolate ? window.interpolate(text, values, true)
      : text.replace(/%\((\w+)\)s/g, function (m, k) { return values[k]; });
  }

  function announce(text) {
    var live = document.getElementById("live");
    if (!live || !text) return;
    live.textContent = "";
    window.setTimeout(function () { live.textContent = text; }, 30);
  }

  // --- htmx -----------------------------------------------------------------------------------
  document.addEventListener("DOMContentLoaded", function () {
    if (!window.htmx) return;
    // Validation (422) and stale writes (409) come back as the form with its messages: swap
    // them in. Other refusals arrive retargeted to the flash area by the server.
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "422|409", swap: true, error: false },
      { code: "4..", swap: true, error: true },
      { code: "5..", swap: false, error: true }
    ];
    htmx.config.defaultFocusScroll = false;
    htmx.config.historyCacheSize = 0;
  });
  document.addEventListener("folio:announce", function (e) {
    announce(e.detail && (e.detail.value || e.detail));
  });
  document.addEventListener("htmx:responseError", function (e) {
    if (e.detail.xhr && e.detail.xhr.status >= 500) {
      var flash = document.getElementById("flash");
      if (flash) {
        flash.innerHTML = '<p class="message message-error" role="alert"></p>';
        flash.firstChild.textContent = fill(_("The server could not do this (%(status)s). Try again, or reload the page."), { status: e.detail.xhr.status });
      }
    }
  });
  document.addEventListener("htmx:sendError", function () {
    announce(_("The server cannot be reached."));
  });

  // --- small behaviours ------------------------------------------------------------------------
  document.addEventListener("change", function (e) {
    var t = e.target;
    if (t.matches("[data-autosubmit]")) {
      var form = t.form;
      if (form) { form.requestSubmit ? form.requestSubmit() : form.submit(); }
    }
    if (t.matches("input[data-select-all]")) {
      var scope = t.closest("form") || document;
      scope.querySelectorAll('input[type="checkbox"][name="' + t.dataset.selectAll + '"]').forEach(function (box) {
        box.checked = t.checked;
        var row = box.closest("tr");
        if (row) row.classList.toggle("selected", box.checked);
      });
      updateSelectionCount(scope);
    } else if (t.matches('input[type="checkbox"][data-row-select]')) {
      var tr = t.closest("tr");
      if (tr) tr.classList.toggle("selected", t.checked);
      updateSelectionCount(t.closest("form") || document);
    }
  });

  function updateSelectionCount(scope) {
    var out = scope.querySelector("[data-selection-count]");
    if (!out) return;
    var n = scope.querySelectorAll("input[data-row-select]:checked").length;
    out.textContent = n ? n + " selected" : "";
    scope.querySelectorAll("[data-needs-selection]").forEach(function (b) { b.disabled = n === 0; });
  }

  document.addEventListener("click", function (e) {
    var preview = e.target.closest(".preview.zoomable");
    if (preview && e.target.tagName === "IMG") {
      setZoom(preview, !preview.classList.contains("zoomed"), e);
      return;
    }
    var zoomButton = e.target.closest("[data-zoom]");
    if (zoomButton) {
      var target = document.getElementById(zoomButton.dataset.zoom);
      if (target) setZoom(target, zoomButton.dataset.zoomTo === "in");
    }
  });

  function setZoom(preview, on, event) {
    preview.classList.toggle("zoomed", on);
    var img = preview.querySelector("img");
    if (img && on && event) {
      var r = img.getBoundingClientRect();
      img.style.transformOrigin = ((event.clientX - r.left) / r.width * 100) + "% " + ((event.clientY - r.top) / r.height * 100) + "%";
    } else if (img && !on) {
      img.style.transformOrigin = "center";
    }
    document.querySelectorAll('[data-zoom="' + preview.id + '"]').forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.dataset.zoomTo === "in" ? on : !on));
    });
    announce(on ? _("Zoomed in") : _("Zoomed out"));
  }

  document.addEventListener("mousemove", function (e) {
    var preview = e.target.closest && e.target.closest(".preview.zoomed");
    if (!preview) return;
    var img = preview.querySelector("img");
    var r = preview.getBoundingClientRect();
    img.style.transformOrigin = ((e.clientX - r.left) / r.width * 100) + "% " + ((e.clientY - r.top) / r.height * 100) + "%";
  });

  // --- drag and drop: assets into role slots, links into a new position ----------------------
  var ASSET = "application/x-folio-asset";
  var LINK = "application/x-folio-link";
  var dragged = null;

  function post(url, values, source) {
    var media = document.getElementById("media");
    return htmx.ajax("POST", url, {
      source: source || media, target: "#media", swap: "outerHTML", values: values,
      headers: { "X-CSRFToken": csrf() }
    });
  }

  document.addEventListener("dragstart", function (e) {
    var tile = e.target.closest && e.target.closest("[data-pick-asset]");
    if (tile) {
      e.dataTransfer.setData(ASSET, tile.dataset.pickAsset);
      e.dataTransfer.effectAllowed = "copy";
      return;
    }
    var item = e.target.closest && e.target.closest("li[data-link-id]");
    if (item) {
      dragged = item;
      e.dataTransfer.setData(LINK, item.dataset.linkId);
      e.dataTransfer.effectAllowed = "move";
      item.classList.add("dragging");
    }
  });
  document.addEventListener("dragend", function () {
    if (dragged) dragged.classList.remove("dragging");
    dragged = null;
    document.querySelectorAll(".dragover").forEach(function (el) { el.classList.remove("dragover"); });
    document.querySelectorAll(".drop-before").forEach(function (el) { el.classList.remove("drop-before"); });
  });

  function sameGroup(a, b) { return a.dataset.group === b.dataset.group; }

  function dropTarget(slot, y) {
    // the link item of the dragged one's group that the drop lands before (null: the end)
    var items = Array.prototype.filter.call(slot.querySelectorAll("li[data-link-id]"), function (li) {
      return li !== dragged && sameGroup(li, dragged);
    });
    for (var i = 0; i < items.length; i++) {
      var r = items[i].getBoundingClientRect();
      if (y < r.top + r.height / 2) return { before: items[i], index: i };
    }
    return { before: null, index: items.length };
  }

  document.addEventListener("dragover", function (e) {
    var slot = e.target.closest && e.target.closest(".slot[data-role]");
    if (!slot || !slot.dataset.linkUrl) return;
    var types = Array.prototype.slice.call(e.dataTransfer.types || []);
    if (types.indexOf(ASSET) >= 0) {
      e.preventDefault();
      e.dataTransfer.dropEffect = "copy";
      slot.classList.add("dragover");
    } else if (types.indexOf(LINK) >= 0 && dragged && dragged.closest(".slot") === slot) {
      e.preventDefault();
      e.dataTransfer.dropEffect = "move";
      document.querySelectorAll(".drop-before").forEach(function (el) { el.classList.remove("drop-before"); });
      var spot = dropTarget(slot, e.clientY);
      if (spot.before) spot.before.classList.add("drop-before");
    }
  });
  document.addEventListener("dragleave", function (e) {
    var slot = e.target.closest && e.target.closest(".slot");
    if (slot && !slot.contains(e.relatedTarget)) slot.classList.remove("dragover");
  });
  document.addEventListener("drop", function (e) {
    var slot = e.target.closest && e.target.closest(".slot[data-role]");
    if (!slot) return;
    var asset = e.dataTransfer.getData(ASSET);
    if (asset) {
      e.preventDefault();
      slot.classList.remove("dragover");
      var scope = document.getElementById("link-scope");
      post(slot.dataset.linkUrl, { asset_id: asset, role: slot.dataset.role, scope: scope ? scope.value : "" }, slot);
      return;
    }
    var link = e.dataTransfer.getData(LINK);
    if (link && dragged) {
      e.preventDefault();
      var spot = dropTarget(slot, e.clientY);
      post(dragged.dataset.moveUrl, { position: String(spot.index + 1) }, slot);
    }
  });

  // --- multi-file upload with per-file progress and duplicate prompts ------------------------
  function uploadForm() { return document.querySelector("form[data-upload]"); }

  function row(file) {
    var li = document.createElement("li");
    var name = document.createElement("span");
    name.className = "name";
    name.textContent = file.name;
    var bar = document.createElement("progress");
    bar.max = 100; bar.value = 0;
    bar.setAttribute("aria-label", fill(_("Upload of %(name)s"), { name: file.name }));
    var state = document.createElement("span");
    state.className = "state";
    state.textContent = _("Waiting…");
    li.appendChild(name); li.appendChild(bar); li.appendChild(state);
    return li;
  }

  function send(form, file, li, allowDuplicate) {
    var bar = li.querySelector("progress");
    var state = li.querySelector(".state");
    state.className = "state";
    state.textContent = _("Uploading…");
    var data = new FormData();
    data.append("file", file, file.name);
    ["kind", "tags", "collections"].forEach(function (name) {
      var field = form.elements[name];
      if (field && field.value) data.append(name, field.value);
    });
    if (allowDuplicate) data.append("allow_duplicate", "true");
    return new Promise(function (resolve) {
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.dataset.upload);
      xhr.setRequestHeader("X-CSRFToken", csrf());
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) bar.value = Math.round(e.loaded / e.total * 100);
      };
      xhr.onload = function () {
        var body = {};
        try { body = JSON.parse(xhr.responseText); } catch (err) { body = {}; }
        if (xhr.status === 201) {
          bar.value = 100;
          state.className = "state done";
          state.textContent = _("Uploaded as") + " ";
          var a = document.createElement("a");
          a.href = "/assets/" + body.id + "/";
          a.textContent = body.title + " (#" + body.id + ")";
          state.appendChild(a);
          li.dataset.result = "uploaded";
          announce(file.name + " uploaded");
          resolve("uploaded");
        } else if (xhr.status === 409 && body.error && body.error.code === "duplicate") {
          duplicatePrompt(form, file, li, body.error.details || {}, resolve);
        } else {
          state.className = "state error";
          state.textContent = (body.error && body.error.message) || fill(_("Upload failed (%(status)s)"), { status: xhr.status });
          li.dataset.result = "failed";
          announce(file.name + ": upload failed");
          resolve("failed");
        }
      };
      xhr.onerror = function () {
        state.className = "state error";
        state.textContent = _("The server cannot be reached.");
        li.dataset.result = "failed";
        resolve("failed");
      };
      xhr.send(data);
    });
  }

  function duplicatePrompt(form, file, li, details, resolve) {
    var state = li.querySelector(".state");
    state.className = "state error";
    state.textContent = _("Identical to") + " ";
    var a = document.createElement("a");
    a.href = "/assets/" + details.duplicate_of + "/";
    a.textContent = (details.title || "an asset") + " (#" + details.duplicate_of + ")";
    state.appendChild(a);
    state.appendChild(document.createTextNode(". "));
    var again = document.createElement("button");
    again.type = "button"; again.className = "small"; again.textContent = _("Upload anyway");
    var skip = document.createElement("button");
    skip.type = "button"; skip.className = "small"; skip.textContent = _("Skip");
    state.appendChild(again); state.appendChild(document.createTextNode(" ")); state.appendChild(skip);
    li.dataset.result = "duplicate";
    announce(file.name + " is identical to an existing asset: upload anyway or skip");
    again.addEventListener("click", function () { send(form, file, li, true).then(resolve); });
    skip.addEventListener("click", function () {
      state.className = "state"; state.textContent = _("Skipped.");
      li.dataset.result = "skipped"; resolve("skipped");
    });
  }

  function uploadAll(files) {
    var form = uploadForm();
    if (!form || !files.length) return;
    var list = form.querySelector(".upload-list");
    var queue = Array.prototype.map.call(files, function (file) {
      var li = row(file);
      list.appendChild(li);
      return { file: file, li: li };
    });
    announce(queue.length + " file(s) queued for upload");
    var next = 0;
    function worker() {
      if (next >= queue.length) return Promise.resolve();
      var item = queue[next++];
      return send(form, item.file, item.li, false).then(worker);
    }
    var workers = [];
    for (var i = 0; i < Math.min(3, queue.length); i++) workers.push(worker());
    Promise.all(workers).then(function () {
      var results = document.getElementById("results");
      if (results && window.htmx) {
        htmx.ajax("GET", window.location.pathname + window.location.search, { target: "#results", select: "#results", swap: "outerHTML" });
      }
      form.dispatchEvent(new CustomEvent("folio:uploads-finished", { bubbles: true }));
    });
  }

  document.addEventListener("change", function (e) {
    if (e.target.matches("form[data-upload] input[type=file]")) {
      uploadAll(e.target.files);
      e.target.value = "";
    }
  });
  document.addEventListener("dragover", function (e) {
    var zone = e.target.closest && e.target.closest(".dropzone");
    if (!zone) return;
    var types = Array.prototype.slice.call(e.dataTransfer.types || []);
    if (types.indexOf("Files") < 0) return;
    e.preventDefault();
    zone.classList.add("dragover");
  });
  document.addEventListener("dragleave", function (e) {
    var zone = e.target.closest && e.target.closest(".dropzone");
    if (zone && !zone.contains(e.relatedTarget)) zone.classList.remove("dragover");
  });
  document.addEventListener("drop", function (e) {
    var zone = e.target.closest && e.target.closest(".dropzone");
    if (!zone || !e.dataTransfer.files || !e.dataTransfer.files.length) return;
    e.preventDefault();
    zone.classList.remove("dragover");
    uploadAll(e.dataTransfer.files);
  });
  // The upload form is sent by the code above; Enter in one of its fields must not post it
  // (an inline onsubmit would be blocked by the Content-Security-Policy).
  document.addEventListener("submit", function (e) {
    if (e.target.matches("form[data-upload]")) e.preventDefault();
  });
})();
