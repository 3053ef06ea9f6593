/**
 * `#/till`: the cashier's screen.
 *
 * Opening a till session needs the till key (kept in localStorage, so a till device asks for
 * it once) and the cashier's e-mail and password (`POST /api/v1/till/sessions`). The screen
 * then names its place ("Berlin Mitte · Till 1", from `GET /api/v1/till/context`) and is laid
 * out for a landscape tablet (scan and answer, customer and sale, coupons and receipts side by
 * side; one column on a phone).
 *
 * - **One scan field for everything**, built for a keyboard-wedge (USB) scanner: the focus goes
 *   back to it after every action, and a code is routed by its shape: `LW1:`/`LW2:` is a member
 *   card (`POST /till/scan`), `XXXX-XXXX-XXXX-C` a coupon (checked at once, Redeem one key
 *   away), a receipt of this till opens its receipt view. The answer shows right under the
 *   field. After a card scan the amount field has the focus; Enter books, and the next scan
 *   starts the next customer. A code scanned into the amount field is routed the same way.
 * - **Member lookup** for a member without their phone: name, e-mail, member number
 *   (`XXXX-XXXX-C`, dashes and case optional) or the phone in their profile
 *   (`GET /till/members?q=`); results and the customer panel show the member number, then a visit like a scan (`POST /till/members/{id}/visit`); by
 *   policy such a visit may earn but not redeem.
 * - **Purchase** with optional basket lines (SKU, category, amount), so category rules and
 *   stamp cards apply.
 * - **Coupon**: check and redeem; a redemption can be undone here within the shop's window.
 * - **Recent receipts** of this till (`GET /till/receipts`): a receipt view with its lines and
 *   a refund from there; the customer panel follows the refund's new balance.
 * - **Offline**: purchases are queued in IndexedDB under their Idempotency-Key
 *   (`js/till-queue.js`) and sent to `POST /till/sync` when the network is back; the count of
 *   waiting purchases is always shown, and refusals stay until the cashier has read them.
 *
 * Every write carries an Idempotency-Key made with `crypto.randomUUID()` when the cashier first
 * presses the button. If the answer is lost (5xx, conflict, a network hiccup) the inputs lock
 * and the button turns into "Retry booking", which sends the same key; if the till is offline
 * by then, the purchase goes into the queue under that same key. A `step-up-required` refusal
 * opens an approval panel: a manager signs in on the till and the same request goes again with
 * `X-Manager-Approval`. Every refusal is worded from the catalogue (`problem.<type>`).
 */

import { api, newIdempotencyKey, signOut } from "../api.js";
import { formatClock, t } from "../i18n.js";
import { clearSession, getSession, getTillKey, setSession, setTillKey } from "../session.js";
import { forget, markRefused, queuePurchase, queuedEvents } from "../till-queue.js";
import {
  busy,
  dayWord,
  describeBenefit,
  describeProblem,
  field,
  formatMoney,
  formatPoints,
  formValues,
  h,
  humanise,
  loading,
  notAvailableBox,
  parseAmountToCents,
  problemBox,
  replace,
} from "../ui.js";

const CURRENCIES = ["EUR", "CHF", "GBP", "USD", "SEK", "DKK", "PLN", "CZK"];
const CURRENCY_KEY = "lw.till-currency";
const CARD_CODE = /^\s*LW[12]:/i;
const STATIC_CARD_CODE = /^\s*LW1:/i;
const COUPON_CODE = /^\s*[0-9A-Za-z]{4}-?[0-9A-Za-z]{4}-?[0-9A-Za-z]{4}-?[0-9A-Za-z]\s*$/;
const RECEIPT_CODE = /^\s*R-[0-9A-Za-z-]{3,60}\s*$/i;
const SYNC_INTERVAL_MS = 30_000;
const RECENT_RECEIPTS = 10;

/**
 * One till write and its Idempotency-Key, kept until the write is settled, with the manager's
 * approval once one was given for it.
 */
class TillWrite {
  constructor(path) {
    this.path = path;
    this.pending = null;
  }

  /** The pending write's key for this body (a new one if the body changed). */
  keyFor(body) {
    const fingerprint = JSON.stringify(body);
    if (!this.pending || this.pending.fingerprint !== fingerprint) {
      this.pending = { fingerprint, key: newIdempotencyKey(), approval: null };
    }
    return this.pending.key;
  }

  /** Send the body; a body equal to the pending one reuses its key (and its approval). */
  send(body, path = this.path) {
    const key = this.keyFor(body);
    const headers = this.pending.approval ? { "X-Manager-Approval": this.pending.approval } : {};
    return api(path, { method: "POST", session: "till", body, idempotencyKey: key, headers });
  }

  /** Attach a manager's access token to the pending write. */
  approve(token) {
    if (this.pending) this.pending.approval = token;
  }

  reset() {
    this.pending = null;
  }
}

/**
 * Return the panel shown for `step-up-required` (428): the server wants the member's live code
 * or a manager's approval. A manager or admin signs in right here; their access token goes with
 * the retried request as `X-Manager-Approval` and is not kept anywhere else.
 */
function approvalPanel(error, { onApproved, onCancel }) {
  const message = h("div", { "aria-live": "polite" });
  const problem = error.problem || {};
  const accepts = problem.accepts || [];
  const reason = problem.rule === "live-code" || accepts.includes("rotating-code") ? "till.approval.reason.live-code" : "till.approval.reason.default";
  const form = h(
    "form",
    { class: "stack approval", "aria-label": t("till.approval.form"), novalidate: true },
    h("p", {}, h("strong", {}, t("till.approval.needed")), t(reason)),
    accepts.includes("rotating-code") ? h("p", { class: "hint" }, t("till.approval.scanInstead")) : null,
    field(t("till.approval.email"), { name: "email", type: "email", autocomplete: "off", required: true }),
    field(t("till.approval.password"), { name: "password", type: "password", autocomplete: "off", required: true }),
    message,
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit", class: "primary" }, t("till.approval.approve")),
      h("button", { type: "button", class: "secondary", onclick: onCancel }, t("till.approval.cancel")),
    ),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = formValues(form);
    const done = busy(form);
    replace(message);
    try {
      const pair = await api("/auth/login", {
        method: "POST",
        body: { email: values.email, password: values.password, account: "staff" },
      });
      if (pair.role !== "manager" && pair.role !== "admin") {
        replace(message, problemBox(t("till.approval.onlyManagers")));
        return;
      }
      onApproved(pair.access_token);
    } catch (failure) {
      replace(message, problemBox(failure));
    } finally {
      done();
    }
  });
  return h("div", { class: "notice" }, form);
}

function newReceiptId() {
  const now = new Date();
  const date = `${now.getFullYear() % 100}`.padStart(2, "0") + `${now.getMonth() + 1}`.padStart(2, "0") + `${now.getDate()}`.padStart(2, "0");
  const random = Array.from(crypto.getRandomValues(new Uint8Array(4)), (b) => b.toString(36).padStart(2, "0")).join("").toUpperCase().slice(0, 6);
  return `R-${date}-${random}`;
}

function openTillForm(outlet, render, notice) {
  const message = h("div", { class: "message", "aria-live": "polite" }, notice ? problemBox(notice) : null);
  const form = h(
    "form",
    { class: "stack", "aria-label": t("till.open.form"), novalidate: true },
    field(t("till.open.key"), { name: "till_key", type: "password", autocomplete: "off", required: true, value: getTillKey(), spellcheck: false }),
    field(t("till.open.email"), { name: "email", type: "email", autocomplete: "username", required: true }),
    field(t("till.open.password"), { name: "password", type: "password", autocomplete: "current-password", required: true }),
    message,
    h("button", { type: "submit", class: "primary" }, t("till.open.button")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = formValues(form);
    const done = busy(form);
    replace(message);
    try {
      const opened = await api("/till/sessions", { method: "POST", body: values });
      setTillKey(values.till_key);
      setSession("till", { ...opened, email: values.email });
      render();
    } catch (error) {
      replace(message, problemBox(error));
    } finally {
      done();
    }
  });
  outlet.append(
    h(
      "section",
      { class: "view view-till-open" },
      h("div", { class: "card-surface" }, h("h2", {}, t("till.open.title")), h("p", { class: "hint" }, t("till.open.hint")), form),
      h("p", { class: "switch-links" }, h("a", { href: "#/login" }, t("till.open.memberLink")), " · ", h("a", { href: "#/staff" }, t("till.open.staffLink"))),
    ),
  );
}

/** Render the till view. */
export function renderTill(outlet) {
  let stopScreen = () => {};
  const render = (notice) => {
    stopScreen();
    stopScreen = () => {};
    outlet.replaceChildren();
    const session = getSession("till");
    if (!session) openTillForm(outlet, render, notice);
    else stopScreen = tillScreen(outlet, session, render);
  };
  render();
  return () => stopScreen();
}

function tillScreen(outlet, session, render) {
  let visit = null;
  let context = { till: { name: `#${session.till_id}` }, store: { name: "" }, tiers: {}, lookup_earn_only: true, reversal_window_minutes: 30 };
  let receipts = [];
  let lines = [];
  let cameraStream = null;
  let cameraTimer = null;
  let syncTimer = null;
  let syncing = false;
  let stopped = false;
  const redemptions = []; // redeemed at this till in this session: {redemption_id, label, until}
  const purchaseWrite = new TillWrite("/till/purchases");
  const redeemWrite = new TillWrite("/till/coupons/redeem");
  const refundWrite = new TillWrite("/till/refunds");
  const reverseWrite = new TillWrite("");

  const tierName = (code) => context.tiers[code] || humanise(code);

  // When the till session ends (refresh refused), go back to the sign-in form.
  const handleSessionEnd = (error) => {
    if (error && (error.type === "invalid-refresh-token" || error.type === "refresh-token-reused" || error.type === "till-blocked")) {
      clearSession("till");
      render(error.type === "till-blocked" ? error : t("till.ended"));
      return true;
    }
    return false;
  };

  // --- head ---------------------------------------------------------------------------------
  const place = h("strong", { id: "till-place" });
  const queueBadge = h("span", { class: "queue-badge", id: "queue-count", role: "status", hidden: true });
  const closeButton = h("button", { type: "button", class: "link" }, t("till.close"));
  const head = h(
    "div",
    { class: "till-head" },
    h("span", {}, place, h("br"), h("small", {}, t("till.cashier", { email: session.email || "", role: t(`role.${session.role}`) }))),
    queueBadge,
    closeButton,
  );

  // --- scan and answer ----------------------------------------------------------------------
  const scanInput = h("input", {
    id: "scan-code",
    name: "code",
    autocomplete: "off",
    autocapitalize: "characters",
    spellcheck: false,
    required: true,
    placeholder: t("till.scan.placeholder"),
  });
  const answer = h("div", { id: "scan-result", class: "till-answer", "aria-live": "polite", "aria-label": t("till.answer"), role: "region" });
  const video = h("video", { class: "camera", playsinline: true, muted: true, hidden: true, "aria-label": t("till.scan.preview") });
  const cameraButton = h("button", { type: "button", class: "secondary", hidden: !("BarcodeDetector" in window) }, t("till.scan.camera"));
  const scanForm = h(
    "form",
    { class: "stack", id: "scan-form", "aria-label": t("till.scan.form"), novalidate: true },
    h("div", { class: "field" }, h("label", { for: "scan-code" }, t("till.scan.label")), scanInput),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, t("till.scan.button")), cameraButton),
    video,
  );

  // --- customer -----------------------------------------------------------------------------
  const customer = h("div", { id: "customer", class: "customer", "aria-live": "polite" });

  // --- purchase -----------------------------------------------------------------------------
  const currency = h("select", { id: "purchase-currency", name: "currency" }, CURRENCIES.map((c) => h("option", { value: c }, c)));
  currency.value = localStorage.getItem(CURRENCY_KEY) || "EUR";
  const receiptInput = h("input", { id: "purchase-receipt", name: "receipt_id", required: true, autocomplete: "off", maxlength: 64, value: newReceiptId() });
  const amountInput = h("input", { id: "purchase-amount", name: "amount", inputmode: "decimal", autocomplete: "off", required: true, placeholder: "0,00" });
  const bookButton = h("button", { type: "submit", class: "primary", id: "book-purchase" }, t("till.sale.book"));
  const nextSale = h("button", { type: "button", class: "secondary", hidden: true, id: "new-sale" }, t("till.sale.new"));
  const skuInput = h("input", { id: "line-sku", name: "sku", autocomplete: "off", maxlength: 64 });
  const categoryInput = h("input", { id: "line-category", name: "category", autocomplete: "off", maxlength: 64 });
  const lineAmountInput = h("input", { id: "line-amount", name: "line_amount", inputmode: "decimal", autocomplete: "off" });
  const addLineButton = h("button", { type: "button", class: "secondary", id: "add-line" }, t("till.sale.addLine"));
  const lineList = h("ul", { class: "basket-lines", id: "basket-lines" });
  const linesTotal = h("p", { class: "hint", id: "lines-total" });
  const saleLocked = [receiptInput, amountInput, currency, skuInput, categoryInput, lineAmountInput, addLineButton];
  const purchaseForm = h(
    "form",
    { class: "stack", id: "purchase-form", "aria-label": t("till.sale.form"), novalidate: true },
    h(
      "div",
      { class: "row" },
      h("div", { class: "field grow" }, h("label", { for: "purchase-amount" }, t("till.sale.amount")), amountInput),
      h("div", { class: "field" }, h("label", { for: "purchase-currency" }, t("till.sale.currency")), currency),
    ),
    h("div", { class: "field" }, h("label", { for: "purchase-receipt" }, t("till.sale.receipt")), receiptInput),
    h(
      "details",
      { class: "basket" },
      h("summary", {}, t("till.sale.lines")),
      h(
        "div",
        { class: "row" },
        h("div", { class: "field grow" }, h("label", { for: "line-sku" }, t("till.sale.sku")), skuInput),
        h("div", { class: "field grow" }, h("label", { for: "line-category" }, t("till.sale.category")), categoryInput),
        h("div", { class: "field narrow" }, h("label", { for: "line-amount" }, t("till.sale.lineAmount")), lineAmountInput),
      ),
      h("div", { class: "actions" }, addLineButton),
      lineList,
      linesTotal,
    ),
    h("div", { class: "actions" }, bookButton, nextSale),
  );

  // --- coupon -------------------------------------------------------------------------------
  const couponInput = h("input", { id: "coupon-code", name: "coupon", autocomplete: "off", autocapitalize: "characters", spellcheck: false, placeholder: "XXXX-XXXX-XXXX-C" });
  const basketInput = h("input", { id: "coupon-basket", name: "basket", inputmode: "decimal", autocomplete: "off", placeholder: "0,00" });
  const checkButton = h("button", { type: "button", class: "secondary", id: "check-coupon" }, t("till.coupon.check"));
  const redeemButton = h("button", { type: "button", class: "primary", id: "redeem-coupon" }, t("till.coupon.redeem"));
  const redeemedList = h("div", { id: "redeemed-here" });
  const couponForm = h(
    "form",
    { class: "stack", id: "coupon-form", "aria-label": t("till.coupon.form"), novalidate: true },
    h(
      "div",
      { class: "row" },
      h("div", { class: "field grow" }, h("label", { for: "coupon-code" }, t("till.coupon.code")), couponInput),
      h("div", { class: "field narrow" }, h("label", { for: "coupon-basket" }, t("till.coupon.basket")), basketInput),
    ),
    h("div", { class: "actions" }, checkButton, redeemButton),
    redeemedList,
  );

  // --- member search ------------------------------------------------------------------------
  const searchInput = h("input", { id: "member-search", name: "q", autocomplete: "off", maxlength: 100 });
  const searchResults = h("div", { id: "member-results", "aria-live": "polite" });
  const searchForm = h(
    "form",
    { class: "stack", id: "search-form", role: "search", "aria-label": t("till.search.form"), novalidate: true },
    h("div", { class: "field" }, h("label", { for: "member-search" }, t("till.search.label")), searchInput),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "secondary" }, t("till.search.button"))),
    searchResults,
  );

  // --- receipts, refund by number, offline queue ----------------------------------------------
  const receiptList = h("ul", { class: "receipts", id: "receipt-list", "aria-label": t("till.receipts.title") });
  const refundReceipt = h("input", { id: "refund-receipt", name: "receipt_id", autocomplete: "off", maxlength: 64 });
  const refundAmount = h("input", { id: "refund-amount", name: "amount", inputmode: "decimal", autocomplete: "off", placeholder: "0,00" });
  const refundButton = h("button", { type: "submit", class: "secondary" }, t("till.receipt.refund"));
  const refundForm = h(
    "form",
    { class: "stack", id: "refund-form", "aria-label": t("till.refund.form"), novalidate: true },
    h(
      "div",
      { class: "row" },
      h("div", { class: "field grow" }, h("label", { for: "refund-receipt" }, t("till.refund.receipt")), refundReceipt),
      h("div", { class: "field narrow" }, h("label", { for: "refund-amount" }, t("till.refund.amount")), refundAmount),
    ),
    h("div", { class: "actions" }, refundButton),
  );
  const queuePanel = h("div", { id: "offline-queue", "aria-live": "polite" });

  outlet.append(
    h(
      "section",
      { class: "view view-till" },
      head,
      // Three columns on a landscape tablet (customer / actions / results), one on a phone.
      h(
        "div",
        { class: "till-column" },
        h("div", { class: "card-surface till-scan" }, h("h2", {}, t("till.scan.title")), scanForm, answer),
        h("div", { class: "till-customer" }, customer),
        h("div", { class: "card-surface till-queue" }, h("h2", {}, t("till.queue.title")), queuePanel),
      ),
      h(
        "div",
        { class: "till-column" },
        h("div", { class: "card-surface till-sale" }, h("h2", {}, t("till.sale.title")), purchaseForm),
        h("div", { class: "card-surface till-coupon" }, h("h2", {}, t("till.coupon.title")), couponForm),
      ),
      h(
        "div",
        { class: "till-column" },
        h(
          "div",
          { class: "card-surface till-receipts" },
          h("h2", {}, t("till.receipts.title")),
          receiptList,
          h("details", {}, h("summary", {}, t("till.refund.title")), refundForm),
        ),
        h("div", { class: "card-surface till-search" }, h("h2", {}, t("till.search.title")), searchForm),
      ),
    ),
  );

  // --- behaviour: focus -----------------------------------------------------------------------
  function focusScan() {
    if (!stopped) scanInput.focus();
  }

  function show(...content) {
    replace(answer, ...content);
  }

  // --- customer -------------------------------------------------------------------------------
  function showCustomer() {
    if (!visit) {
      replace(customer, h("div", { class: "card-surface customer-card empty" }, h("h2", {}, t("till.customer.title")), h("p", { class: "hint" }, t("till.customer.none"))));
      return;
    }
    const member = visit.member;
    const note = { rotating: "till.customer.live", static: "till.customer.static", lookup: "till.customer.lookup" }[visit.credential];
    replace(
      customer,
      h(
        "div",
        { class: "card-surface customer-card" },
        h("h2", {}, t("till.customer.title")),
        visit.offline
          ? h("p", { class: "hint", id: "customer-offline" }, t("till.customer.offline"))
          : [
              h("p", { class: "customer-name", id: "customer-name" }, member.display_name),
              member.member_number ? h("p", { class: "member-number", id: "customer-number" }, t("till.customer.number", { number: member.member_number })) : null,
              h("p", { id: "customer-points" }, h("span", { class: "chip", id: "customer-tier" }, t("till.customer.tier", { tier: tierName(member.tier) })), " ", t("till.customer.points", { points: formatPoints(member.points_balance) })),
            ],
        note ? h("p", { class: "hint" }, t(note)) : null,
        visit.credential === "lookup" && context.lookup_earn_only ? h("p", { class: "hint" }, t("till.customer.earnOnly")) : null,
        h("button", { type: "button", class: "secondary", onclick: nextCustomer }, t("till.customer.next")),
      ),
    );
  }

  function nextCustomer() {
    visit = null;
    startNewSale();
    show();
    couponInput.value = "";
    basketInput.value = "";
    redeemWrite.reset();
    showCustomer();
    focusScan();
  }

  // --- basket lines ---------------------------------------------------------------------------
  function showLines() {
    replace(
      lineList,
      lines.map((line, index) =>
        h(
          "li",
          {},
          h("span", {}, t("till.receipt.line", { sku: line.sku, category: line.category || "—", amount: formatMoney(line.amount_cents, currency.value) })),
          h(
            "button",
            {
              type: "button",
              class: "link",
              disabled: Boolean(purchaseWrite.pending),
              "aria-label": t("till.sale.removeLine", { sku: line.sku }),
              onclick: () => {
                lines.splice(index, 1);
                showLines();
              },
            },
            "×",
          ),
        ),
      ),
    );
    const total = lines.reduce((sum, line) => sum + line.amount_cents, 0);
    linesTotal.textContent = lines.length ? t("till.sale.linesTotal", { amount: formatMoney(total, currency.value) }) : "";
    if (lines.length && !amountInput.value.trim()) amountInput.placeholder = formatMoney(total, currency.value);
  }

  function addLine() {
    const cents = parseAmountToCents(lineAmountInput.value);
    const sku = skuInput.value.trim();
    if (!sku || cents === null) {
      show(problemBox(t("till.sale.needLine")));
      return;
    }
    lines.push({ sku, category: categoryInput.value.trim() || null, amount_cents: cents });
    skuInput.value = "";
    lineAmountInput.value = "";
    showLines();
    skuInput.focus();
  }

  addLineButton.addEventListener("click", addLine);
  lineAmountInput.addEventListener("keydown", (event) => {
    if (event.key === "Enter") {
      event.preventDefault();
      addLine();
    }
  });

  // --- sale -----------------------------------------------------------------------------------
  function lockSale(locked) {
    for (const control of saleLocked) control.disabled = locked;
  }

  function startNewSale() {
    purchaseWrite.reset();
    receiptInput.value = newReceiptId();
    amountInput.value = "";
    amountInput.placeholder = "0,00";
    lines = [];
    showLines();
    lockSale(false);
    bookButton.hidden = false;
    bookButton.disabled = false;
    bookButton.textContent = t("till.sale.book");
    nextSale.hidden = true;
  }

  function saleBody() {
    const total = lines.reduce((sum, line) => sum + line.amount_cents, 0);
    const typed = amountInput.value.trim();
    const amountCents = typed ? parseAmountToCents(typed) : lines.length ? total : null;
    if (amountCents === null || amountCents <= 0) {
      show(problemBox(t("till.sale.needAmount")));
      return null;
    }
    if (!receiptInput.value.trim()) {
      show(problemBox(t("till.sale.needReceipt")));
      return null;
    }
    const body = { receipt_id: receiptInput.value.trim(), amount_cents: amountCents, currency: currency.value };
    if (lines.length) body.lines = lines.map((line) => ({ ...line }));
    return body;
  }

  function bookedBox(booked, body) {
    const stamps = (booked.stamps || []).map((card) => h("li", {}, t("till.sale.stamps", { name: card.name, stamps: card.stamps, needed: card.stamps_needed })));
    return h(
      "div",
      { class: "success", role: "status", id: "purchase-booked" },
      h("p", {}, h("strong", {}, t("till.sale.booked", { points: formatPoints(booked.points_earned) })), t("till.sale.bookedFor", { amount: formatMoney(body.amount_cents, body.currency), name: visit ? visit.member.display_name : "" })),
      h("p", {}, t("till.sale.balance", { points: formatPoints(booked.points_balance), tier: tierName(booked.tier) })),
      booked.promotion ? h("p", { class: "hint" }, t("till.sale.promotion", { name: booked.promotion })) : null,
      stamps.length ? h("ul", { class: "hint" }, stamps) : null,
    );
  }

  function settledSale() {
    bookButton.hidden = true;
    nextSale.hidden = false;
    focusScan();
  }

  async function queueSale(body, key) {
    const event = await queuePurchase(key, body, { member: visit && !visit.offline ? visit.member.display_name : "" });
    purchaseWrite.pending.done = true;
    settledSale();
    show(h("div", { class: "notice", role: "status", id: "purchase-queued" }, h("p", {}, t("till.sale.queued")), h("p", { class: "hint" }, t("till.queue.item", { receipt: event.payload.receipt_id, amount: formatMoney(event.payload.amount_cents, event.payload.currency) }))));
    await showQueue();
  }

  async function bookPurchase() {
    if (!visit) {
      show(problemBox(t("till.sale.needCustomer")));
      focusScan();
      return;
    }
    if (purchaseWrite.pending && purchaseWrite.pending.done) return;
    const sale = purchaseWrite.pending ? JSON.parse(purchaseWrite.pending.fingerprint) : { code: visit.offline ? visit.code : visit.scan_token, ...saleBody() };
    if (!sale.amount_cents) return;
    const body = sale;
    lockSale(true);
    bookButton.disabled = true;
    const key = purchaseWrite.keyFor(body);
    if (!navigator.onLine || visit.offline) {
      bookButton.disabled = false;
      await queueSale(body, key);
      return;
    }
    show(loading(t("till.sale.booking")));
    try {
      const booked = await purchaseWrite.send(body);
      purchaseWrite.pending.done = true;
      visit.member.points_balance = booked.points_balance;
      visit.member.tier = booked.tier;
      showCustomer();
      settledSale();
      show(bookedBox(booked, body));
      loadReceipts();
    } catch (error) {
      if (handleSessionEnd(error)) return;
      bookButton.disabled = false;
      if (error.retryable) {
        if (!navigator.onLine) {
          await queueSale(body, key); // the same key: the server answers it once, whichever way
          return;
        }
        // The purchase may have been booked: keep the key and the inputs as they were.
        bookButton.textContent = t("till.sale.retry");
        show(h("div", { id: "purchase-result" }, problemBox(`${describeProblem(error)} ${t("till.sale.lost")}`)));
        bookButton.focus();
        return;
      }
      if (error.type === "step-up-required") {
        // Keep the key and the locked inputs: the same purchase goes again, approved.
        show(
          approvalPanel(error, {
            onApproved: (token) => {
              purchaseWrite.approve(token);
              bookPurchase();
            },
            onCancel: () => {
              purchaseWrite.reset();
              lockSale(false);
              bookButton.textContent = t("till.sale.book");
              show();
              focusScan();
            },
          }),
        );
        return;
      }
      purchaseWrite.reset();
      lockSale(false);
      bookButton.textContent = t("till.sale.book");
      if (error.type === "currency-not-accepted" && error.problem.accepted_currency) {
        currency.value = error.problem.accepted_currency;
        localStorage.setItem(CURRENCY_KEY, currency.value);
      }
      if (error.type === "invalid-scan-token") {
        visit = null;
        showCustomer();
      }
      show(h("div", { id: "purchase-result" }, error.routeMissing ? notAvailableBox(t("till.notAvailable.purchases")) : problemBox(error, { currency: body.currency })));
      focusScan();
    }
  }

  purchaseForm.addEventListener("submit", (event) => {
    event.preventDefault();
    bookPurchase();
  });
  // A scanner aimed while the amount field has the focus: the code is routed like a scan.
  amountInput.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && /[A-Za-z]{2}/.test(amountInput.value) && parseAmountToCents(amountInput.value) === null) {
      event.preventDefault();
      const code = amountInput.value;
      amountInput.value = "";
      lookUp(code);
    }
  });
  nextSale.addEventListener("click", () => {
    startNewSale();
    show();
    focusScan();
  });
  currency.addEventListener("change", () => {
    localStorage.setItem(CURRENCY_KEY, currency.value);
    showLines();
  });

  // --- scanning -------------------------------------------------------------------------------
  function startVisit(scanned, code) {
    visit = scanned;
    if (STATIC_CARD_CODE.test(code || "")) visit.code = code.trim();
    startNewSale();
    show();
    showCustomer();
    amountInput.focus();
  }

  async function scanCard(code) {
    if (!navigator.onLine) {
      if (!STATIC_CARD_CODE.test(code)) {
        show(problemBox(t("till.scan.liveOffline")));
        focusScan();
        return;
      }
      startVisit({ offline: true, code: code.trim(), credential: "static", member: { display_name: "", points_balance: 0, tier: "" } }, code);
      return;
    }
    show(loading(t("till.scan.checkingCard")));
    try {
      const scanned = await api("/till/scan", { method: "POST", session: "till", body: { code } });
      startVisit(scanned, code);
    } catch (error) {
      if (handleSessionEnd(error)) return;
      show(problemBox(error));
      focusScan();
    }
  }

  async function lookUp(text) {
    const code = String(text || "").trim();
    scanInput.value = "";
    if (!code) return;
    if (CARD_CODE.test(code)) {
      await scanCard(code);
    } else if (receipts.some((receipt) => receipt.receipt_id.toUpperCase() === code.toUpperCase()) || RECEIPT_CODE.test(code)) {
      await openReceipt(code);
    } else if (COUPON_CODE.test(code)) {
      couponInput.value = code.toUpperCase();
      await checkCoupon({ fromScan: true });
    } else {
      show(problemBox(t("till.scan.unknownShape")));
      focusScan();
    }
  }

  scanForm.addEventListener("submit", (event) => {
    event.preventDefault();
    lookUp(scanInput.value);
  });

  function stopCameraStream() {
    clearTimeout(cameraTimer);
    cameraTimer = null;
    if (cameraStream) cameraStream.getTracks().forEach((track) => track.stop());
    cameraStream = null;
    video.hidden = true;
    cameraButton.textContent = t("till.scan.camera");
  }

  cameraButton.addEventListener("click", async () => {
    if (cameraStream) {
      stopCameraStream();
      return;
    }
    try {
      const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      cameraStream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
      video.srcObject = cameraStream;
      video.hidden = false;
      cameraButton.textContent = t("till.scan.stopCamera");
      await video.play();
      const look = async () => {
        if (!cameraStream) return;
        try {
          const found = await detector.detect(video);
          if (found.length) {
            const text = found[0].rawValue;
            stopCameraStream();
            await lookUp(text);
            return;
          }
        } catch {
          // a frame that could not be read; try the next one
        }
        cameraTimer = setTimeout(look, 150);
      };
      look();
    } catch (error) {
      stopCameraStream();
      show(problemBox(t(error && error.name === "NotAllowedError" ? "till.scan.cameraRefused" : "till.scan.cameraFailed")));
    }
  });

  // --- member lookup --------------------------------------------------------------------------
  searchForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const query = searchInput.value.trim();
    replace(searchResults, loading(t("till.search.searching")));
    try {
      const found = await api(`/till/members?q=${encodeURIComponent(query)}`, { session: "till" });
      if (!found.length) {
        replace(searchResults, h("p", { class: "hint" }, t("till.search.none")));
        return;
      }
      replace(
        searchResults,
        context.lookup_earn_only ? h("p", { class: "hint" }, t("till.search.earnOnly")) : null,
        h(
          "ul",
          { class: "found-members" },
          found.map((member) =>
            h(
              "li",
              {},
              h(
                "button",
                { type: "button", class: "secondary member-choice", "aria-label": t("till.search.choose", { name: member.display_name }), onclick: () => chooseMember(member) },
                h("strong", {}, member.display_name),
                h("span", { class: "member-number" }, ` ${t("till.search.memberNumber", { number: member.member_number })}`),
                h("span", { class: "hint" }, ` · ${member.email_hint} · ${member.tier_name} · ${t("till.customer.points", { points: formatPoints(member.points_balance) })}`),
              ),
            ),
          ),
        ),
      );
      searchResults.querySelector("button").focus();
    } catch (error) {
      if (!handleSessionEnd(error)) replace(searchResults, problemBox(error));
    }
  });

  async function chooseMember(member) {
    show(loading());
    try {
      const opened = await api(`/till/members/${member.member_id}/visit`, { method: "POST", session: "till" });
      replace(searchResults);
      searchInput.value = "";
      startVisit(opened, null);
    } catch (error) {
      if (!handleSessionEnd(error)) show(problemBox(error));
    }
  }

  // --- coupons --------------------------------------------------------------------------------
  function couponBody() {
    const code = couponInput.value.trim();
    if (!code) {
      show(problemBox(t("till.coupon.needCode")));
      return null;
    }
    const basketText = basketInput.value.trim() || amountInput.value.trim() || "0";
    const basketCents = parseAmountToCents(basketText);
    if (basketCents === null) {
      show(problemBox(t("till.coupon.needBasket")));
      return null;
    }
    const body = { code, basket_cents: basketCents };
    if (visit && !visit.offline) body.card_code = visit.scan_token;
    if (lines.length) body.lines = lines.map((line) => ({ ...line }));
    return body;
  }

  function benefitLine(result) {
    const money = result.currency || currency.value;
    const parts = [describeBenefit(result.benefit, money)];
    if (result.discount_cents) parts.push(t("till.coupon.discount", { amount: formatMoney(result.discount_cents, money) }));
    if (result.free_sku) parts.push(t("till.coupon.give", { sku: result.free_sku }));
    if (result.bonus_points) parts.push(t("till.coupon.bonus", { points: formatPoints(result.bonus_points) }));
    return parts.filter(Boolean).join(" · ");
  }

  async function checkCoupon({ fromScan = false } = {}) {
    const body = couponBody();
    if (!body) return;
    show(loading(t("till.coupon.checking")));
    try {
      const result = await api("/till/coupons/validate", { method: "POST", session: "till", body });
      if (result.valid) {
        const redeemNow = h("button", { type: "button", class: "primary", id: "answer-redeem", onclick: redeemCoupon }, t("till.coupon.redeem"));
        show(h("div", { class: "success", role: "status", id: "coupon-valid" }, h("p", {}, h("strong", {}, t("till.coupon.valid")), benefitLine(result)), h("div", { class: "actions" }, redeemNow)));
        if (fromScan) redeemNow.focus(); // Enter redeems; the next scan goes back to the field
      } else {
        const refusal = result.refusal || {};
        show(problemBox(refusal.type ? { type: refusal.type, problem: refusal, detail: refusal.detail } : t("till.coupon.cannot"), { currency: currency.value }));
        focusScan();
      }
    } catch (error) {
      if (handleSessionEnd(error)) return;
      show(error.routeMissing ? notAvailableBox(t("till.notAvailable.coupons")) : problemBox(error));
      focusScan();
    }
  }

  function showRedeemed() {
    const now = Date.now();
    const open = redemptions.filter((entry) => entry.until > now && !entry.undone);
    replace(
      redeemedList,
      open.length
        ? [
            h("h3", {}, t("till.coupon.recent")),
            h(
              "ul",
              { class: "redeemed" },
              open.map((entry) => h("li", {}, h("span", {}, entry.label), " ", h("button", { type: "button", class: "link", onclick: () => undoRedemption(entry) }, t("till.coupon.undo")))),
            ),
          ]
        : null,
    );
  }

  async function redeemCoupon() {
    const body = couponBody();
    if (!body) return;
    body.receipt_id = receiptInput.value.trim() || newReceiptId();
    redeemButton.disabled = true;
    show(loading(t("till.coupon.redeeming")));
    try {
      const result = await redeemWrite.send(body);
      redeemWrite.reset();
      couponInput.value = "";
      const entry = {
        redemption_id: result.redemption_id,
        label: `${body.code} · ${benefitLine(result)}`,
        until: Date.now() + context.reversal_window_minutes * 60_000,
      };
      redemptions.unshift(entry);
      showRedeemed();
      const flag = result.flag ? t(`till.coupon.flag.${result.flag}`) : null;
      show(
        h(
          "div",
          { class: "success", role: "status", id: "coupon-redeemed" },
          h("p", {}, h("strong", {}, t("till.coupon.redeemed")), benefitLine(result)),
          flag && !flag.startsWith("till.") ? h("p", { class: "hint" }, flag) : null,
          h("p", { class: "hint" }, t("till.coupon.undoUntil", { time: formatClock(new Date(entry.until)) })),
          h("div", { class: "actions" }, h("button", { type: "button", class: "secondary", id: "undo-redemption", onclick: () => undoRedemption(entry) }, t("till.coupon.undo"))),
        ),
      );
      focusScan();
    } catch (error) {
      if (handleSessionEnd(error)) return;
      if (error.retryable) {
        show(problemBox(`${describeProblem(error)} ${t("till.coupon.lost")}`));
      } else if (error.type === "step-up-required") {
        show(
          approvalPanel(error, {
            onApproved: (token) => {
              redeemWrite.approve(token);
              redeemCoupon();
            },
            onCancel: () => {
              redeemWrite.reset();
              show();
              focusScan();
            },
          }),
        );
      } else {
        redeemWrite.reset();
        show(h("div", { id: "coupon-result" }, error.routeMissing ? notAvailableBox(t("till.notAvailable.coupons")) : problemBox(error, { currency: currency.value })));
        focusScan();
      }
    } finally {
      redeemButton.disabled = false;
    }
  }

  async function undoRedemption(entry) {
    show(loading(t("till.coupon.undoing")));
    try {
      await reverseWrite.send({}, `/till/redemptions/${entry.redemption_id}/reverse`);
      reverseWrite.reset();
      entry.undone = true;
      showRedeemed();
      show(h("div", { class: "success", role: "status", id: "redemption-undone" }, h("p", {}, t("till.coupon.undone"))));
    } catch (error) {
      if (handleSessionEnd(error)) return;
      if (!error.retryable) reverseWrite.reset();
      if (error.type === "redemption-already-reversed" || error.type === "reversal-window-closed") {
        entry.undone = true;
        showRedeemed();
      }
      show(problemBox(error));
    }
    focusScan();
  }

  checkButton.addEventListener("click", () => checkCoupon());
  redeemButton.addEventListener("click", redeemCoupon);
  couponForm.addEventListener("submit", (event) => {
    event.preventDefault();
    checkCoupon();
  });

  // --- receipts and refunds -------------------------------------------------------------------
  function receiptLabel(receipt) {
    const parts = [formatMoney(receipt.amount_cents, receipt.currency), receipt.member_name, formatClock(receipt.created_at)];
    if (receipt.refunded_cents) parts.push(t("till.receipts.refunded", { amount: formatMoney(receipt.refunded_cents, receipt.currency) }));
    return parts.join(" · ");
  }

  function showReceipts() {
    replace(
      receiptList,
      receipts.length
        ? receipts.map((receipt) =>
            h(
              "li",
              {},
              h(
                "button",
                {
                  type: "button",
                  class: "receipt-row",
                  dataset: { receipt: receipt.receipt_id },
                  "aria-label": t("till.receipts.open", { receipt: receipt.receipt_id, name: receipt.member_name, amount: formatMoney(receipt.amount_cents, receipt.currency) }),
                  onclick: () => openReceipt(receipt.receipt_id),
                },
                h("strong", {}, receipt.receipt_id),
                h("span", { class: "hint" }, receiptLabel(receipt)),
              ),
            ),
          )
        : h("li", { class: "hint" }, t("till.receipts.none")),
    );
  }

  async function loadReceipts() {
    if (!navigator.onLine) return;
    try {
      receipts = await api(`/till/receipts?limit=${RECENT_RECEIPTS}`, { session: "till" });
      if (!stopped) showReceipts();
    } catch (error) {
      if (!handleSessionEnd(error) && !error.routeMissing && error.type !== "offline") replace(receiptList, h("li", {}, problemBox(error)));
    }
  }

  async function openReceipt(receiptId) {
    await loadReceipts();
    const receipt = receipts.find((r) => r.receipt_id.toUpperCase() === receiptId.toUpperCase());
    if (!receipt) {
      show(problemBox(t("till.receipt.unknown", { receipt: receiptId })));
      focusScan();
      return;
    }
    const money = (cents) => formatMoney(cents, receipt.currency);
    const amount = h("input", { id: "receipt-refund-amount", inputmode: "decimal", autocomplete: "off", value: (receipt.remaining_cents / 100).toFixed(2) });
    const refundNow = h("button", { type: "submit", class: "primary", id: "receipt-refund" }, t("till.receipt.refund"));
    const form = h(
      "form",
      { class: "stack", "aria-label": t("till.refund.form"), novalidate: true },
      h("div", { class: "field" }, h("label", { for: "receipt-refund-amount" }, t("till.receipt.refundAmount")), amount),
      h("div", { class: "actions" }, refundNow, h("button", { type: "button", class: "secondary", onclick: () => (show(), focusScan()) }, t("till.receipt.close"))),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      refund(receipt.receipt_id, parseAmountToCents(amount.value), receipt);
    });
    show(
      h(
        "div",
        { class: "receipt-view", id: "receipt-view" },
        h("h3", {}, t("till.receipt.title", { receipt: receipt.receipt_id })),
        h("p", {}, t("till.receipt.member", { name: receipt.member_name })),
        h("p", { class: "hint" }, t("till.receipt.when", { day: dayWord(receipt.created_at), time: formatClock(receipt.created_at) })),
        h("p", {}, t("till.receipt.amount", { amount: money(receipt.amount_cents), points: formatPoints(receipt.points_earned) })),
        receipt.lines.length ? h("ul", { class: "basket-lines" }, receipt.lines.map((line) => h("li", {}, t("till.receipt.line", { sku: line.sku, category: line.category || "—", amount: money(line.amount_cents) })))) : null,
        receipt.refunded_cents ? h("p", { class: "hint" }, t("till.receipt.refundedSoFar", { amount: money(receipt.refunded_cents) })) : null,
        receipt.remaining_cents > 0 ? form : h("p", { class: "hint" }, t("till.receipt.fullyRefunded")),
      ),
    );
    if (receipt.remaining_cents > 0) amount.focus();
  }

  async function refund(receiptId, amountCents, receipt = null) {
    if (!receiptId || amountCents === null || amountCents <= 0) {
      show(problemBox(t("till.refund.need")));
      return;
    }
    const money = receipt ? receipt.currency : currency.value;
    refundButton.disabled = true;
    show(loading(t("till.receipt.refunding")));
    try {
      const result = await refundWrite.send({ receipt_id: receiptId, amount_cents: amountCents });
      refundWrite.reset();
      // The customer at the till is the receipt's member: their panel follows the refund.
      if (visit && !visit.offline && receipt && receipt.card_id && receipt.card_id === visit.card_id) {
        visit.member.points_balance = result.points_balance;
        visit.member.tier = result.tier;
        showCustomer();
      }
      show(h("div", { class: "success", role: "status", id: "refund-done" }, h("p", {}, t("till.receipt.refundDone", { amount: formatMoney(amountCents, money), points: formatPoints(result.points_refunded), balance: formatPoints(result.points_balance) }))));
      refundReceipt.value = "";
      refundAmount.value = "";
      await loadReceipts();
      focusScan();
    } catch (error) {
      if (handleSessionEnd(error)) return;
      if (error.retryable) {
        show(problemBox(`${describeProblem(error)} ${t("till.receipt.refundLost")}`));
      } else if (error.type === "step-up-required") {
        show(
          approvalPanel(error, {
            onApproved: (token) => {
              refundWrite.approve(token);
              refund(receiptId, amountCents, receipt);
            },
            onCancel: () => {
              refundWrite.reset();
              show();
              focusScan();
            },
          }),
        );
      } else {
        refundWrite.reset();
        show(error.routeMissing ? notAvailableBox(t("till.notAvailable.refunds")) : problemBox(error, { currency: money }));
      }
    } finally {
      refundButton.disabled = false;
    }
  }

  refundForm.addEventListener("submit", (event) => {
    event.preventDefault();
    refund(refundReceipt.value.trim(), parseAmountToCents(refundAmount.value));
  });

  // --- offline queue --------------------------------------------------------------------------
  async function showQueue(note = null) {
    let events = [];
    try {
      events = await queuedEvents();
    } catch {
      events = []; // no IndexedDB (private mode in some browsers): nothing can be waiting
    }
    if (stopped) return;
    const waiting = events.filter((event) => event.status === "queued");
    const refused = events.filter((event) => event.status === "conflict");
    queueBadge.hidden = !waiting.length;
    queueBadge.textContent = t("till.queue.count", { count: waiting.length });
    replace(
      queuePanel,
      navigator.onLine ? null : h("p", { class: "notice" }, t("till.queue.offline")),
      note,
      h("p", { id: "queue-waiting" }, waiting.length ? t("till.queue.count", { count: waiting.length }) : t("till.queue.none")),
      waiting.length
        ? h("ul", { class: "queued" }, waiting.map((event) => h("li", {}, t("till.queue.item", { receipt: event.payload.receipt_id, amount: formatMoney(event.payload.amount_cents, event.payload.currency) }))))
        : null,
      refused.length
        ? h(
            "ul",
            { class: "conflicts", id: "queue-conflicts" },
            refused.map((event) =>
              h(
                "li",
                { class: "alert", role: "alert" },
                h("p", {}, t("till.queue.item", { receipt: event.payload.receipt_id, amount: formatMoney(event.payload.amount_cents, event.payload.currency) })),
                h("p", {}, t("till.queue.conflict", { reason: describeProblem({ type: event.problem.type, problem: event.problem, detail: event.problem.detail }, { currency: event.payload.currency }) })),
                h("button", { type: "button", class: "secondary", onclick: async () => (await forget(event.event_id), showQueue()) }, t("till.queue.dismiss")),
              ),
            ),
          )
        : null,
    );
  }

  async function syncQueue() {
    if (syncing || !navigator.onLine || stopped) return;
    let waiting = [];
    try {
      waiting = (await queuedEvents()).filter((event) => event.status === "queued");
    } catch {
      return;
    }
    if (!waiting.length) return;
    syncing = true;
    replace(queuePanel, loading(t("till.queue.syncing")));
    let booked = 0;
    try {
      const events = waiting.map(({ event_id, type, sequence, local_time, payload }) => ({ event_id, type, sequence, local_time, payload }));
      const answer = await api("/till/sync", { method: "POST", session: "till", body: { events } });
      for (const result of answer.results) {
        const event = waiting.find((candidate) => candidate.event_id === result.event_id);
        if (!event) continue;
        if (result.status === "accepted") {
          booked += 1;
          await forget(event.event_id);
        } else if (result.status === "conflict" || (result.status === "rejected" && result.result.type !== "conflict")) {
          await markRefused(event, result.result);
        } // a "conflict" of two concurrent syncs is sent again next time
      }
      await showQueue(booked ? h("p", { class: "success", role: "status", id: "queue-synced" }, t("till.queue.synced", { count: booked })) : null);
      loadReceipts();
    } catch (error) {
      if (!handleSessionEnd(error)) await showQueue(error.type === "offline" ? null : problemBox(error));
    } finally {
      syncing = false;
    }
  }

  const wentOnline = () => {
    showQueue();
    syncQueue();
    loadReceipts();
  };
  const wentOffline = () => showQueue();
  window.addEventListener("online", wentOnline);
  window.addEventListener("offline", wentOffline);
  syncTimer = setInterval(syncQueue, SYNC_INTERVAL_MS);

  closeButton.addEventListener("click", async () => {
    stopCameraStream();
    await signOut("till");
    render();
  });

  // --- start ------------------------------------------------------------------------------------
  async function loadContext() {
    try {
      context = { ...context, ...(await api("/till/context", { session: "till" })) };
      if (stopped) return;
      place.textContent = t("till.place", { store: context.store.name, till: context.till.name });
      showCustomer();
    } catch (error) {
      if (handleSessionEnd(error)) return;
      place.textContent = t("till.place", { store: `#${session.store_id}`, till: `#${session.till_id}` });
    }
  }

  showCustomer();
  showLines();
  showRedeemed();
  focusScan();
  loadContext();
  loadReceipts();
  showQueue().then(syncQueue);
  return () => {
    stopped = true;
    stopCameraStream();
    clearInterval(syncTimer);
    window.removeEventListener("online", wentOnline);
    window.removeEventListener("offline", wentOffline);
  };
}
