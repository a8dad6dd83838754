// The JSON policy editor: validation as you type. The page works without this script (the server
// validates every form on submit); with it, the text is sent to POST /console/policies/validate
// (the engine's validator, same-origin fetch, the session's CSRF token as the form field "csrf")
// a moment after the user stops typing, and the errors appear under the editor with their line and
// column. Clicking an error puts the cursor there. No inline script: CSP allows /console/static only.
"use strict";
(() => {
  const DELAY_MS = 350;

  function offsetOf(text, line, column) {
    // Line and column are 1-based, counted in characters; the textarea's value separates lines with "\n".
    let offset = 0;
    for (let at = 1; at < line; at++) {
      const next = text.indexOf("\n", offset);
      if (next < 0) return text.length;
      offset = next + 1;
    }
    return Math.min(text.length, offset + column - 1);
  }

  function show(list, status, errors) {
    list.replaceChildren();
    for (const error of errors) {
      const item = document.createElement("li");
      item.className = "policy-error";
      item.dataset.line = String(error.line);
      item.dataset.column = String(error.column);
      const where = document.createElement("span");
      where.className = "policy-where";
      where.textContent = `line ${error.line}, column ${error.column}`;
      item.append(where, `: ${error.message}`);
      list.append(item);
    }
    list.dataset.state = errors.length ? "invalid" : "valid";
    status.textContent = errors.length ? `${errors.length} error${errors.length === 1 ? "" : "s"}` : "Valid policy.";
  }

  function attach(textarea) {
    const form = textarea.form;
    const csrf = form && form.querySelector('input[name="csrf"]');
    const list = document.getElementById("policy-errors");
    const status = document.getElementById("policy-status");
    if (!csrf || !list || !status) return;
    let timer = 0;
    let inFlight = null;

    async function check() {
      if (inFlight) inFlight.abort();
      const controller = new AbortController();
      inFlight = controller;
      list.dataset.state = "checking";
      const body = new URLSearchParams({ csrf: csrf.value, kind: textarea.dataset.kind || "identity", document: textarea.value });
      try {
        const answer = await fetch(textarea.dataset.validate, {
          method: "POST", body, credentials: "same-origin", signal: controller.signal,
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
        });
        if (!answer.ok) throw new Error(`HTTP ${answer.status}`);
        const result = await answer.json();
        if (inFlight === controller) show(list, status, result.errors || []);
      } catch (error) {
        if (error.name === "AbortError") return;
        list.dataset.state = "unchecked";
        status.textContent = "The policy could not be checked now; it will be checked when you submit.";
      } finally {
        if (inFlight === controller) inFlight = null;
      }
    }

    textarea.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(check, DELAY_MS);
    });
    list.addEventListener("click", (event) => {
      const item = event.target.closest("li.policy-error");
      if (!item) return;
      const at = offsetOf(textarea.value, Number(item.dataset.line), Number(item.dataset.column));
      textarea.focus();
      textarea.setSelectionRange(at, at);
    });
    textarea.addEventListener("keydown", (event) => {
      // Tab indents by two spaces, unless Shift or a modifier is held (keeps keyboard navigation out).
      if (event.key !== "Tab" || event.shiftKey || event.ctrlKey || event.altKey || event.metaKey) return;
      event.preventDefault();
      textarea.setRangeText("  ", textarea.selectionStart, textarea.selectionEnd, "end");
      textarea.dispatchEvent(new Event("input"));
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    for (const textarea of document.querySelectorAll("textarea[data-validate]")) attach(textarea);
  });
})();
