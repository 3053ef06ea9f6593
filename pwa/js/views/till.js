/**
 * `#/till`: the cashier's screen.
 *
 * Opening a till session needs the till key (kept in localStorage, so a till device asks for
 * it once) and the cashier's e-mail and password (`POST /api/v1/till/sessions`). Then:
 *
 * - **Scan**: a card (`LW1:`/`LW2:`) or a coupon code, typed, from a keyboard-wedge scanner, or
 *   from the camera where the browser has the BarcodeDetector API. A card goes to
 *   `POST /api/v1/till/scan`, which names the member and gives a scan token for the rest of
 *   the visit (a live LW2 code is good for one use only); anything else is treated as a coupon.
 * - **Purchase**: `POST /api/v1/till/purchases` with the visit's scan token.
 * - **Coupon**: check (`/till/coupons/validate`, no change) and redeem (`/till/coupons/redeem`).
 * - **Refund**: `POST /api/v1/till/refunds` for a receipt of this store.
 *
 * Every write carries an Idempotency-Key made with `crypto.randomUUID()` when the cashier first
 * presses the button. If the answer is lost (network hiccup, 5xx, conflict) the inputs lock and
 * the button turns into "Retry", which sends the same key: the server answers the first
 * request again and nothing is booked twice. The key is dropped after a definite refusal and
 * when the cashier starts the next sale.
 *
 * A `step-up-required` refusal (a risk rule wants more proof) opens an approval panel: a manager
 * or admin signs in on the till and the same request goes again with `X-Manager-Approval`.
 */

import { api, newIdempotencyKey, signOut } from "../api.js";
import { clearSession, getSession, getTillKey, setSession, setTillKey } from "../session.js";
import {
  busy,
  describeBenefit,
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

/**
 * One till write and its Idempotency-Key, kept until the write is settled, with the manager's
 * approval once one was given for it.
 */
class TillWrite {
  constructor(path) {
    this.path = path;
    this.pending = null;
  }

  /** Send the body; a body equal to the pending one reuses its key (and its approval). */
  send(body) {
    const fingerprint = JSON.stringify(body);
    if (!this.pending || this.pending.fingerprint !== fingerprint) {
      this.pending = { fingerprint, key: newIdempotencyKey(), approval: null };
    }
    const headers = this.pending.approval ? { "X-Manager-Approval": this.pending.approval } : {};
    return api(this.path, { method: "POST", session: "till", body, idempotencyKey: this.pending.key, headers });
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
  const accepts = (error.problem && error.problem.accepts) || [];
  const form = h(
    "form",
    { class: "stack approval", "aria-label": "Manager approval", novalidate: true },
    h("p", {}, h("strong", {}, "Approval needed. "), error.detail),
    accepts.includes("rotating-code")
      ? h("p", { class: "hint" }, "Either scan the live code on the member's phone again, or a manager approves here.")
      : null,
    field("Manager e-mail", { name: "email", type: "email", autocomplete: "off", required: true }),
    field("Manager password", { name: "password", type: "password", autocomplete: "off", required: true }),
    message,
    h(
      "div",
      { class: "actions" },
      h("button", { type: "submit", class: "primary" }, "Approve"),
      h("button", { type: "button", class: "secondary", onclick: onCancel }, "Cancel"),
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
        replace(message, problemBox("Only a manager or an admin can approve."));
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
    { class: "stack", "aria-label": "Open till", novalidate: true },
    field("Till key", { name: "till_key", type: "password", autocomplete: "off", required: true, value: getTillKey(), spellcheck: false }),
    field("Cashier e-mail", { name: "email", type: "email", autocomplete: "username", required: true }),
    field("Password", { name: "password", type: "password", autocomplete: "current-password", required: true }),
    message,
    h("button", { type: "submit", class: "primary" }, "Open till"),
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
      { class: "view view-till" },
      h("div", { class: "card-surface" }, h("h2", {}, "Open the till"), h("p", { class: "hint" }, "The till key is remembered on this device."), form),
      h("p", { class: "switch-links" }, h("a", { href: "#/login" }, "Member sign-in"), " · ", h("a", { href: "#/staff" }, "Staff")),
    ),
  );
}

/** Render the till view. */
export function renderTill(outlet) {
  let stopCamera = () => {};
  const render = (notice) => {
    stopCamera();
    outlet.replaceChildren();
    const session = getSession("till");
    if (!session) openTillForm(outlet, render, notice);
    else stopCamera = tillScreen(outlet, session, render);
  };
  render();
  return () => stopCamera();
}

function tillScreen(outlet, session, render) {
  let visit = null;
  let cameraStream = null;
  let cameraTimer = null;
  const purchaseWrite = new TillWrite("/till/purchases");
  const redeemWrite = new TillWrite("/till/coupons/redeem");
  const refundWrite = new TillWrite("/till/refunds");

  // When the till session ends (refresh refused), go back to the sign-in form.
  const handleSessionEnd = (error) => {
    if (error && (error.type === "invalid-refresh-token" || error.type === "refresh-token-reused" || error.type === "till-blocked")) {
      clearSession("till");
      render(error.type === "till-blocked" ? error : "The till session has ended. Please open the till again.");
      return true;
    }
    return false;
  };

  // --- scan ---------------------------------------------------------------------------------
  const scanInput = h("input", {
    id: "scan-code",
    name: "code",
    autocomplete: "off",
    autocapitalize: "characters",
    spellcheck: false,
    required: true,
    placeholder: "Scan or type a code",
  });
  const scanResult = h("div", { id: "scan-result", "aria-live": "polite" });
  const video = h("video", { class: "camera", playsinline: true, muted: true, hidden: true, "aria-label": "Camera preview" });
  const cameraButton = h("button", { type: "button", class: "secondary", hidden: !("BarcodeDetector" in window) }, "Scan with camera");
  const scanForm = h(
    "form",
    { class: "stack", id: "scan-form", "aria-label": "Scan a card or coupon", novalidate: true },
    h("div", { class: "field" }, h("label", { for: "scan-code" }, "Card or coupon code"), scanInput),
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Look up"), cameraButton),
    video,
    scanResult,
  );

  // --- customer ------------------------------------------------------------------------------
  const customer = h("div", { id: "customer", class: "customer", "aria-live": "polite" });

  // --- purchase ------------------------------------------------------------------------------
  const currency = h("select", { id: "purchase-currency", name: "currency" }, CURRENCIES.map((c) => h("option", { value: c }, c)));
  currency.value = localStorage.getItem(CURRENCY_KEY) || "EUR";
  const receiptInput = h("input", { id: "purchase-receipt", name: "receipt_id", required: true, autocomplete: "off", maxlength: 64, value: newReceiptId() });
  const amountInput = h("input", { id: "purchase-amount", name: "amount", inputmode: "decimal", autocomplete: "off", required: true, placeholder: "0.00" });
  const bookButton = h("button", { type: "submit", class: "primary", id: "book-purchase" }, "Book purchase");
  const nextSale = h("button", { type: "button", class: "secondary", hidden: true, id: "new-sale" }, "New sale");
  const purchaseResult = h("div", { id: "purchase-result", "aria-live": "polite" });
  const purchaseForm = h(
    "form",
    { class: "stack", id: "purchase-form", "aria-label": "Book a purchase", novalidate: true },
    h("div", { class: "field" }, h("label", { for: "purchase-receipt" }, "Receipt number"), receiptInput),
    h(
      "div",
      { class: "row" },
      h("div", { class: "field grow" }, h("label", { for: "purchase-amount" }, "Amount"), amountInput),
      h("div", { class: "field" }, h("label", { for: "purchase-currency" }, "Currency"), currency),
    ),
    h("div", { class: "actions" }, bookButton, nextSale),
    purchaseResult,
  );

  // --- coupon --------------------------------------------------------------------------------
  const couponInput = h("input", { id: "coupon-code", name: "coupon", autocomplete: "off", autocapitalize: "characters", spellcheck: false, placeholder: "XXXX-XXXX-XXXX-C" });
  const basketInput = h("input", { id: "coupon-basket", name: "basket", inputmode: "decimal", autocomplete: "off", placeholder: "0.00" });
  const couponResult = h("div", { id: "coupon-result", "aria-live": "polite" });
  const checkButton = h("button", { type: "button", class: "secondary", id: "check-coupon" }, "Check");
  const redeemButton = h("button", { type: "button", class: "primary", id: "redeem-coupon" }, "Redeem");
  const couponForm = h(
    "form",
    { class: "stack", id: "coupon-form", "aria-label": "Coupon", novalidate: true },
    h(
      "div",
      { class: "row" },
      h("div", { class: "field grow" }, h("label", { for: "coupon-code" }, "Coupon code"), couponInput),
      h("div", { class: "field narrow" }, h("label", { for: "coupon-basket" }, "Basket"), basketInput),
    ),
    h("div", { class: "actions" }, checkButton, redeemButton),
    couponResult,
  );

  // --- refund --------------------------------------------------------------------------------
  const refundReceipt = h("input", { id: "refund-receipt", name: "receipt_id", autocomplete: "off", maxlength: 64 });
  const refundAmount = h("input", { id: "refund-amount", name: "amount", inputmode: "decimal", autocomplete: "off", placeholder: "0.00" });
  const refundResult = h("div", { id: "refund-result", "aria-live": "polite" });
  const refundButton = h("button", { type: "submit", class: "secondary" }, "Refund");
  const refundForm = h(
    "form",
    { class: "stack", id: "refund-form", "aria-label": "Refund", novalidate: true },
    h(
      "div",
      { class: "row" },
      h("div", { class: "field grow" }, h("label", { for: "refund-receipt" }, "Receipt to refund"), refundReceipt),
      h("div", { class: "field narrow" }, h("label", { for: "refund-amount" }, "Refunded"), refundAmount),
    ),
    h("div", { class: "actions" }, refundButton),
    refundResult,
  );

  const closeButton = h("button", { type: "button", class: "link" }, "Close till");
  outlet.append(
    h(
      "section",
      { class: "view view-till" },
      h(
        "div",
        { class: "till-head" },
        h("span", {}, `Till ${session.till_id} · store ${session.store_id}`, h("br"), h("small", {}, `${session.email || ""} (${session.role})`)),
        closeButton,
      ),
      h("div", { class: "card-surface" }, h("h2", {}, "Scan"), scanForm),
      customer,
      h("div", { class: "card-surface" }, h("h2", {}, "Purchase"), purchaseForm),
      h("div", { class: "card-surface" }, h("h2", {}, "Coupon"), couponForm),
      h("details", { class: "card-surface" }, h("summary", {}, "Refund a receipt"), refundForm),
    ),
  );

  // --- behaviour -----------------------------------------------------------------------------
  function showCustomer() {
    if (!visit) {
      replace(customer, h("p", { class: "hint" }, "No customer yet: scan their card to book points."));
      bookButton.disabled = true;
      return;
    }
    const member = visit.member;
    replace(
      customer,
      h(
        "div",
        { class: "card-surface customer-card" },
        h("p", { class: "customer-name", id: "customer-name" }, member.display_name),
        h("p", {}, `${formatPoints(member.points_balance)} points · ${humanise(member.tier)} tier`),
        h("p", { class: "hint" }, visit.credential === "rotating" ? "Live code checked." : "Printed-card code."),
        h("button", { type: "button", class: "secondary", onclick: nextCustomer }, "Next customer"),
      ),
    );
    bookButton.disabled = Boolean(purchaseWrite.pending && purchaseWrite.pending.done);
  }

  function nextCustomer() {
    visit = null;
    startNewSale();
    replace(scanResult);
    replace(couponResult);
    couponInput.value = "";
    basketInput.value = "";
    redeemWrite.reset();
    showCustomer();
    scanInput.focus();
  }

  function startNewSale() {
    purchaseWrite.reset();
    receiptInput.value = newReceiptId();
    amountInput.value = "";
    for (const control of [receiptInput, amountInput, currency]) control.disabled = false;
    bookButton.hidden = false;
    bookButton.textContent = "Book purchase";
    bookButton.disabled = !visit;
    nextSale.hidden = true;
    replace(purchaseResult);
  }

  async function scanCard(code) {
    replace(scanResult, loading("Checking the card…"));
    try {
      const scanned = await api("/till/scan", { method: "POST", session: "till", body: { code } });
      visit = scanned;
      replace(scanResult);
      scanInput.value = "";
      if (purchaseWrite.pending && purchaseWrite.pending.done) {
        startNewSale();
      } else {
        // A sale not booked yet (say, the live code was asked for): keep what was typed.
        purchaseWrite.reset();
        for (const control of [receiptInput, amountInput, currency]) control.disabled = false;
        bookButton.hidden = false;
        bookButton.textContent = "Book purchase";
        nextSale.hidden = true;
        replace(purchaseResult);
      }
      showCustomer();
      amountInput.focus();
    } catch (error) {
      if (!handleSessionEnd(error)) replace(scanResult, problemBox(error));
    }
  }

  async function lookUp(code) {
    if (!code) return;
    if (CARD_CODE.test(code)) {
      await scanCard(code.trim());
    } else {
      couponInput.value = code.trim();
      scanInput.value = "";
      replace(scanResult);
      await checkCoupon();
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
    cameraButton.textContent = "Scan with camera";
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
      cameraButton.textContent = "Stop camera";
      await video.play();
      const look = async () => {
        if (!cameraStream) return;
        try {
          const found = await detector.detect(video);
          if (found.length) {
            const text = found[0].rawValue;
            stopCameraStream();
            scanInput.value = text;
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
      const detail =
        error && error.name === "NotAllowedError"
          ? "Camera access was refused. Type the code instead, or allow the camera in the browser settings."
          : "The camera could not be started. Type the code instead.";
      replace(scanResult, problemBox(detail));
    }
  });

  async function bookPurchase() {
    if (!visit) return;
    const amountCents = parseAmountToCents(amountInput.value);
    if (amountCents === null || amountCents <= 0) {
      replace(purchaseResult, problemBox("Type the amount paid, e.g. 12.50."));
      return;
    }
    if (!receiptInput.value.trim()) {
      replace(purchaseResult, problemBox("Type the receipt number."));
      return;
    }
    const body = {
      code: visit.scan_token,
      receipt_id: receiptInput.value.trim(),
      amount_cents: amountCents,
      currency: currency.value,
    };
    for (const control of [receiptInput, amountInput, currency]) control.disabled = true;
    bookButton.disabled = true;
    replace(purchaseResult, loading("Booking…"));
    try {
      const booked = await purchaseWrite.send(body);
      purchaseWrite.pending.done = true;
      visit.member.points_balance = booked.points_balance;
      visit.member.tier = booked.tier;
      showCustomer();
      bookButton.hidden = true;
      nextSale.hidden = false;
      const stamps = (booked.stamps || []).map((card) => h("li", {}, `${card.name}: ${card.stamps}/${card.stamps_needed} stamps`));
      replace(
        purchaseResult,
        h(
          "div",
          { class: "success", role: "status", id: "purchase-booked" },
          h("p", {}, h("strong", {}, `+${formatPoints(booked.points_earned)} points`), ` for ${formatMoney(amountCents, body.currency)}.`),
          h("p", {}, `New balance ${formatPoints(booked.points_balance)} · ${humanise(booked.tier)} tier`),
          booked.promotion ? h("p", { class: "hint" }, `Promotion: ${booked.promotion}`) : null,
          stamps.length ? h("ul", { class: "hint" }, stamps) : null,
        ),
      );
    } catch (error) {
      if (handleSessionEnd(error)) return;
      if (error.retryable) {
        // The purchase may have been booked: keep the key and the inputs as they were.
        bookButton.disabled = false;
        bookButton.textContent = "Retry booking";
        replace(
          purchaseResult,
          problemBox(`${error.detail} The purchase may or may not have been booked. Press “Retry booking”: it is safe and never books twice.`),
        );
        return;
      }
      if (error.type === "step-up-required") {
        // Keep the key and the locked inputs: the same purchase goes again, approved.
        replace(
          purchaseResult,
          approvalPanel(error, {
            onApproved: (token) => {
              purchaseWrite.approve(token);
              bookPurchase();
            },
            onCancel: () => {
              purchaseWrite.reset();
              for (const control of [receiptInput, amountInput, currency]) control.disabled = false;
              bookButton.disabled = false;
              bookButton.textContent = "Book purchase";
              replace(purchaseResult);
            },
          }),
        );
        return;
      }
      purchaseWrite.reset();
      for (const control of [receiptInput, amountInput, currency]) control.disabled = false;
      bookButton.disabled = false;
      bookButton.textContent = "Book purchase";
      if (error.type === "currency-not-accepted" && error.problem.accepted_currency) {
        currency.value = error.problem.accepted_currency;
        localStorage.setItem(CURRENCY_KEY, currency.value);
      }
      if (error.type === "invalid-scan-token") {
        visit = null;
        showCustomer();
        replace(purchaseResult, problemBox("The card scan has expired. Scan the customer's card again."));
        return;
      }
      replace(purchaseResult, error.routeMissing ? notAvailableBox("Booking purchases") : problemBox(error));
    }
  }

  purchaseForm.addEventListener("submit", (event) => {
    event.preventDefault();
    bookPurchase();
  });
  nextSale.addEventListener("click", startNewSale);
  currency.addEventListener("change", () => localStorage.setItem(CURRENCY_KEY, currency.value));

  function couponBody() {
    const code = couponInput.value.trim();
    if (!code) {
      replace(couponResult, problemBox("Type or scan the coupon code."));
      return null;
    }
    const basketText = basketInput.value.trim() || amountInput.value.trim() || "0";
    const basketCents = parseAmountToCents(basketText);
    if (basketCents === null) {
      replace(couponResult, problemBox("Type the basket amount, e.g. 25.00."));
      return null;
    }
    const body = { code, basket_cents: basketCents };
    if (visit) body.card_code = visit.scan_token;
    return body;
  }

  function benefitLine(answer) {
    const parts = [describeBenefit(answer.benefit, answer.currency)];
    if (answer.discount_cents) parts.push(`discount ${formatMoney(answer.discount_cents, answer.currency || currency.value)}`);
    if (answer.free_sku) parts.push(`give item ${answer.free_sku}`);
    if (answer.bonus_points) parts.push(`${formatPoints(answer.bonus_points)} bonus points`);
    return parts.filter(Boolean).join(" · ");
  }

  async function checkCoupon() {
    const body = couponBody();
    if (!body) return;
    replace(couponResult, loading("Checking…"));
    try {
      const answer = await api("/till/coupons/validate", { method: "POST", session: "till", body });
      replace(
        couponResult,
        answer.valid
          ? h("div", { class: "success", role: "status" }, h("p", {}, h("strong", {}, "Valid: "), benefitLine(answer)))
          : problemBox(answer.refusal ? answer.refusal.detail || humanise(answer.refusal.type) : "This coupon cannot be used."),
      );
    } catch (error) {
      if (handleSessionEnd(error)) return;
      replace(couponResult, error.routeMissing ? notAvailableBox("Coupon checks") : problemBox(error));
    }
  }

  async function redeemCoupon() {
    const body = couponBody();
    if (!body) return;
    body.receipt_id = receiptInput.value.trim() || newReceiptId();
    redeemButton.disabled = true;
    replace(couponResult, loading("Redeeming…"));
    try {
      const answer = await redeemWrite.send(body);
      redeemWrite.reset();
      couponInput.value = "";
      replace(couponResult, h("div", { class: "success", role: "status", id: "coupon-redeemed" }, h("p", {}, h("strong", {}, "Redeemed: "), benefitLine(answer)), answer.flag ? h("p", { class: "hint" }, humanise(answer.flag)) : null));
    } catch (error) {
      if (handleSessionEnd(error)) return;
      if (error.retryable) {
        replace(couponResult, problemBox(`${error.detail} The coupon may or may not have been redeemed. Press Redeem again: it is safe.`));
      } else if (error.type === "step-up-required") {
        replace(
          couponResult,
          approvalPanel(error, {
            onApproved: (token) => {
              redeemWrite.approve(token);
              redeemCoupon();
            },
            onCancel: () => {
              redeemWrite.reset();
              replace(couponResult);
            },
          }),
        );
      } else {
        redeemWrite.reset();
        replace(couponResult, error.routeMissing ? notAvailableBox("Coupon redemption") : problemBox(error));
      }
    } finally {
      redeemButton.disabled = false;
    }
  }

  checkButton.addEventListener("click", checkCoupon);
  redeemButton.addEventListener("click", redeemCoupon);
  couponForm.addEventListener("submit", (event) => {
    event.preventDefault();
    checkCoupon();
  });

  refundForm.addEventListener("submit", (event) => {
    event.preventDefault();
    refund();
  });

  async function refund() {
    const amountCents = parseAmountToCents(refundAmount.value);
    if (!refundReceipt.value.trim() || amountCents === null || amountCents <= 0) {
      replace(refundResult, problemBox("Type the receipt number and the amount refunded."));
      return;
    }
    refundButton.disabled = true;
    replace(refundResult, loading("Refunding…"));
    try {
      const answer = await refundWrite.send({ receipt_id: refundReceipt.value.trim(), amount_cents: amountCents });
      refundWrite.reset();
      replace(refundResult, h("div", { class: "success", role: "status" }, h("p", {}, `−${formatPoints(answer.points_refunded)} points taken back; balance ${formatPoints(answer.points_balance)}.`)));
    } catch (error) {
      if (handleSessionEnd(error)) return;
      if (error.retryable) {
        replace(refundResult, problemBox(`${error.detail} The refund may or may not have been booked. Press Refund again: it is safe.`));
      } else if (error.type === "step-up-required") {
        replace(
          refundResult,
          approvalPanel(error, {
            onApproved: (token) => {
              refundWrite.approve(token);
              refund();
            },
            onCancel: () => {
              refundWrite.reset();
              replace(refundResult);
            },
          }),
        );
      } else {
        refundWrite.reset();
        replace(refundResult, error.routeMissing ? notAvailableBox("Refunds") : problemBox(error));
      }
    } finally {
      refundButton.disabled = false;
    }
  }

  closeButton.addEventListener("click", async () => {
    stopCameraStream();
    await signOut("till");
    render();
  });

  showCustomer();
  scanInput.focus();
  return stopCameraStream;
}
