// Refreshes #live from its data-refresh path every 3 s without reloading the page; a failed fetch keeps what is shown.
"use strict";
const live = document.getElementById("live");
if (live && live.dataset.refresh) {
  setInterval(async () => {
    try {
      const response = await fetch(live.dataset.refresh, {credentials: "same-origin", cache: "no-store"});
      if (response.ok) live.innerHTML = await response.text();
    } catch (e) {}
  }, 3000);
}
