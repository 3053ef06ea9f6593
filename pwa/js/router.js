/**
 * A hash router: `#/card`, `#/till`, `#/staff`, `#/login` and friends.
 *
 * The hash never reaches the server, so `/` is the only page the service worker has to keep
 * and every view works offline as far as its data allows. A route is registered with a loader
 * that resolves to the view (so views can be imported on first use); a view is a function
 * `render(outlet, params)` that may return a cleanup function (stop a timer, release the
 * camera), called before the next view renders.
 */

import { t } from "./i18n.js";

const routes = new Map();
let outlet = null;
let fallback = "/login";
let cleanup = null;
let onChange = () => {};

/** Register a view's loader (a function returning a promise of the view) for a path. */
export function route(path, loadView) {
  routes.set(path, loadView);
}

/** Return the current path ("/card" for "#/card?x=1"). */
export function currentPath() {
  return (location.hash.replace(/^#/, "").split("?")[0] || "").replace(/\/+$/, "") || "";
}

/** Go to a path; an equal hash re-renders the view. */
export function navigate(path) {
  if (`#${path}` === location.hash) render();
  else location.hash = path;
}

let renderCount = 0;

async function render() {
  const thisRender = ++renderCount;
  if (cleanup) {
    try {
      cleanup();
    } catch (error) {
      console.error(error);
    }
    cleanup = null;
  }
  const path = currentPath();
  const loadView = routes.get(path);
  if (!loadView) {
    navigate(typeof fallback === "function" ? fallback() : fallback);
    return;
  }
  onChange(path);
  let view;
  try {
    view = await loadView();
  } catch (error) {
    console.error(error);
    const message = document.createElement("p");
    message.className = "alert";
    message.setAttribute("role", "alert");
    message.textContent = t("frame.viewFailed");
    outlet.replaceChildren(message);
    return;
  }
  if (thisRender !== renderCount) return; // another navigation came first
  outlet.replaceChildren();
  outlet.focus({ preventScroll: true });
  window.scrollTo(0, 0);
  const result = await view(outlet, new URLSearchParams(location.hash.split("?")[1] || ""));
  if (typeof result === "function") {
    if (thisRender === renderCount) cleanup = result;
    else result();
  }
}

/** Start routing into an element; `defaultPath` may be a function of the app state. */
export function startRouter(element, { defaultPath, changed } = {}) {
  outlet = element;
  fallback = defaultPath || fallback;
  onChange = changed || onChange;
  window.addEventListener("hashchange", render);
  render();
}
