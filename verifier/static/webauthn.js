// The verifier's only script: passkey buttons (WebAuthn). Served from /auth/static/ and
// allowed by the pages' Content-Security-Policy (script-src 'self'); nothing inline.
// Each [data-passkey] block names where to fetch options and where to post the answer;
// the verifier's JSON answer says where to go next. Without this script (or WebAuthn) the
// buttons stay hidden and every other part of the page works as before. What the script
// says itself comes from its block's data-cancelled, data-failed and data-refused: the
// page's words, in the page's language (the verifier's JSON errors are translated too).
"use strict";

(function () {
  function toBytes(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    b64 += "===".slice((b64.length + 3) % 4);
    var raw = atob(b64);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i++) raw += String.fromCharCode(bytes[i]);
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function postJson(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    }).then(function (response) {
      return response.json().then(
        function (media) { return { ok: response.ok, media: media }; },
        function () { return { ok: false, media: {} }; }
      );
    });
  }

  function creationOptions(options) {
    options.challenge = toBytes(options.challenge);
    options.user.id = toBytes(options.user.id);
    (options.excludeCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return options;
  }

  function requestOptions(options) {
    options.challenge = toBytes(options.challenge);
    (options.allowCredentials || []).forEach(function (c) { c.id = toBytes(c.id); });
    return options;
  }

  function credentialJson(credential) {
    var r = credential.response;
    var response = { clientDataJSON: toText(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toText(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = toText(r.authenticatorData);
      response.signature = toText(r.signature);
      if (r.userHandle) response.userHandle = toText(r.userHandle);
    }
    return {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      response: response,
      clientExtensionResults: credential.getClientExtensionResults(),
    };
  }

  function showCodes(block, codes, next) {
    var list = block.querySelector(".passkey-codes");
    var section = block.querySelector(".passkey-new-codes");
    codes.forEach(function (code) {
      var item = document.createElement("li");
      item.textContent = code;
      list.appendChild(item);
    });
    block.querySelector(".passkey-continue").setAttribute("href", next);
    section.hidden = false;
  }

  function said(block, name, fallback) {
    return block.getAttribute("data-" + name) || fallback;
  }

  function run(block, button) {
    var errors = block.querySelector(".passkey-error");
    var creating = block.getAttribute("data-passkey") === "create";
    var nameField = block.querySelector("input[name=name]");
    var start = { next: block.getAttribute("data-next") || "" };
    if (creating) start.name = nameField ? nameField.value : "";
    errors.textContent = "";
    button.disabled = true;
    postJson(block.getAttribute("data-options"), start)
      .then(function (answer) {
        if (!answer.ok) throw new Error(answer.media.error || said(block, "failed", "The passkey could not be used."));
        return creating
          ? navigator.credentials.create({ publicKey: creationOptions(answer.media.publicKey) })
          : navigator.credentials.get({ publicKey: requestOptions(answer.media.publicKey) });
      })
      .then(function (credential) {
        return postJson(block.getAttribute("data-verify"), {
          credential: credentialJson(credential),
        });
      })
      .then(function (answer) {
        if (!answer.ok) throw new Error(answer.media.error || said(block, "refused", "The passkey was not accepted."));
        var next = answer.media.redirect || answer.media.next || "/";
        if (answer.media.recovery_codes) {
          showCodes(block, answer.media.recovery_codes, next);
          return;
        }
        window.location.assign(next);
      })
      .catch(function (error) {
        // A cancelled prompt is a DOMException (NotAllowedError): say so in plain words.
        // The browser's own errors (DOMException) are in the browser's words, often English:
        // each kind the user can act on gets the page's; our Errors carry the verifier's.
        var message;
        if (error && error.name === "NotAllowedError") {
          message = said(block, "cancelled", "The passkey prompt was cancelled or timed out.");
        } else if (error && error.name === "InvalidStateError") {
          message = said(block, "already", "That passkey is already registered.");
        } else if (typeof DOMException !== "undefined" && error instanceof DOMException) {
          message = said(block, "failed", "The passkey could not be used.");
        } else {
          message = (error && error.message) || said(block, "failed", "The passkey could not be used.");
        }
        var alert = document.createElement("p");
        alert.className = "error";
        alert.setAttribute("role", "alert");
        alert.textContent = message;
        errors.appendChild(alert);
        button.disabled = false;
      });
  }

  function setUp() {
    if (!window.PublicKeyCredential || !navigator.credentials) return;
    document.querySelectorAll("[data-passkey]").forEach(function (block) {
      var button = block.querySelector("button");
      button.hidden = false;
      block.querySelectorAll(".js-needed").forEach(function (note) { note.hidden = true; });
      button.addEventListener("click", function () { run(block, button); });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", setUp);
  } else {
    setUp();
  }
})();
