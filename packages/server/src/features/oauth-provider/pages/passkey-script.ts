/**
 * The one script of the pages (nonce'd inline): the passkey buttons. Everything else works without
 * JavaScript, so the buttons stay hidden unless this runs in a browser with WebAuthn.
 *
 * A button says where to get the options (`data-options`, with `data-mfa-token` for a second
 * factor), where to verify the assertion (`data-verify`, sign-in only: Latchkey's
 * /auth/passkeys/login/verify in bearer mode), and which form to post the result with
 * (`data-form`): the access token of the new session for a sign-in, the assertion itself for a
 * second factor. The form's POST is then an ordinary navigation: the redirects back to the app
 * follow as for any other sign-in.
 */
export const PASSKEY_SCRIPT = `(function () {
  'use strict';
  var PKC = window.PublicKeyCredential;
  if (!PKC || !navigator.credentials) return;
  function b64urlToBytes(s) {
    var b = atob(s.replace(/-/g, '+').replace(/_/g, '/') + '==='.slice((s.length + 3) % 4));
    var out = new Uint8Array(b.length);
    for (var i = 0; i < b.length; i++) out[i] = b.charCodeAt(i);
    return out.buffer;
  }
  function bytesToB64url(buf) {
    var bytes = new Uint8Array(buf), s = '';
    for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
  }
  function requestOptions(json) {
    if (PKC.parseRequestOptionsFromJSON) return PKC.parseRequestOptionsFromJSON(json);
    var o = Object.assign({}, json, { challenge: b64urlToBytes(json.challenge) });
    if (json.allowCredentials) o.allowCredentials = json.allowCredentials.map(function (d) { return Object.assign({}, d, { id: b64urlToBytes(d.id) }); });
    return o;
  }
  function credentialJson(c) {
    if (typeof c.toJSON === 'function') return c.toJSON();
    return { id: c.id, rawId: bytesToB64url(c.rawId), type: c.type, clientExtensionResults: c.getClientExtensionResults ? c.getClientExtensionResults() : {},
      response: { clientDataJSON: bytesToB64url(c.response.clientDataJSON), authenticatorData: bytesToB64url(c.response.authenticatorData),
        signature: bytesToB64url(c.response.signature), userHandle: c.response.userHandle ? bytesToB64url(c.response.userHandle) : null } };
  }
  function post(url, body) {
    return fetch(url, { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
      .then(function (r) { return r.json().then(function (j) { if (!r.ok) throw new Error(j && j.detail || 'failed'); return j; }); });
  }
  document.querySelectorAll('button[data-passkey]').forEach(function (button) {
    var alert = document.getElementById(button.getAttribute('aria-describedby') || '');
    button.hidden = false;
    button.addEventListener('click', function () {
      var form = document.getElementById(button.dataset.form);
      var mfaToken = button.dataset.mfaToken;
      button.disabled = true;
      if (alert) alert.textContent = '';
      post(button.dataset.options, mfaToken ? { mfa_token: mfaToken } : {})
        .then(function (answer) { return navigator.credentials.get({ publicKey: requestOptions(answer.options) }); })
        .then(function (credential) {
          if (!credential) throw new Error('no passkey');
          var assertion = credentialJson(credential);
          if (!button.dataset.verify) return JSON.stringify(assertion);
          return post(button.dataset.verify, { response: assertion }).then(function (tokens) { return tokens.access_token; });
        })
        .then(function (value) {
          form.querySelector('input[data-passkey-result]').value = value;
          form.submit();
        })
        .catch(function () {
          button.disabled = false;
          if (alert) alert.textContent = 'The passkey did not work. Try again, or use another way to sign in.';
        });
    });
  });
})();
`;
