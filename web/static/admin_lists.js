// Admin console, lists: GET /v1/admin/lists (version, entries, SHA-256, source, last load, last
// error), a reload per list (POST /v1/admin/lists/{name}/reload) and an upload with a progress bar
// (PUT /v1/admin/lists/{name} through XMLHttpRequest, whose upload events report the bytes sent;
// fetch has none). See docs/lists.md and docs/admin-console.md.
"use strict";

(function () {
  const C = window.Callsign;
  const A = (window.CallsignAdmin = window.CallsignAdmin || { panels: [], tickListeners: [] });
  const $ = (id) => document.getElementById(id);

  function shortHash(sha) {
    return sha ? sha.slice(0, 16) + "…" : "–";
  }

  function row(list) {
    const tr = C.el("tr", { "data-list": list.name, "data-version": String(list.version),
                            "data-sha256": list.sha256 || "" });
    const hash = C.el("td", { class: "sha256", title: list.sha256 || "", text: shortHash(list.sha256) });
    const reload = C.el("button", { type: "button", class: "reload", text: "Reload" });
    reload.addEventListener("click", () => reloadList(list.name, reload));
    const action = C.el("td", {});
    action.append(reload);
    tr.append(C.el("td", { text: list.name }), C.el("td", { class: "version", text: String(list.version) }),
              C.el("td", { class: "entries", text: String(list.entries) }), hash,
              C.el("td", { class: "source", text: list.source || "" }),
              C.el("td", { class: "loaded", text: list.loaded_at ? C.formatTime(list.loaded_at) : "never" }),
              C.el("td", { class: "error", text: list.last_error || "" }), action);
    return tr;
  }

  async function load() {
    if (!C.token()) return;
    const res = await C.api("GET", "/v1/admin/lists");
    if (!res.ok) {
      $("lists-status").textContent = "Could not load: " + C.problemText(res);
      return;
    }
    const lists = res.data.lists || [];
    $("lists-rows").replaceChildren(...lists.map(row));
    const select = $("upload-list");
    const chosen = select.value;
    select.replaceChildren(...lists.map((l) => C.el("option", { value: l.name, text: l.name })));
    if (chosen) select.value = chosen;
    if (res.data.nodes_error) $("lists-status").textContent = res.data.nodes_error;
  }

  function outcomeText(verb, data) {
    const l = data.list;
    return verb + " " + l.name + ": " + (data.changed ? "version " + l.version : "unchanged, version " + l.version) +
      ", " + l.entries + " entries, SHA-256 " + (l.sha256 || "–");
  }

  async function reloadList(name, button) {
    button.disabled = true;
    try {
      const res = await C.api("POST", "/v1/admin/lists/" + encodeURIComponent(name) + "/reload");
      $("lists-status").textContent = res.ok ? outcomeText("Reloaded", res.data)
                                             : "Reload of " + name + " failed: " + C.problemText(res);
      await load();
    } finally {
      button.disabled = false;
    }
  }

  $("upload-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const file = $("upload-file").files[0];
    const name = $("upload-list").value;
    if (!file || !name) return;
    const progress = $("upload-progress");
    const status = $("upload-status");
    progress.hidden = false;
    progress.value = 0;  // only the upload's progress events move it
    progress.max = file.size || 1;
    $("upload-go").disabled = true;
    status.textContent = "Uploading " + file.name + " (" + file.size + " bytes)";
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", "/v1/admin/lists/" + encodeURIComponent(name));
    xhr.setRequestHeader("Authorization", "Bearer " + C.token());
    xhr.setRequestHeader("Content-Type", "application/octet-stream");
    xhr.upload.addEventListener("progress", (e) => {
      if (!e.lengthComputable) return;
      progress.max = e.total;
      progress.value = e.loaded;
      status.textContent = "Uploading: " + Math.floor((100 * e.loaded) / (e.total || 1)) + "% of " + e.total + " bytes";
    });
    xhr.addEventListener("loadend", async () => {
      $("upload-go").disabled = false;
      let data = null;
      try {
        data = JSON.parse(xhr.responseText);
      } catch (e) {
        data = null;
      }
      if (xhr.status === 200 && data && data.list) {
        status.textContent = outcomeText("Uploaded", data);
      } else if (xhr.status === 0) {
        status.textContent = "Upload failed: the connection ended.";
      } else {
        status.textContent = "Upload refused: " + ((data && data.detail) || "HTTP " + xhr.status) + " (" + xhr.status + ")";
      }
      status.dataset.status = String(xhr.status);
      await load();
    });
    xhr.send(file);
  });

  A.panels.push(load);
})();
