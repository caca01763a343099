// Opens a sealed disclosure package in this browser only (libsodium, vendored under vendor/):
//  1. checks intake's Ed25519 signature over the package's canonical bytes
//     (schemas/signing.py, disclosure_signing_bytes) with intake's public keys from the directory;
//  2. reads the agency's private key file on this computer (X25519, base64 of 32 bytes) and
//     checks it is the key the package was sealed for (its fingerprint);
//  3. opens the sealed box, checks the contents belong to this package, and shows the fields.
// Nothing is sent anywhere: no request carries the key or what it opens.
(function () {
  "use strict";
  var TAG = "commande.disclosure-signature.v1";
  var encoder = new TextEncoder();

  function concat(parts) {
    var size = parts.reduce(function (n, p) { return n + 4 + p.length; }, 0);
    var out = new Uint8Array(size);
    var at = 0;
    parts.forEach(function (p) {
      new DataView(out.buffer).setUint32(at, p.length, false);
      out.set(p, at + 4);
      at += 4 + p.length;
    });
    return out;
  }

  // format_time: RFC 3339 in UTC with microseconds and a Z, as intake signed it.
  function formatTime(text) {
    var m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?(Z|\+00:00)$/.exec(text);
    if (!m) { throw new Error("the package's sealed_at is not a UTC time"); }
    return m[1] + "." + (m[2] || "").padEnd(6, "0") + "Z";
  }

  function signingBytes(p) {
    var parts = [p.situation_id, p.disclosure_id, p.disclosing_agency, p.recipient_agency,
                 p.recipient_key_id, String(p.fields.length)].concat(p.fields,
                [p.legal_basis, String(p.filter_stage), p.purpose, formatTime(p.sealed_at), p.ciphertext]);
    return concat([TAG].concat(parts).map(function (s) { return encoder.encode(s); }));
  }

  function hex(bytes) {
    return Array.prototype.map.call(bytes, function (b) { return b.toString(16).padStart(2, "0"); }).join("");
  }

  function label(key) {
    return key.replace(/_/g, " ").replace(/^./, function (c) { return c.toUpperCase(); });
  }

  function show(list, name, value) {
    if (value === null || value === undefined || value === "") { return; }
    if (Array.isArray(value) && value.length && typeof value[0] === "object") {
      value.forEach(function (item, i) {
        var who = name === "people" ? "Person" : label(name);
        Object.keys(item).forEach(function (k) { show(list, who + " " + (i + 1) + ", " + k.replace(/_/g, " "), item[k]); });
      });
      return;
    }
    var dt = document.createElement("dt");
    var dd = document.createElement("dd");
    dt.textContent = label(name);
    dd.textContent = Array.isArray(value) ? value.join(", ") : String(value);
    list.appendChild(dt);
    list.appendChild(dd);
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("open-form");
    var status = document.getElementById("open-status");
    var input = document.getElementById("key-file");
    var pkg = JSON.parse(document.getElementById("package").textContent);
    var keys = JSON.parse(document.getElementById("intake-keys").textContent);
    if (!form || !window.sodium) { return; }
    form.hidden = false;
    function fail(text) {
      status.textContent = text;
      status.className = "error";
    }
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      status.className = "";
      status.textContent = "Checking intake's signature…";
      var file = input.files && input.files[0];
      if (!file) { fail("Choose your agency's private key file first."); return; }
      window.sodium.ready.then(function () {
        var sodium = window.sodium;
        var b64 = sodium.base64_variants.ORIGINAL;
        if (!pkg.signature) { throw new Error("This package carries no signature of intake: it is not opened. Ask the district's CMB for the package intake sent."); }
        var message = signingBytes(pkg);
        var signature = sodium.from_base64(pkg.signature, b64);
        var signed = keys.some(function (k) {
          return sodium.crypto_sign_verify_detached(signature, message, sodium.from_base64(k, b64));
        });
        if (!signed) { throw new Error("This package is not signed by intake's key in the directory, or was changed after signing: it is not opened. Report it to the district's CMB."); }
        return file.text().then(function (text) {
          var secret;
          try {
            secret = sodium.from_base64(text.trim(), b64);
          } catch (e) {
            throw new Error("This file is not a private key (base64 of 32 bytes).");
          }
          if (secret.length !== 32) { throw new Error("This file is not a private key (base64 of 32 bytes)."); }
          var publicKey = sodium.crypto_scalarmult_base(secret);
          // the key id is the first 16 bytes of the public key's SHA-256, in hex
          return window.crypto.subtle.digest("SHA-256", publicKey).then(function (digest) {
            if (hex(new Uint8Array(digest)).slice(0, 32) !== pkg.recipient_key_id) {
              sodium.memzero(secret);
              input.value = "";
              throw new Error("This key is not the one the package was sealed for (key " + pkg.recipient_key_id + "). Use the private key file of " + pkg.recipient_agency + ".");
            }
            var plain;
            try {
              plain = sodium.crypto_box_seal_open(sodium.from_base64(pkg.ciphertext, b64), publicKey, secret);
            } finally {
              sodium.memzero(secret);
              input.value = "";
            }
            return plain;
          });
        }).then(function (plain) {
          var inside = JSON.parse(sodium.to_string(plain));
          ["situation_id", "disclosure_id", "recipient_agency"].forEach(function (id) {
            if (String(inside[id]) !== String(pkg[id])) { throw new Error("The sealed contents do not belong to this package: they are not shown."); }
          });
          var list = document.getElementById("opened-fields");
          list.textContent = "";
          Object.keys(inside.subject || {}).forEach(function (k) { show(list, k, inside.subject[k]); });
          var opened = document.getElementById("opened");
          opened.hidden = false;
          status.textContent = "Signed by intake; opened in this browser. Nothing was sent to the server.";
          document.getElementById("opened-title").focus();
        });
      }).catch(function (error) { fail(error.message || String(error)); });
    });
  });
}());
