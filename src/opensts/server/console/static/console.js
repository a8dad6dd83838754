// The console works without this script; it only adds small conveniences. No inline script
// anywhere: the pages' Content-Security-Policy allows scripts from /console/static only.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // Show times in the browser's own time zone, beside the UTC the server wrote.
  for (const el of document.querySelectorAll("time[datetime]")) {
    const when = new Date(el.getAttribute("datetime"));
    if (!isNaN(when)) el.title = when.toLocaleString();
  }
});
