/**
 * The app's entry point: registers the service worker, wires the views to the hash router and
 * keeps the frame (top bar, member navigation, offline banner) in step with the view.
 *
 * One installable app serves three kinds of people. Members land on their card (`#/card`) once
 * signed in, or on `#/login`; a till device goes to `#/till`; managers use `#/staff`. The
 * member's navigation shows only on member views.
 */

import { signOut } from "./api.js";
import { applyBranding, shopName } from "./branding.js";
import { refreshPushSubscription, turnOffPush } from "./push.js";
import { currentPath, navigate, route, startRouter } from "./router.js";
import { getSession } from "./session.js";
import { toast } from "./ui.js";

const MEMBER_PATHS = new Set(["/card", "/points", "/rewards", "/coupons"]);
const TITLES = {
  "/login": "Loyalty Wallet",
  "/card": "My card",
  "/points": "Points",
  "/rewards": "Rewards",
  "/coupons": "Coupons",
  "/till": "Till",
  "/staff": "Staff",
};

function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  // A new shell version took over: say so (the first install also takes over, silently).
  const hadController = Boolean(navigator.serviceWorker.controller);
  navigator.serviceWorker.addEventListener("controllerchange", () => {
    if (hadController) toast("Loyalty Wallet was updated. Reopen it to use the new version.");
  });
  navigator.serviceWorker.register("/sw.js", { scope: "/", type: "classic" }).catch((error) => {
    console.warn("service worker not registered", error);
  });
}

function showConnectivity() {
  document.getElementById("offline-banner").hidden = navigator.onLine;
  document.body.classList.toggle("is-offline", !navigator.onLine);
}

function updateFrame(path) {
  const member = MEMBER_PATHS.has(path);
  document.getElementById("member-nav").hidden = !member;
  document.body.dataset.view = path.slice(1);
  const title = TITLES[path] && TITLES[path] !== "Loyalty Wallet" ? TITLES[path] : shopName();
  document.getElementById("view-title").textContent = title;
  document.title = path === "/login" ? shopName() : `${title} · ${shopName()}`;
  for (const link of document.querySelectorAll("#member-nav a")) {
    if (link.getAttribute("href") === `#${path}`) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.getElementById("sign-out").hidden = !(member && getSession("member"));
}

function startPath() {
  return getSession("member") ? "/card" : "/login";
}

function main() {
  registerServiceWorker();
  applyBranding(() => {
    if (currentPath() === "/login") updateFrame("/login");
  });
  window.addEventListener("online", showConnectivity);
  window.addEventListener("offline", showConnectivity);
  showConnectivity();
  document.getElementById("sign-out").addEventListener("click", async () => {
    await turnOffPush(); // while the member's token still works
    await signOut("member");
    navigate("/login");
  });
  if (getSession("member")) refreshPushSubscription();
  window.addEventListener("lw:session-ended", (event) => {
    const path = currentPath();
    const kind = event.detail.kind;
    const affected = kind === "member" ? MEMBER_PATHS.has(path) : path === `/${kind}`;
    if (!affected) return;
    toast("Your session has ended. Please sign in again.");
    navigate(kind === "member" ? "/login" : path);
  });
  // Views load on first use, so a member's phone never fetches the till's code (the service
  // worker has them all cached for offline use anyway).
  route("/login", () => import("./views/login.js").then((m) => m.renderLogin));
  route("/card", () => import("./views/card.js").then((m) => m.renderCard));
  route("/points", () => import("./views/points.js").then((m) => m.renderPoints));
  route("/rewards", () => import("./views/rewards.js").then((m) => m.renderRewards));
  route("/coupons", () => import("./views/coupons.js").then((m) => m.renderCoupons));
  route("/till", () => import("./views/till.js").then((m) => m.renderTill));
  route("/staff", () => import("./views/staff.js").then((m) => m.renderStaff));
  startRouter(document.getElementById("view"), { defaultPath: startPath, changed: updateFrame });
}

main();
